"""Segments, tombstones, compaction and the approximate vector index: a segmented index ranks exactly like a
fresh rebuild, updates write only what changed, and nothing a reader holds is deleted under it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from indexer.build import build_index, compact_index
from indexer.districts import Gazetteer, make_tokenizer
from indexer.reader import IndexView, load_index
from indexer.settings import IndexSettings
from indexer.sparse import SparseTokenizer, load_stopwords
from indexer.store import SEGMENTS, current_generation
from server.retrieval import Retriever
from tests.fakes import FakeEmbedder
from tests.samples import CHENGKOU, SHIZHU

CORPUS = Path(__file__).parents[1] / "corpus"
QUERIES = ["潼南柠檬种植面积有多少", "江津区花椒产业", "城口老腊肉年产量", "石柱黄连产值", "重庆乡村振兴", "柠檬深加工"]


@pytest.fixture(scope="module")
def tokenizer() -> SparseTokenizer:
    gazetteer = Gazetteer.load()
    return SparseTokenizer(gazetteer.tokenizer or make_tokenizer(gazetteer), load_stopwords())


def settings_for(index_dir: Path, **overrides: object) -> IndexSettings:
    return IndexSettings(index_dir=index_dir, model="fake/bigram-hash", **overrides)


def bm25_by_chunk(view: IndexView, tokens: list[str]) -> dict[str, float]:
    scores = view.sparse(tokens).top(10_000)
    chunks = view.chunks(list(scores))
    return {chunks[row].chunk_id: score for row, score in scores.items()}


def ranking(view: IndexView, tokenizer: SparseTokenizer, query: str) -> list[str]:
    retriever = Retriever.create(view, FakeEmbedder(), tokenizer, Gazetteer.load())
    return [p.chunk.chunk_id for p in retriever.search(query, k=10)]


def test_a_segmented_index_ranks_exactly_like_a_fresh_rebuild(tmp_path: Path, tokenizer: SparseTokenizer) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    held = {name: (corpus / name).read_bytes() for name in ("003_115a21c0de3ff03d.txt", "004_1b4fb7c91f6e36b8.txt")}
    for name in held:
        (corpus / name).unlink()
    # No automatic compaction here: the point is many segments with tombstones.
    live = settings_for(tmp_path / "live", max_segments=100, max_deleted_fraction=1.0)
    build_index([corpus], live, FakeEmbedder)
    # Four more runs: two adds, an edit (tombstone + new version), a removal. Each makes its own segment.
    (corpus / "chengkou.md").write_text(CHENGKOU, "utf-8")
    build_index([corpus], live, FakeEmbedder)
    for name, data in held.items():
        (corpus / name).write_bytes(data)
    (corpus / "shizhu.md").write_text(SHIZHU, "utf-8")
    build_index([corpus], live, FakeEmbedder)
    edited = corpus / "000_15adcedcf932199a.txt"
    edited.write_text(edited.read_text("utf-8") + "\n\n潼南柠檬节将于明年举办，柠檬产值有望再创新高。\n", "utf-8")
    build_index([corpus], live, FakeEmbedder)
    (corpus / "002_39a0fae4dbddedf2.txt").unlink()
    build_index([corpus], live, FakeEmbedder)

    fresh = settings_for(tmp_path / "fresh")
    build_index([corpus], fresh, FakeEmbedder)
    with load_index(live.index_dir) as segmented, load_index(fresh.index_dir) as rebuilt:
        assert len(segmented.segments) >= 4 and len(rebuilt.segments) == 1
        assert any(dead is not None for dead in segmented.dead_articles)
        assert (segmented.article_count, segmented.chunk_count) == (rebuilt.article_count, rebuilt.chunk_count)
        assert segmented.bm25.documents == rebuilt.bm25.documents
        for query in QUERIES:
            tokens = tokenizer.tokenize(query)
            # Exactly equal floats: the same corpus-wide statistics, whatever the segmentation.
            assert bm25_by_chunk(segmented, tokens) == bm25_by_chunk(rebuilt, tokens)
            assert sorted(segmented.article_scores(tokens, 100).values()) == sorted(
                rebuilt.article_scores(tokens, 100).values()
            )
            assert ranking(segmented, tokenizer, query) == ranking(rebuilt, tokenizer, query)
        compact_index(live)
    with load_index(live.index_dir) as compacted, load_index(fresh.index_dir) as rebuilt:
        assert len(compacted.segments) == 1 and all(d is None for d in compacted.dead_articles)
        for query in QUERIES:
            assert ranking(compacted, tokenizer, query) == ranking(rebuilt, tokenizer, query)


def test_our_bm25_scores_match_bm25s(tmp_path: Path, tokenizer: SparseTokenizer) -> None:
    """The scorer reimplements bm25s's default so that switching to segments left the eval tables where they were."""
    import bm25s

    settings = settings_for(tmp_path / "index")
    build_index([CORPUS], settings, FakeEmbedder)
    with load_index(settings.index_dir) as view:
        segment = view.segments[0]
        postings = segment.postings
        docs: list[list[str]] = [[] for _ in range(postings.documents)]
        for term in postings.vocab:
            found = postings.term(term)
            assert found is not None
            for doc, tf in zip(*found, strict=True):
                docs[int(doc)].extend([term] * int(tf))
        reference = bm25s.BM25(k1=0.9, b=0.75)
        reference.index(docs, show_progress=False)
        for query in QUERIES:
            tokens = [t for t in tokenizer.tokenize(query) if t in postings.vocab]
            ours = view.bm25.scores(tokens)[0]
            np.testing.assert_allclose(ours, reference.get_scores(tokens), rtol=1e-5, atol=1e-6)


