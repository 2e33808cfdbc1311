"""The Ray engine on a real two-node cluster started here: head on 127.0.0.2, worker node on 127.0.0.3, each a
`ray start --block` in its own process group, stopped by killing exactly those groups.

The seed corpus is indexed through the cluster in two incremental runs, compared with a local index, served by 2
shard actors behind the real FastAPI app, one shard process is SIGKILLed (requests get 503 or complete results,
never a 500 and never a silent part), and a new generation is picked up across the shards."""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import SEED_CORPUS
from tests.test_live_reload import ARTICLE as NEW_ARTICLE
from tests.test_live_reload import QUERY as NEW_QUERY

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    from policyqa_ray.local_cluster import LocalCluster

    started = LocalCluster(cpus_per_node=2).start()
    try:
        ray.init(address=started.address, namespace="policyqa-test", log_to_driver=False, configure_logging=False)
        yield started
    finally:
        ray.shutdown()
        started.stop()
        assert started.stopped and started.running() == []  # nothing this test started is left running


@dataclass(frozen=True)
class ClusterIndex:
    source: Path
    index_dir: Path
    first: Any
    second: Any
    local_dir: Path  # the same two runs, embedded in this process


def _ray_index(source: Path, index_dir: Path, identity: Any) -> Any:
    from indexer.settings import IndexSettings
    from policyqa_ray.embed import index_on_cluster
    from policyqa_ray.settings import RaySettings

    # Two actors of one CPU each: the scheduler puts one on each node.
    settings = RaySettings(address="auto", actors=2, actor_cpus=1)
    return index_on_cluster([source], IndexSettings(index_dir=index_dir), settings, identity=identity)


@pytest.fixture(scope="module")
def cluster_index(cluster: Any, tmp_path_factory: pytest.TempPathFactory, real_embedder: Any) -> ClusterIndex:
    """The seed corpus through the cluster in two runs: three files, then all five (the second run embeds only
    the two new files' passages); and locally, in the same two runs."""
    from indexer.build import build_index
    from indexer.settings import IndexSettings

    root = tmp_path_factory.mktemp("ray-index")
    source = root / "corpus"
    source.mkdir()
    files = sorted(SEED_CORPUS.iterdir())
    for file in files[:3]:
        shutil.copy(file, source / file.name)
    first = _ray_index(source, root / "index", real_embedder)
    build_index([source], IndexSettings(index_dir=root / "local"), lambda: real_embedder)
    for file in files[3:]:
        shutil.copy(file, source / file.name)
    second = _ray_index(source, root / "index", real_embedder)
    build_index([source], IndexSettings(index_dir=root / "local"), lambda: real_embedder)
    return ClusterIndex(source, root / "index", first, second, root / "local")


def test_two_nodes_index_like_a_local_run(cluster: Any, cluster_index: ClusterIndex) -> None:
    from indexer.reader import IndexView

    alive = {n["NodeManagerAddress"] for n in ray.nodes() if n["Alive"]}
    assert alive == {"127.0.0.2", "127.0.0.3"}
    first, second = cluster_index.first, cluster_index.second
    assert first.embedded == first.chunks > 0
    # Incremental exactly as locally: the second run embeds the new files' passages only.
    assert second.unchanged == first.chunks
    assert second.embedded == second.chunks - first.chunks > 0
    with IndexView.open(cluster_index.index_dir) as on_cluster, IndexView.open(cluster_index.local_dir) as local:
        assert len(on_cluster.segments) == 2
        assert on_cluster.manifest.encoder == local.manifest.encoder
        ours = {chunk.chunk_id: (row, chunk) for row, chunk in on_cluster.iter_chunks()}
        theirs = {chunk.chunk_id: (row, chunk) for row, chunk in local.iter_chunks()}
        assert ours.keys() == theirs.keys()
        assert all(ours[k][1] == theirs[k][1] for k in ours)
        worst = 1.0
        for key, (row, _) in ours.items():
            mine = on_cluster.cosines([row], _vector(local, theirs[key][0]))[row]
            worst = min(worst, mine)
        assert worst >= 0.999, worst
        print(f"lowest cosine between a cluster vector and the local run's: {worst:.6f}")


def _vector(view: Any, row: int) -> np.ndarray:
    position = int(np.searchsorted(view.bases, row, side="right") - 1)
    return np.asarray(view.segments[position].dense.vectors[row - int(view.bases[position])], np.float32)


@pytest.fixture(scope="module")
def sharded(cluster: Any, cluster_index: ClusterIndex, real_embedder: Any) -> Iterator[Any]:
    from indexer.settings import IndexSettings
    from policyqa_ray.serving import sharded_resources
    from policyqa_ray.settings import RaySettings
    from server.settings import ServerSettings

    # A short shard timeout, so a request during a shard's restart gets its 503 quickly.
    ray_settings = RaySettings(address="auto", shards=2, shard_cpus=0.5, call_timeout_s=0.5)
    index_settings = IndexSettings(index_dir=cluster_index.index_dir)
    live = sharded_resources(index_settings, ServerSettings(reload_interval_s=0), ray_settings, real_embedder)
    try:
        yield live
    finally:
        live.group.stop()


@pytest.fixture(scope="module")
def single_node(cluster_index: ClusterIndex, real_embedder: Any) -> Iterator[Any]:
    from indexer.settings import IndexSettings
    from server.resources import load_resources
    from server.settings import ServerSettings

    resources = load_resources(IndexSettings(index_dir=cluster_index.index_dir), ServerSettings(), real_embedder)
    yield resources
    resources.index.close()


