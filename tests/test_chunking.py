"""Sentences and chunks: verbatim offsets, size limits, one-sentence overlap, sections and districts."""

from __future__ import annotations

import json
import time
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.chunking import ChunkerSettings, chunk_article, split_sentences
from indexer.districts import Gazetteer
from indexer.records import Article, Chunk, Skipped, Span
from indexer.sources import Meta, build_article, read_articles

CORPUS = Path(__file__).parents[1] / "corpus"
NCP = Path(__file__).parents[2] / "shared" / "benchmarks" / "ncppolicies" / "corpus.jsonl"
DEFAULT = ChunkerSettings()


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return Gazetteer.load()


@pytest.fixture(scope="module")
def seeds(gaz: Gazetteer) -> dict[str, Article]:
    return {a.article_id: a for a in read_articles([CORPUS], gaz, root=CORPUS) if isinstance(a, Article)}


def texts(text: str, spans: list[Span]) -> list[str]:
    return [text[s.start : s.end] for s in spans]


def test_split_sentences() -> None:
    text = "他说：“好！”然后走了。又来了？没有……\n\n第二段；还有\n最后 "
    assert texts(text, split_sentences(text)) == [
        "他说：“好！”",
        "然后走了。",
        "又来了？",
        "没有……",
        "第二段；",
        "还有",
        "最后",
    ]
    assert texts(text, split_sentences(text, 7, 18)) == ["然后走了。", "又来了？", "没有"]
    assert split_sentences(text, 5, 5) == [] and split_sentences("") == [] and split_sentences(" \n\n ") == []
    assert texts("A!B?（注：完。）C", split_sentences("A!B?（注：完。）C")) == ["A!", "B?", "（注：完。）", "C"]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="潼南柠檬产业 \n。！？；!?…”）（，A1", max_size=80), st.data())