def _files(directory: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(directory)): (p.stat().st_ino, p.stat().st_mtime_ns) for p in directory.rglob("*")}


def test_adding_an_article_writes_a_new_segment_and_leaves_the_old_untouched(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    settings = settings_for(tmp_path / "index")
    build_index([corpus], settings, FakeEmbedder)
    segments = settings.index_dir / SEGMENTS
    before = _files(segments)
    (corpus / "chengkou.md").write_text(CHENGKOU, "utf-8")
    embedder = FakeEmbedder()
    report = build_index([corpus / "chengkou.md"], settings, lambda: embedder)
    after = _files(segments)
    assert {k: v for k, v in after.items() if k in before} == before
    new = [k for k in after if k not in before]
    assert new and all(k.startswith(f"s{int(report.generation[1:]):09d}") for k in new)  # type: ignore[index]
    assert report.embedded == embedder.embedded == report.chunks - report.unchanged


def test_removed_articles_are_gone_from_search_and_lookup(tmp_path: Path, tokenizer: SparseTokenizer) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    (corpus / "chengkou.md").write_text(CHENGKOU, "utf-8")
    settings = settings_for(tmp_path / "index")
    build_index([corpus], settings, FakeEmbedder)
    (corpus / "chengkou.md").unlink()
    build_index([corpus], settings, FakeEmbedder)
    with load_index(settings.index_dir) as view:
        assert view.article("chengkou") is None and view.article("000_15adcedcf932199a") is not None
        retriever = Retriever.create(view, FakeEmbedder(), tokenizer, Gazetteer.load())
        for mode in ("bm25", "dense", "hybrid"):
            assert all(p.article.article_id != "chengkou" for p in retriever.search("城口老腊肉", k=50, mode=mode))
        assert retriever.search("城口老腊肉", k=5, district="城口") == []


def test_the_district_filter_returns_only_tagged_live_rows(tmp_path: Path, tokenizer: SparseTokenizer) -> None:
    settings = settings_for(tmp_path / "index")
    build_index([CORPUS], settings, FakeEmbedder)
    with load_index(settings.index_dir) as view:
        retriever = Retriever.create(view, FakeEmbedder(), tokenizer, Gazetteer.load())
        passages = retriever.search("产业发展", k=50, district="江津")
        assert passages and all("江津区" in p.chunk.districts for p in passages)
        tagged = sum(1 for _, c in view.iter_chunks() if "江津区" in c.districts)
        assert len(passages) == min(50, tagged) or len(passages) <= tagged


def test_large_segments_get_an_approximate_index_recorded_in_the_manifest(tmp_path: Path) -> None:
    source = tmp_path / "many.jsonl"
    lines = [
        f'{{"id": "d{i}", "title": "区县政策{i}", "text": "第{i}号通知：支持{i % 7}号产业园区发展，补贴{i}万元。"}}'
        for i in range(400)
    ]
    source.write_text("\n".join(lines) + "\n", "utf-8")
    settings = settings_for(tmp_path / "index", ann_threshold=300, nprobe=8)
    build_index([source], settings, FakeEmbedder)
    with load_index(settings.index_dir) as view:
        segment = view.segments[0]
        assert segment.meta.vector_index.startswith("IVF") and segment.dense.ann is not None
        assert view.manifest.vector_index["ann_threshold"] == 300 and view.nprobe == 8
        query = FakeEmbedder().embed_queries(["第17号通知：支持3号产业园区发展"])[0]
        approximate = list(view.dense(query, 10))
        exact_scores = np.asarray(segment.dense.vectors) @ query
        exact = set(np.argsort(-exact_scores)[:10].tolist())
        assert len(exact & set(approximate)) >= 8


def test_auto_compaction_bounds_the_number_of_segments(tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "index", max_segments=3)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(6):
        (corpus / f"a{i}.md").write_text(
            f"---\ntitle: 第{i}篇\n---\n\n万州区第{i}批项目开工，总投资{i}亿元。\n", "utf-8"
        )
        build_index([corpus], settings, FakeEmbedder)
        with load_index(settings.index_dir) as view:
            assert len(view.segments) <= 3 and view.article_count == i + 1
    assert len(list((settings.index_dir / SEGMENTS).iterdir())) <= 3


def test_a_leased_generation_survives_until_its_reader_closes(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    settings = settings_for(tmp_path / "index")
    build_index([corpus], settings, FakeEmbedder)
    reader = load_index(settings.index_dir)
    old = reader.generation
    (corpus / "chengkou.md").write_text(CHENGKOU, "utf-8")
    build_index([corpus], settings, FakeEmbedder)
    compact_index(settings)  # replaces every segment the reader uses
    assert current_generation(settings.index_dir) != old
    assert len(dict(reader.iter_chunks())) == reader.chunk_count  # still readable: nothing deleted under it
    reader.close()
    (corpus / "shizhu.md").write_text(SHIZHU, "utf-8")
    build_index([corpus], settings, FakeEmbedder)
    assert not (settings.index_dir / "generations" / f"{old}.json").exists()
    assert reader.segments[0].name not in os.listdir(settings.index_dir / SEGMENTS)


def test_a_run_with_nothing_to_do_still_clears_what_a_killed_run_left(tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "index")
    build_index([CORPUS], settings, FakeEmbedder)
    leftover = settings.index_dir / SEGMENTS / "s000000099.tmp"
    leftover.mkdir()
    (leftover / "vectors.npy").write_bytes(b"\0" * 1_000_000)
    report = build_index([CORPUS], settings, FakeEmbedder)
    assert report.embedded == 0 and report.generation is None
    assert not leftover.exists()


def test_an_unreadable_file_is_reported_and_keeps_its_articles(tmp_path: Path, monkeypatch) -> None:
    import indexer.scan

    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    settings = settings_for(tmp_path / "index")
    build_index([corpus], settings, FakeEmbedder)
    locked = corpus / "001_e147faaa81754076.txt"
    locked.write_text(locked.read_text("utf-8") + "\n更新。\n", "utf-8")  # changed, so it must be read again
    real_hash = indexer.scan._hash

    def denied(path: Path) -> str:
        # Root ignores permission bits, and the tests run as root in CI: deny the read where it happens.
        if path.name == locked.name:
            raise PermissionError(13, "Permission denied")
        return real_hash(path)

    monkeypatch.setattr(indexer.scan, "_hash", denied)
    report = build_index([corpus], settings, FakeEmbedder)
    assert [s.path for s in report.skipped] == [str(locked)]
    assert "Permission denied" in report.skipped[0].reason
    with load_index(settings.index_dir) as view:
        assert view.article("001_e147faaa81754076") is not None and view.article_count == 5


def test_a_file_that_yields_nothing_publishes_no_generation(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    settings = settings_for(tmp_path / "index")
    build_index([corpus], settings, FakeEmbedder)
    generation = current_generation(settings.index_dir)
    (corpus / "empty.txt").write_text("", "utf-8")
    for _ in range(2):
        report = build_index([corpus], settings, FakeEmbedder)
        assert report.generation is None and any(s.path.endswith("empty.txt") for s in report.skipped)
        assert current_generation(settings.index_dir) == generation