def _questions() -> list[str]:
    from eval.loaders import load_dataset
    from eval.settings import EvalSettings
    from indexer.normalize import fold

    return [fold(q.question) for q in load_dataset("corpus_gold", EvalSettings()).questions]


def test_two_shards_rank_like_one_node(
    sharded: Any, single_node: Any, cluster_index: ClusterIndex, real_embedder: Any
) -> None:
    from indexer.settings import IndexSettings
    from server.resources import load_resources
    from server.settings import ServerSettings

    retriever = sharded.current.retriever
    assert len(set(retriever.layout.owners)) == 2  # both shards hold a segment
    questions = _questions()[::3]  # every question is compared by bench/ray_equivalence.py; a third here
    same = sum(
        [p.row_id for p in retriever.search(q)] == [p.row_id for p in single_node.retriever.search(q)]
        for q in questions
    )
    assert same >= 0.99 * len(questions), f"{same}/{len(questions)} identical top-10"
    for mode in ("bm25", "dense", "fused"):
        for q in questions[:10]:
            assert [p.row_id for p in retriever.search(q, mode=mode)] == [
                p.row_id for p in single_node.retriever.search(q, mode=mode)
            ]
    district = retriever.search("柠檬产业产值", district="潼南区")
    assert district and [p.row_id for p in district] == [
        p.row_id for p in single_node.retriever.search("柠檬产业产值", district="潼南区")
    ]
    # And the local run's own index (one segment, its own vectors) answers alike.
    local = load_resources(IndexSettings(index_dir=cluster_index.local_dir), ServerSettings(), real_embedder)
    try:
        alike = sum(
            [p.chunk.chunk_id for p in retriever.search(q)] == [p.chunk.chunk_id for p in local.retriever.search(q)]
            for q in questions
        )
    finally:
        local.index.close()
    print(f"top-10 identical: {same}/{len(questions)} to one node on the same index, {alike} to the local run's index")
    assert alike >= 0.99 * len(questions), f"{alike}/{len(questions)}"


def _client(live: Any) -> Any:
    from fastapi.testclient import TestClient

    from server.app import create_app
    from server.settings import ServerSettings

    return TestClient(create_app(server_settings=ServerSettings(reload_interval_s=0), live=live))


def _same_results(got: list[dict[str, Any]], expected: list[dict[str, Any]]) -> bool:
    """Results as a client compares them. Scores agree to about 1e-7, not to the bit: the shards' BLAS runs one
    thread, which sums the dense inner products in another order."""
    strip = [{k: v for k, v in r.items() if k != "score"} for r in got]
    scores_agree = all(abs(a["score"] - b["score"]) < 1e-5 for a, b in zip(got, expected, strict=True))
    return strip == [{k: v for k, v in r.items() if k != "score"} for r in expected] and scores_agree


def test_http_api_and_a_killed_shard(sharded: Any, single_node: Any) -> None:
    from server.schemas import SearchRequest
    from server.service import run_search

    query = {"query": "潼南的柠檬产业一年产值多少？", "k": 5}
    expected = [r.model_dump() for r in run_search(single_node, SearchRequest(**query)).results]
    with _client(sharded) as client:
        health = client.get("/healthz").json()
        assert health["segments"] == 2 and health["generation"] == sharded.current.index.generation
        found = client.post("/search", json=query)
        assert found.status_code == 200 and _same_results(found.json()["results"], expected)
        article_id = expected[0]["article_id"]
        assert client.get(f"/articles/{article_id}").json()["article_id"] == article_id
        assert client.get("/articles/no-such-article").status_code == 404

        victim = sharded.group.actors[0]
        before = ray.get(victim.pid.remote())
        os.kill(before, signal.SIGKILL)  # the shard's worker process dies; Ray restarts the actor
        killed = time.monotonic()
        statuses: list[int] = []
        recovered = None
        while time.monotonic() - killed < 60:
            answer = client.post("/search", json=query)
            statuses.append(answer.status_code)
            if answer.status_code == 503:
                assert "shard" in answer.json()["error"] and answer.headers["retry-after"] == "1"
            else:
                assert answer.status_code == 200, answer.text
                # Complete or not at all: a 200 carries the single-node results.
                assert _same_results(answer.json()["results"], expected)
                recovered = time.monotonic() - killed
                break
            time.sleep(0.2)
        assert recovered is not None, f"no shard came back within 60 s: {statuses}"
        assert statuses[0] == 503  # the dead shard is not silently skipped
        assert ray.get(victim.pid.remote()) != before
        print(f"shard killed: {statuses.count(503)} responses 503, first complete answer after {recovered:.1f} s")


def test_a_new_generation_reaches_every_shard(sharded: Any, cluster_index: ClusterIndex, real_embedder: Any) -> None:
    from indexer.build import build_index
    from indexer.settings import IndexSettings

    old = sharded.current.index.generation
    (cluster_index.source / "qianjiang.md").write_text(NEW_ARTICLE, encoding="utf-8")
    # Published by a local run this time (the cluster runs are tested above): the shards follow CURRENT either way.
    report = build_index(
        [cluster_index.source], IndexSettings(index_dir=cluster_index.index_dir), lambda: real_embedder
    )
    assert report.embedded > 0 and report.generation != old
    with _client(sharded) as client:
        assert client.post("/admin/reload").json()["generation"] == report.generation
        found = client.post("/search", json={"query": NEW_QUERY, "k": 3}).json()
        assert found["generation"] == report.generation
        assert "8600吨" in found["results"][0]["text"]
