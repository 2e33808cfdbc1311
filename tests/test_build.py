"""Incremental, crash-safe indexing, exercised on real files with a fake embedder (the model is not the subject)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from indexer.build import build_index
from indexer.manifest import IndexMismatchError, check_model
from indexer.reader import load_index
from indexer.settings import IndexSettings
from indexer.store import IndexLockedError, current_generation, writer_lock
from tests.fakes import FakeEmbedder
from tests.materialize import materialize

CORPUS = Path(__file__).parents[1] / "corpus"


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    target = tmp_path / "corpus"
    shutil.copytree(CORPUS, target)
    return target


def settings_for(tmp_path: Path) -> IndexSettings:
    return IndexSettings(index_dir=tmp_path / "index", model="fake/bigram-hash")


def build(corpus: Path, settings: IndexSettings, embedder: FakeEmbedder, **kwargs):
    return build_index([corpus], settings, lambda: embedder, **kwargs)


def snapshot(index_dir: Path) -> dict[str, tuple[str, tuple[float, ...]]]:
    index = materialize(index_dir)
    return {chunk.chunk_id: (chunk.text, tuple(np.round(index.vector(row), 5))) for row, chunk in index.chunks.items()}


def test_first_build_indexes_every_article_verbatim(corpus: Path, tmp_path: Path) -> None:
    report = build(corpus, settings_for(tmp_path), FakeEmbedder())
    index = materialize(tmp_path / "index")
    assert report.articles == len(index.articles) == 5
    assert report.chunks == len(index.chunks) == len(index.vectors) > 50
    assert report.embedded == report.chunks - report.unchanged
    for chunk in index.chunks.values():
        assert index.articles[chunk.article_id].text[chunk.start : chunk.end] == chunk.text
    assert index.manifest.model == "fake/bigram-hash" and index.manifest.dim == 64
    assert index.manifest.chunker["max_chars"] == 350


def test_second_run_embeds_nothing_and_keeps_the_generation(corpus: Path, tmp_path: Path) -> None:
    settings, embedder = settings_for(tmp_path), FakeEmbedder()
    first = build(corpus, settings, embedder)
    generation = current_generation(settings.index_dir)
    embedder.calls.clear()
    second = build(corpus, settings, embedder)
    assert (second.embedded, second.removed, second.unchanged) == (0, 0, first.chunks)
    assert embedder.embedded == 0
    assert current_generation(settings.index_dir) == generation


def test_adding_an_article_embeds_only_its_chunks(corpus: Path, tmp_path: Path) -> None:
    settings, embedder = settings_for(tmp_path), FakeEmbedder()
    (corpus / "004_1b4fb7c91f6e36b8.txt").rename(tmp_path / "held_back.txt")
    before = build(corpus, settings, embedder)
    shutil.move(tmp_path / "held_back.txt", corpus / "004_1b4fb7c91f6e36b8.txt")
    embedder.calls.clear()
    after = build(corpus, settings, embedder)
    index = materialize(settings.index_dir)
    added = [c for c in index.chunks.values() if c.article_id == "004_1b4fb7c91f6e36b8"]
    assert after.chunks == before.chunks + len(added)
    assert after.embedded == embedder.embedded == len({c.embed_hash for c in added})
    assert after.removed == 0


def test_deleting_an_article_removes_exactly_its_chunks(corpus: Path, tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    build(corpus, settings, FakeEmbedder())
    doomed = [c for c in materialize(settings.index_dir).chunks.values() if c.article_id == "002_39a0fae4dbddedf2"]
    (corpus / "002_39a0fae4dbddedf2.txt").unlink()
    report = build(corpus, settings, FakeEmbedder())
    index = materialize(settings.index_dir)
    assert report.removed == len(doomed) > 0 and report.embedded == 0
    assert "002_39a0fae4dbddedf2" not in index.articles
    assert all(c.article_id != "002_39a0fae4dbddedf2" for c in index.chunks.values())
    assert len(index.vectors) == len(index.chunks) == report.chunks
    assert index.bm25_documents == len(index.chunks)


def test_add_then_remove_restores_the_index(corpus: Path, tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    build(corpus, settings, FakeEmbedder())
    before = snapshot(settings.index_dir)
    extra = corpus / "extra.md"
    extra.write_text(
        "---\ntitle: 长寿区化工园区\n---\n\n长寿区化工园区有120家企业入驻。园区年产值达到1000亿元。\n", "utf-8"
    )
    build(corpus, settings, FakeEmbedder())
    assert len(snapshot(settings.index_dir)) > len(before)
    extra.unlink()
    build(corpus, settings, FakeEmbedder())
    assert snapshot(settings.index_dir) == before


def test_an_edited_article_reembeds_only_changed_chunks(corpus: Path, tmp_path: Path) -> None:
    settings, embedder = settings_for(tmp_path), FakeEmbedder()
    build(corpus, settings, embedder)
    article = corpus / "000_15adcedcf932199a.txt"
    total = sum(1 for c in materialize(settings.index_dir).chunks.values() if c.article_id == article.stem)
    article.write_text(article.read_text("utf-8") + "\n\n潼南区新增一条说明：柠檬节将于明年举办。\n", "utf-8")
    embedder.calls.clear()
    report = build(corpus, settings, embedder)
    assert 1 <= report.embedded <= 2 < total
    assert report.removed <= 1


def test_identical_text_is_embedded_once(tmp_path: Path) -> None:
    source = tmp_path / "docs.jsonl"
    same = {"title": "政策", "text": "綦江区首批下放97项行政审批事项。企业办事更方便了。"}
    lines = [json.dumps({"id": f"d{i}", **same}, ensure_ascii=False) for i in range(3)]
    source.write_text("\n".join(lines) + "\n", "utf-8")
    embedder = FakeEmbedder()
    report = build_index([source], settings_for(tmp_path), lambda: embedder)
    assert report.articles == 3 and report.chunks == 3
    assert report.embedded == embedder.embedded == 1


def test_malformed_files_are_reported_and_skipped(corpus: Path, tmp_path: Path) -> None:
    (corpus / "binary.txt").write_bytes(b"\x00\x01\x02PNG\x00")
    (corpus / "empty.txt").write_text("  \n", "utf-8")
    (corpus / "latin1.txt").write_bytes("潼南".encode("gb18030") + b"\xff\xfe")
    (corpus / "lines.jsonl").write_text('{"id": "ok", "text": "涪陵榨菜远销海外。"}\n{broken\n', "utf-8")
    report = build(corpus, settings_for(tmp_path), FakeEmbedder())
    reasons = {Path(s.path.split(":")[0]).name: s.reason for s in report.skipped}
    assert {"binary.txt", "empty.txt", "latin1.txt", "lines.jsonl"} <= set(reasons)
    assert all(reason for reason in reasons.values())
    assert report.articles == 6  # the five seed articles and the good JSONL line


def test_a_second_writer_is_refused_with_a_clear_error(corpus: Path, tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    with writer_lock(settings.index_dir), pytest.raises(IndexLockedError, match="another `policyqa index`"):
        build(corpus, settings, FakeEmbedder())


def test_a_mismatched_model_fails_loudly_with_the_fix(corpus: Path, tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    build(corpus, settings, FakeEmbedder())
    index = materialize(settings.index_dir)
    with pytest.raises(IndexMismatchError, match="--rebuild"):
        check_model(index.manifest, settings.index_dir, "BAAI/bge-small-zh-v1.5", 512, "", "")
    other = IndexSettings(index_dir=settings.index_dir, model="BAAI/bge-small-zh-v1.5")
    with pytest.raises(IndexMismatchError, match="POLICYQA_MODEL=fake/bigram-hash"):
        build_index([corpus], other, lambda: FakeEmbedder(model_id="BAAI/bge-small-zh-v1.5"))


def test_rebuild_after_a_model_change_reembeds_everything(corpus: Path, tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    first = build(corpus, settings, FakeEmbedder())
    other = IndexSettings(index_dir=settings.index_dir, model="fake/other")
    report = build_index([corpus], other, lambda: FakeEmbedder(dim=32, model_id="fake/other"), rebuild=True)
    index = materialize(settings.index_dir)
    assert report.embedded == len({c.embed_hash for c in index.chunks.values()}) and report.chunks == first.chunks
    assert (index.manifest.model, index.manifest.dim) == ("fake/other", 32)


def test_changing_chunk_size_rechunks_everything(corpus: Path, tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    first = build(corpus, settings, FakeEmbedder())
    smaller = IndexSettings(index_dir=settings.index_dir, model="fake/bigram-hash", chunk_max_chars=120)
    report = build_index([corpus], smaller, lambda: FakeEmbedder())
    index = materialize(settings.index_dir)
    assert report.chunks > first.chunks and index.manifest.chunker["max_chars"] == 120
    assert report.removed > 0 and len(index.chunks) == len(index.vectors)


def _bm25_by_row(index_dir: Path, token: str) -> dict[int, float]:
    with load_index(index_dir) as view:
        assert view.bm25.settings == view.article_bm25.settings
        scores = view.sparse([token])
        return {row: float(s) for base, arr in zip(scores.bases, scores.scores, strict=True) for row, s in
                zip(range(int(base), int(base) + len(arr)), arr.tolist(), strict=True)}  # fmt: skip


def test_changing_bm25_settings_retokenises_without_embedding(corpus: Path, tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    build(corpus, settings, FakeEmbedder())
    before = materialize(settings.index_dir)
    assert before.manifest.sparse == {"title_weight": 3, "k1": 0.9, "b": 0.75, "normalization": 1}
    scored_before = _bm25_by_row(settings.index_dir, "谱写")
    untitled = settings.model_copy(update={"bm25_title_weight": 0, "bm25_k1": 1.2})
    embedder = FakeEmbedder()
    report = build(corpus, untitled, embedder)
    after = materialize(settings.index_dir)
    assert embedder.embedded == 0 and report.embedded == 0
    assert after.manifest.sparse == {"title_weight": 0, "k1": 1.2, "b": 0.75, "normalization": 1}
    with load_index(settings.index_dir) as view:
        assert view.bm25.settings.k1 == 1.2 and view.article_bm25.settings.k1 == 1.2
    # With the title counted, every passage of the 潼南 article matches a word of its title; without, only those
    # whose own text holds it.
    article = next(a for a in before.articles.values() if "潼南" in a.title)
    rows = [r for r, c in before.chunks.items() if c.article_id == article.article_id]
    assert all(scored_before[r] > 0 for r in rows)
    untitled_rows = [r for r, c in after.chunks.items() if c.article_id == article.article_id]
    scored = _bm25_by_row(settings.index_dir, "谱写")
    assert sum(scored[r] > 0 for r in untitled_rows) < len(untitled_rows)


def test_the_title_counts_title_weight_times_in_passage_tokens() -> None:
    from indexer.districts import Gazetteer, make_tokenizer
    from indexer.sparse import SparseSettings, SparseTokenizer, load_stopwords

    gazetteer = Gazetteer.load()
    tokenizer = SparseTokenizer(gazetteer.tokenizer or make_tokenizer(gazetteer), load_stopwords())
    for weight in (0, 1, 3):
        tokens = tokenizer.passage_tokens("柠檬产业", "潼南", "种植面积32万亩。", SparseSettings(title_weight=weight))
        assert tokens.count("柠檬") == weight and tokens.count("潼南") == 1 and "32" in tokens
    # A heading that repeats the title is not counted again.
    assert tokenizer.passage_tokens("柠檬", "柠檬", "面积", SparseSettings(title_weight=1)).count("柠檬") == 1
    with pytest.raises(ValueError, match="title_weight"):
        SparseSettings(title_weight=-1)
