"""Sharded search logic without a cluster: the shard actors run in this process behind a fake of Ray's call
interface (named as such below), over a real segmented index with tombstones. Whatever the number of shards, the
merged search returns exactly the single-node rows and scores, in every mode and with a district filter.
The real cluster is exercised in tests/test_ray_cluster.py."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from indexer.build import build_index
from indexer.districts import Gazetteer
from indexer.reader import IndexView
from policyqa_ray.group import ShardGroup
from policyqa_ray.searcher import ShardedRetriever
from policyqa_ray.shard import ShardActor, assign
from server.retrieval import MODES, Retriever
from server.time_filter import DateRange
from tests.fakes import FakeEmbedder
from tests.samples import CHENGKOU, SEED_CORPUS, SHIZHU
from tests.test_segments import settings_for, tokenizer  # noqa: F401  (fixture)

QUERIES = [
    "潼南的柠檬产业一年产值多少？",
    "可膨胀微球",
    "城口老腊肉年产量",
    "石柱黄连种植面积",
    "重庆 区县 发展 产业",
    "2020年潼南柠檬产值",  # a year in the question: time ranking reads the rows' dates from the shards
    "最新的江津花椒政策",  # recency
]
# Date filters are applied on the shards; reprint groups and their other copies are looked up across shards.
RANGES = [
    DateRange(dt.date(2020, 1, 1), dt.date(2020, 12, 31)),
    DateRange(None, dt.date(2021, 6, 30), include_undated=True),
    DateRange(dt.date(2019, 1, 1), None),
]


class _FakeRemoteMethod:
    def __init__(self, method: Any) -> None:
        self.method = method

    def remote(self, *args: Any) -> Any:
        return self.method(*args)


class FakeActorHandle:
    """Fake of a Ray actor handle: `handle.method.remote(...)` runs the method at once, in this process."""

    def __init__(self, actor: ShardActor) -> None:
        self.actor = actor

    def __getattr__(self, name: str) -> _FakeRemoteMethod:
        return _FakeRemoteMethod(getattr(self.actor, name))


class _Never(Exception):
    pass


FAKE_RAY = SimpleNamespace(
    get=lambda refs, timeout=None: refs, exceptions=SimpleNamespace(RayTaskError=_Never, RayError=_Never)
)


@pytest.fixture(scope="module")
def segmented(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four runs: the seed corpus, an add, an edit with an add (a segment each; the edit leaves tombstones),
    and a removal (tombstones only)."""
    root = tmp_path_factory.mktemp("segmented")
    corpus = root / "corpus"
    shutil.copytree(SEED_CORPUS, corpus)
    settings = settings_for(root / "index", max_segments=100, max_deleted_fraction=1.0)
    build_index([corpus], settings, FakeEmbedder)
    (corpus / "chengkou.md").write_text(CHENGKOU, "utf-8")
    build_index([corpus], settings, FakeEmbedder)
    (corpus / "shizhu.md").write_text(SHIZHU, "utf-8")
    edited = corpus / "000_15adcedcf932199a.txt"
    edited.write_text(edited.read_text("utf-8") + "\n\n潼南柠檬节将于明年举办，柠檬产值有望再创新高。\n", "utf-8")
    build_index([corpus], settings, FakeEmbedder)
    (corpus / "002_39a0fae4dbddedf2.txt").unlink()
    build_index([corpus], settings, FakeEmbedder)
    return root / "index"


@pytest.mark.parametrize("shards", [1, 2, 3])
def test_any_number_of_shards_ranks_exactly_like_one_node(segmented: Path, shards: int, tokenizer: Any) -> None:  # noqa: F811
    with IndexView.open(segmented) as view:
        assert len(view.segments) == 3 and any(d is not None for d in view.dead_articles)
        local = Retriever.create(view, FakeEmbedder(), tokenizer, Gazetteer.load())
        actors = [FakeActorHandle(ShardActor(str(segmented), i, shards)) for i in range(shards)]
        group = ShardGroup(FAKE_RAY, actors, segmented, timeout_s=5)
        layout, lease = group.open_live()
        try:
            assert layout.passages.documents == sum(int((m is None and s.meta.rows) or m.sum())
                                                    for s, m in zip(view.segments, view.live, strict=True))  # fmt: skip
            sharded = ShardedRetriever(local, group, layout)
            filtered: set[int] = set()
            for query in QUERIES:
                for mode in MODES:
                    expected = [
                        (p.row_id, p.score, p.chunk, p.article, p.reprints) for p in local.search(query, 10, mode=mode)
                    ]
                    got = [
                        (p.row_id, p.score, p.chunk, p.article, p.reprints)
                        for p in sharded.search(query, 10, mode=mode)
                    ]
                    assert got == expected, (query, mode)
                for dates in RANGES:
                    expected = [(p.row_id, p.score) for p in local.search(query, dates=dates)]
                    assert [(p.row_id, p.score) for p in sharded.search(query, dates=dates)] == expected, dates
                    filtered.add(len(expected))
                assert [p.row_id for p in sharded.search(query, district="潼南区")] == [
                    p.row_id for p in local.search(query, district="潼南区")
                ]
            assert sharded.search("潼南柠檬", k=1)[0].article.article_id == "000_15adcedcf932199a"
            assert len(filtered) > 1, "the date ranges filter nothing: the test corpus needs dated articles"
        finally:
            lease.release()


def test_segments_go_to_the_least_loaded_shard() -> None:
    assert assign([1000, 10, 10, 10, 500], 2) == [0, 1, 1, 1, 1]
    assert assign([5, 5, 5], 3) == [0, 1, 2]
    assert assign([7], 3) == [0]
