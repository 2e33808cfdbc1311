"""Reprints collapsed at index time: the 江津 block printed twice in seed article 003 ranks once, an article carried
by two outlets is shown once with the other source listed under it, across indexing runs and compaction."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from indexer.build import build_index, compact_index
from indexer.reader import IndexView
from indexer.reprints import ReprintSettings, band_keys, mark_reprints, shingles, signatures
from indexer.settings import IndexSettings
from server.resources import load_resources
from server.schemas import search_response
from server.settings import ServerSettings
from tests.fakes import FakeEmbedder

SEED_CORPUS = Path(__file__).resolve().parents[1] / "corpus"
JIANGJIN = "江津区土壤90.2%富硒"
STORY = (
    "荣昌区今年新建了三座现代化生猪养殖场，年出栏生猪能力提升到120万头。"
    "区农业农村委介绍，养殖场全部配套粪污资源化利用设施，带动周边2000余户农户增收。"
    "荣昌猪是全国八大地方优良猪种之一，荣昌区正在建设国家级生猪大数据中心。"
)


def _settings(root: Path) -> IndexSettings:
    return IndexSettings(index_dir=root / "index", model="fake/bigram-hash")


def _article(folder: Path, name: str, source: str, date: str, body: str) -> None:
    text = f"---\ntitle: 荣昌生猪产业{name}\nsource: {source}\ndate: {date}\n---\n\n{body}\n"
    (folder / f"{name}.md").write_text(text, encoding="utf-8")


def test_the_jiangjin_block_ranks_once(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    embedder = FakeEmbedder()
    build_index([SEED_CORPUS], settings, lambda: embedder)
    with IndexView.open(settings.index_dir) as view:
        copies = [c for _, c in view.iter_chunks() if JIANGJIN in c.text]
        assert len(copies) >= 2  # printed twice, cut into passages at different places
        groups = {c.reprint_of or c.chunk_id for c in copies}
        assert len(groups) < len(copies)  # the copies were grouped when indexing
    resources = load_resources(settings, ServerSettings(), embedder=embedder)
    for query in ("江津区城乡融合富硒四面山", "江津区土壤富硒比例是多少？"):
        found = resources.retriever.search(query, k=10)
        assert sum(JIANGJIN in p.chunk.text for p in found) == 1, [p.chunk.chunk_id for p in found]


def test_a_reprinted_article_shows_once_with_the_other_source(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    _article(corpus, "甲", "重庆日报", "2024-03-01", STORY)
    settings = _settings(tmp_path)
    embedder = FakeEmbedder()
    build_index([corpus], settings, lambda: embedder)
    # Reprinted by another outlet, with a line of its own: found in a later run, against the indexed segment.
    _article(corpus, "乙", "荣昌区融媒体中心", "2024-03-02", "（转自重庆日报）" + STORY)
    build_index([corpus], settings, lambda: embedder)
    for compacted in (False, True):
        if compacted:
            compact_index(settings)
        resources = load_resources(settings, ServerSettings(), embedder=embedder)
        found = resources.retriever.search("荣昌区生猪养殖场出栏能力", k=10)
        holding = [p for p in found if "120万头" in p.chunk.text]
        assert len(holding) == 1
        listed = {(r.article.source, r.article.date) for r in holding[0].reprints}
        other = {"重庆日报", "荣昌区融媒体中心"} - {holding[0].article.source}
        assert {source for source, _ in listed} == other
        shown = search_response("q", found, 1.0, "g").results
        (out,) = [p for p in shown if "120万头" in p.text]
        assert [r.source for r in out.reprints] == sorted(other)
        reprint = out.reprints[0]
        assert resources.index.article(reprint.article_id).text[reprint.start : reprint.end] == (
            next(r.chunk.text for r in holding[0].reprints)
        )


def test_similar_but_distinct_passages_are_not_grouped(tmp_path: Path) -> None:
    # Same template, other district and figures: LSH may pair them, the exact containment check does not.
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    _article(corpus, "荣昌", "甲报", "2024-03-01", STORY)
    other = STORY.replace("荣昌", "大足").replace("生猪", "五金").replace("120万头", "80亿元").replace("2000", "900")
    _article(corpus, "大足", "乙报", "2024-03-01", other)
    settings = _settings(tmp_path)
    build_index([corpus], settings, FakeEmbedder)
    with IndexView.open(settings.index_dir) as view:
        assert [c.reprint_of for _, c in view.iter_chunks()] == [None, None]
    keys = band_keys([STORY, "太短的段落"], ReprintSettings())
    assert keys[0].all() and not keys[1].any()  # too short to be a reprint: no keys


@pytest.mark.parametrize("copies", [2, 3])
def test_copies_in_one_run_join_the_first(tmp_path: Path, copies: int) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(copies):
        _article(corpus, f"稿{i}", f"来源{i}", f"2024-03-0{i + 1}", STORY)
    shutil.copy(SEED_CORPUS / "000_15adcedcf932199a.txt", corpus)
    settings = _settings(tmp_path)
    build_index([corpus], settings, FakeEmbedder)
    with IndexView.open(settings.index_dir) as view:
        chunks = [c for _, c in view.iter_chunks() if c.article_id.startswith("稿")]
        first = next(c for c in chunks if c.article_id == "稿0")
        assert first.reprint_of is None
        assert all(c.reprint_of == first.chunk_id for c in chunks if c is not first)
        assert all(c.reprint_of is None for _, c in view.iter_chunks() if not c.article_id.startswith("稿"))
    assert mark_reprints(None, [])[1].shape[0] == 0


def test_signatures_equal_datasketchs_minhash() -> None:
    from datasketch import MinHash

    texts = [STORY, STORY[10:90], "江津区依托这些自然人文景观，推动乡村振兴和农业农村现代化。" * 3]
    sets = [shingles(t) for t in texts]
    ours = signatures(sets, 64)
    for row, values in zip(ours, sets, strict=True):
        reference = MinHash(num_perm=64, scheme="legacy", hashfunc=int)
        reference.update_batch(values.tolist())
        assert row.tolist() == reference.hashvalues.tolist()