def test_property_sentences_cover_every_visible_character(text: str, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    spans = split_sentences(text, start, end)
    covered = set()
    for a, b in pairwise(spans):
        assert a.end <= b.start
    for s in spans:
        piece = text[s.start : s.end]
        assert start <= s.start < s.end <= end and "\n" not in piece and piece == piece.strip()
        covered.update(range(s.start, s.end))
    assert {i for i in range(start, end) if not text[i].isspace()} <= covered


def body_sentences(article: Article) -> list[list[Span]]:
    """Runs of sentences that chunks may pack together: section bodies cut at headings and excluded spans."""
    text = article.text
    cuts = sorted(
        [(s.start, text.find("\n", s.start) if "\n" in text[s.start : s.end] else s.end) for s in article.sections]
        + [(s.start, s.end) for s in article.excluded]
    )
    bounds = sorted({0, len(text), *(s.start for s in article.sections), *(e for c in cuts for e in c)})
    runs = []
    for a, b in pairwise(bounds):
        if not any(c0 <= a and b <= c1 for c0, c1 in cuts):
            runs.append(split_sentences(text, a, b))
    return [r for r in runs if r]


def check_chunks(article: Article, chunks: list[Chunk], config: ChunkerSettings) -> None:
    text = article.text
    blocked = [(s.start, s.end) for s in article.excluded]
    blocked += [(s.start, s.start + len(s.heading)) for s in article.sections]
    sections = [(s.start, s.end, s.heading) for s in article.sections]
    for c in chunks:
        assert text[c.start : c.end] == c.text and c.text == c.text.strip() and c.text
        assert len(c.text) <= config.max_chars
        assert not any(c.start < b1 and b0 < c.end for b0, b1 in blocked), c.text
        inside = [h for s0, s1, h in sections if s0 <= c.start and c.end <= s1]
        assert inside == ([c.section] if c.section is not None else []), c.text
        heading = c.section if c.section != article.title else None
        assert c.embed_text == (
            "\n".join(p for p in (article.title, heading, c.text) if p) if config.context else c.text
        )
    covered = {i for c in chunks for i in range(c.start, c.end)}
    for run in body_sentences(article):
        for s in run:
            assert all(text[i].isspace() or i in covered for i in range(s.start, s.end)), text[s.start : s.end]
        check_overlap(text, run, [c for c in chunks if run[0].start <= c.start < run[-1].end], config)


def check_overlap(text: str, run: list[Span], chunks: list[Chunk], config: ChunkerSettings) -> None:
    """Consecutive windows share `overlap_sentences` sentences, unless the shared ones and the next cannot fit."""
    starts, ends = {s.start: i for i, s in enumerate(run)}, {s.end: i for i, s in enumerate(run)}
    for a, b in pairwise(chunks):
        if a.start not in starts or a.end not in ends or b.start not in starts or b.end not in ends:
            continue  # pieces of an overlong sentence
        first, last = starts[a.start], ends[a.end]
        shared = max(last + 1 - config.overlap_sentences, first + 1)
        fits = shared <= last and run[last + 1].end - run[shared].start <= config.max_chars
        assert b.start == run[shared if fits else last + 1].start, (a.text, b.text)


@pytest.mark.parametrize("max_chars", [60, 220, 500])
def test_seed_chunks(seeds: dict[str, Article], gaz: Gazetteer, max_chars: int) -> None:
    config = ChunkerSettings(max_chars=max_chars)
    for article in seeds.values():
        check_chunks(article, chunk_article(article, config, gaz), config)


def test_seed_chunk_counts_and_determinism(seeds: dict[str, Article], gaz: Gazetteer) -> None:
    at_220 = ChunkerSettings(max_chars=220)
    counts = {k: len(chunk_article(a, at_220, gaz)) for k, a in seeds.items()}
    assert 150 <= sum(counts.values()) <= 260, counts
    fewer = sum(len(chunk_article(a, DEFAULT, gaz)) for a in seeds.values())
    assert DEFAULT.max_chars > 220 and fewer < sum(counts.values())
    article = seeds["003_115a21c0de3ff03d"]
    assert chunk_article(article, DEFAULT, gaz) == chunk_article(article, DEFAULT, gaz)


def chunks_of(seeds: dict[str, Article], gaz: Gazetteer, name: str) -> list[Chunk]:
    return chunk_article(seeds[name], DEFAULT, gaz)


def test_section_districts_reach_chunks_that_do_not_name_them(seeds: dict[str, Article], gaz: Gazetteer) -> None:
    bishan = [c for c in chunks_of(seeds, gaz, "003_115a21c0de3ff03d") if c.section.startswith("璧山")]
    assert bishan and all("璧山区" in c.districts for c in bishan)
    # The misplaced 江津 block inside the 合川 section: named 江津, filed under 合川.
    dup = [c for c in chunks_of(seeds, gaz, "003_115a21c0de3ff03d") if "江津区土壤90.2%富硒" in c.text]
    assert {c.section[:2] for c in dup} == {"合川", "江津"}
    assert all({"江津区", "合川区"} <= set(c.districts) for c in dup if c.section.startswith("合川"))


def test_chunks_carry_their_section_district_unnamed(seeds: dict[str, Article], gaz: Gazetteer) -> None:
    chunks = [
        c for c in chunks_of(seeds, gaz, "003_115a21c0de3ff03d") if c.section != seeds["003_115a21c0de3ff03d"].title
    ]
    unnamed = [c for c in chunks if c.section[:2] not in c.text]
    assert unnamed and all(gaz.canonical(c.section[:2]) in c.districts for c in unnamed)


def test_article_districts_fill_undistricted_sections(seeds: dict[str, Article], gaz: Gazetteer) -> None:
    chunks = chunks_of(seeds, gaz, "000_15adcedcf932199a")
    assert all(c.districts[-1] == "潼南区" for c in chunks)
    nfc = next(c for c in chunks if "可生产NFC" in c.text)
    assert nfc.section.startswith("建设中国农业现代化示范区") and nfc.districts == ("潼南区",)
    assert not any("双桥" in c.text for c in chunks)  # the 双桥电站 caption is not chunk text


def test_intro_of_a_many_district_article_gets_only_named_districts(seeds: dict[str, Article], gaz: Gazetteer) -> None:
    intro = chunks_of(seeds, gaz, "004_1b4fb7c91f6e36b8")[0]
    assert intro.section == "积极行动 迎接“双城”新机遇" and intro.text.startswith("市委五届八中全会")
    assert intro.districts == ()


def test_district_rule_on_crafted_articles(gaz: Gazetteer) -> None:
    raw = "开头一段没有地名。\n\n江津 小标题\n\n这里也没有地名。\n\n其他消息\n\n这一段说到合川。"
    few = build_article("few", raw, "few.txt", gaz, Meta(title="T", districts=("潼南区",)))
    many = build_article("many", raw, "many.txt", gaz, Meta(title="T", districts=("潼南区", "江津区", "万州区")))
    assert isinstance(few, Article) and isinstance(many, Article)
    assert [(c.section, c.districts) for c in chunk_article(few, DEFAULT, gaz)] == [
        (None, ("潼南区",)),
        ("江津 小标题", ("江津区",)),  # the section's own district wins over the article's
        ("其他消息", ("合川区", "潼南区")),
    ]
    assert [c.districts for c in chunk_article(many, DEFAULT, gaz)] == [(), ("江津区",), ("合川区",)]


def test_captions_bylines_and_headings_stay_out(seeds: dict[str, Article], gaz: Gazetteer) -> None:
    joined = "\n".join(c.text for a in seeds for c in chunks_of(seeds, gaz, a))
    for outside in ["摄/", "融媒体中心 ", "记者 ", "供图", "重庆华峰新材料产业园。\n", "核心提示", "①璧山"]:
        assert outside not in joined


def test_embed_text_without_context(seeds: dict[str, Article], gaz: Gazetteer) -> None:
    article = seeds["001_e147faaa81754076"]
    plain = chunk_article(article, ChunkerSettings(context=False), gaz)
    assert all(c.embed_text == c.text for c in plain)
    first = chunk_article(article, DEFAULT, gaz)[0]
    assert first.embed_text == f"綦江全力建设重庆区域中心城市\n{first.text}"  # heading equal to the title: once


def test_overlong_sentence_is_cut_at_commas(gaz: Gazetteer) -> None:
    sentence = "，".join(["这是一个很长的分句"] * 12) + "。"
    article = build_article("x", f"标题\n\n{sentence}短句一。短句二。", "x.txt", gaz, Meta(title="T"))
    assert isinstance(article, Article)
    chunks = chunk_article(article, ChunkerSettings(max_chars=50), gaz)
    assert [len(c.text) for c in chunks[:-1]] == [50, 50, 20]
    assert all(c.text.endswith("，") for c in chunks[:2]) and chunks[-1].text == "短句一。短句二。"
    hard = build_article("y", "无标点" * 40, "y.txt", gaz, Meta(title="T"))
    assert isinstance(hard, Article)
    assert [len(c.text) for c in chunk_article(hard, ChunkerSettings(max_chars=50), gaz)] == [50, 50, 20]


CJK = "潼南柠檬产业发展重庆城市新区经济企业项目建设合作开放科技创新农业工业"
SENTENCE = st.builds(
    lambda body, end: body + end,
    st.text(alphabet=CJK + "，、“”（）12AB ", min_size=1, max_size=40),
    st.sampled_from(["。", "！", "？", "；", "……", "。”", "）", ""]),
)
PARAGRAPH = st.one_of(
    st.lists(SENTENCE, min_size=1, max_size=6).map("".join),
    st.text(alphabet=CJK + " ", min_size=2, max_size=20),  # heading-like
    st.sampled_from(["摄/王五", "本报记者 张三", "某区融媒体中心 李四", "会场一角。"]),
)


@st.composite
def raw_articles(draw: st.DrawFn) -> str:
    paragraphs = draw(st.lists(PARAGRAPH, min_size=1, max_size=12))
    out = []
    for p in paragraphs:
        if len(p) > 4 and draw(st.booleans()):
            cut = draw(st.integers(1, len(p) - 1))
            p = p[:cut] + "\n\n" + p[cut:]  # a print break in mid-sentence
        out.append(p + draw(st.sampled_from(["\n\n", "\n\n\n\n", "\n", "  \r\n\r\n"])))
    return "".join(out)


@settings(max_examples=100, deadline=None)
@given(raw_articles(), st.integers(8, 300), st.integers(0, 2), st.booleans())
def test_property_chunks_are_verbatim_and_bounded(
    gaz: Gazetteer, raw: str, max_chars: int, overlap: int, context: bool
) -> None:
    article = build_article("gen", raw, "gen.txt", gaz, Meta(title="标题"))
    if isinstance(article, Skipped):
        assert not raw.strip()
        return
    config = ChunkerSettings(max_chars=max_chars, overlap_sentences=overlap, context=context)
    check_chunks(article, chunk_article(article, config, gaz), config)


def test_ncppolicies_chunks(gaz: Gazetteer) -> None:
    if not NCP.exists():
        pytest.skip("../shared/benchmarks is not checked out beside the project")
    started = time.perf_counter()
    articles = [a for a in read_articles([NCP], gaz) if isinstance(a, Article)]
    chunks = {a.article_id: chunk_article(a, DEFAULT, gaz) for a in articles}
    assert time.perf_counter() - started < 10
    assert len(articles) == 599 and sum(map(len, chunks.values())) > 3000
    answers = [json.loads(line) for line in NCP.with_name("questions.jsonl").read_text("utf-8").splitlines()]
    by_id = {a.article_id: a for a in articles}
    for article in articles:
        for c in chunks[article.article_id]:
            assert article.text[c.start : c.end] == c.text and len(c.text) <= DEFAULT.max_chars
    assert all(q["answer"] in by_id[q["doc_id"]].text for q in answers)
