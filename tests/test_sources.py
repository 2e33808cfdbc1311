"""Reading corpus files into articles: formats, metadata, ids, sections, districts and malformed input."""

from __future__ import annotations

import json
import time
from itertools import pairwise
from pathlib import Path

import pytest

from indexer.clean import clean_text
from indexer.districts import Gazetteer
from indexer.records import Article, Skipped
from indexer.sources import iter_source_files, read_articles, split_front_matter
from tests.documents import write_html

CORPUS = Path(__file__).parents[1] / "corpus"
NCP = Path(__file__).parents[2] / "shared" / "benchmarks" / "ncppolicies" / "corpus.jsonl"
WEST_EIGHT = ("璧山区", "铜梁区", "大足区", "合川区", "江津区", "荣昌区", "潼南区", "永川区")
PAGE_EIGHT = ("渝北区", "璧山区", "巴南区", "江津区", "九龙坡区", "黔江区", "潼南区", "万州区")


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return Gazetteer.load()


@pytest.fixture(scope="module")
def seeds(gaz: Gazetteer) -> dict[str, Article]:
    items = list(read_articles([CORPUS], gaz, root=CORPUS))
    assert all(isinstance(a, Article) for a in items), items
    return {a.article_id: a for a in items if isinstance(a, Article)}


@pytest.fixture(scope="module")
def bare(gaz: Gazetteer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Article]:
    """The seed articles without their front matter: what the reader infers by itself."""
    folder = tmp_path_factory.mktemp("bare")
    for path in sorted(CORPUS.glob("*.txt")):
        split = split_front_matter(path.read_text(encoding="utf-8"))
        assert not isinstance(split, str)
        (folder / path.name).write_text(split[1], encoding="utf-8")
    return {a.article_id: a for a in read_articles([folder], gaz) if isinstance(a, Article)}


def test_seed_metadata_from_front_matter(seeds: dict[str, Article]) -> None:
    assert sorted(seeds) == [
        "000_15adcedcf932199a",
        "001_e147faaa81754076",
        "002_39a0fae4dbddedf2",
        "003_115a21c0de3ff03d",
        "004_1b4fb7c91f6e36b8",
    ]
    tongnan = seeds["000_15adcedcf932199a"]
    assert (tongnan.title, tongnan.date, tongnan.source) == (
        "潼南 谱写“一极一堡、两区两城两地”高质量发展新篇章",
        "--11-04",
        "重庆日报",
    )
    assert tongnan.path == "000_15adcedcf932199a.txt"
    assert seeds["001_e147faaa81754076"].source == "新重庆-重庆日报"
    assert seeds["003_115a21c0de3ff03d"].districts == WEST_EIGHT
    assert seeds["004_1b4fb7c91f6e36b8"].districts == PAGE_EIGHT
    assert seeds["003_115a21c0de3ff03d"].date is None


def test_text_below_front_matter_is_cleaned_as_published(seeds: dict[str, Article]) -> None:
    for article in seeds.values():
        body = split_front_matter((CORPUS / f"{article.article_id}.txt").read_text(encoding="utf-8"))
        assert not isinstance(body, str)
        cleaned = clean_text(body[1])
        assert article.text == cleaned.text and article.excluded == cleaned.excluded
        assert not article.text.startswith("---") and "districts:" not in article.text


def test_districts_inferred_without_front_matter(bare: dict[str, Article]) -> None:
    assert bare["000_15adcedcf932199a"].districts == ("潼南区",)
    assert bare["001_e147faaa81754076"].districts == ("綦江区",)
    assert bare["002_39a0fae4dbddedf2"].districts == ("涪陵区",)
    assert bare["003_115a21c0de3ff03d"].districts == WEST_EIGHT
    # The 璧山 heading also names 重庆科学城 (重庆高新区): the union of section districts keeps it.
    assert [d for d in bare["004_1b4fb7c91f6e36b8"].districts if d != "重庆高新区"] == list(PAGE_EIGHT)
    assert bare["001_e147faaa81754076"].title == "扛起新使命 区县谈落实"  # first heading when no title is given


def test_sections_cover_the_text_from_each_heading(seeds: dict[str, Article]) -> None:
    for article in seeds.values():
        sections = article.sections
        assert sections, article.article_id
        for a, b in pairwise(sections):
            assert a.end == b.start
        assert sections[-1].end == len(article.text)
        for s in sections:
            assert article.text[s.start : s.start + len(s.heading)] == s.heading
    west = seeds["003_115a21c0de3ff03d"].sections
    assert [s.districts for s in west[1:]] == [(d,) for d in WEST_EIGHT]
    assert west[0].districts == () and west[1].heading == "璧山 新质生产力汇聚产业发展新势能"


def test_iter_source_files(tmp_path: Path) -> None:
    names = ["b.txt", "a.md", "sub/c.html", "sub/d.jsonl", "notes.doc", ".hidden.txt", ".git/e.txt", "x.htm"]
    for name in [*names, "f.pdf", "g.docx", "_defaults.yaml"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("正文。", encoding="utf-8")
    found = [p.relative_to(tmp_path).as_posix() for p in iter_source_files([tmp_path])]
    assert found == ["a.md", "b.txt", "f.pdf", "g.docx", "sub/c.html", "sub/d.jsonl", "x.htm"]
    assert iter_source_files([tmp_path / "b.txt", tmp_path / "b.txt"]) == [tmp_path / "b.txt"]
    assert iter_source_files([tmp_path / "missing"]) == []


def read(folder: Path, gaz: Gazetteer) -> tuple[dict[str, Article], dict[str, str]]:
    items = list(read_articles([folder], gaz, root=folder))
    articles = {a.article_id: a for a in items if isinstance(a, Article)}
    skipped = {s.path: s.reason for s in items if isinstance(s, Skipped)}
    return articles, skipped


def test_malformed_files_are_skipped_and_good_ones_read(tmp_path: Path, gaz: Gazetteer) -> None:
    (tmp_path / "good.txt").write_text("潼南柠檬\n\n潼南柠檬产业发展很快。", encoding="utf-8")
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "also.md").write_text("---\ntitle: 另一篇\n---\n\n正文在这里。", encoding="utf-8")
    (tmp_path / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blank.md").write_text(" \n\n\t\n", encoding="utf-8")
    (tmp_path / "gbk.txt").write_bytes("重庆".encode("gbk"))
    (tmp_path / "bad_yaml.md").write_text("---\ntitle: [unclosed\n---\n正文。", encoding="utf-8")
    (tmp_path / "open_yaml.md").write_text("---\ntitle: 没有结尾\n正文。", encoding="utf-8")
    (tmp_path / "list_yaml.md").write_text("---\n- a\n- b\n---\n正文。", encoding="utf-8")
    (tmp_path / "only_yaml.md").write_text("---\ntitle: 空\n---\n", encoding="utf-8")
    articles, skipped = read(tmp_path, gaz)
    assert sorted(articles) == ["gbk", "good", "nested/also"]
    assert (articles["gbk"].text, articles["gbk"].encoding) == ("重庆", "gb18030")
    assert articles["nested/also"].title == "另一篇" and articles["nested/also"].path == "nested/also.md"
    assert articles["good"].title == "潼南柠檬" and articles["good"].districts == ("潼南区",)
    assert "binary" in skipped["binary.txt"]
    assert skipped["empty.txt"] == "empty file" and skipped["blank.md"] == "empty file"
    assert skipped["bad_yaml.md"].startswith("bad YAML front matter")
    assert "never closed" in skipped["open_yaml.md"]
    assert "mapping" in skipped["list_yaml.md"]
    assert "no text" in skipped["only_yaml.md"]


def test_jsonl_reads_around_broken_lines(tmp_path: Path, gaz: Gazetteer) -> None:
    lines = [
        json.dumps(
            {"id": "a1", "title": "江津 消息", "text": "区里的消息。", "date": "2024-04-01", "url": "http://x/a1"}
        ),
        '{"id": "a2", "text": "broken',
        json.dumps({"doc_id": 7, "text": "第二篇通知 没有标题的正文，" + "由标题和正文组成的一行文字，" * 5}),
        "",
        json.dumps(["not", "an", "object"]),
        json.dumps({"id": "a3"}),
        json.dumps({"text": "没有编号。"}),
        json.dumps({"id": "a1", "text": "重复的编号。"}),
    ]
    (tmp_path / "docs.jsonl").write_bytes(("\n".join(lines) + "\n").encode() + b'{"id": "a4", "text": "\xff"}\n')
    articles, skipped = read(tmp_path, gaz)
    assert sorted(articles) == ["7", "a1"]
    first = articles["a1"]
    assert (first.title, first.date, first.url, first.districts) == (
        "江津 消息",
        "2024-04-01",
        "http://x/a1",
        ("江津区",),
    )
    assert articles["7"].title == "第二篇通知"  # "标题 正文" on one line: the title stops at the space
    assert skipped["docs.jsonl:2"].startswith("not valid JSON")
    assert "JSON object" in skipped["docs.jsonl:5"]
    assert "text" in skipped["docs.jsonl:6"] and "id" in skipped["docs.jsonl:7"]
    assert "not UTF-8" in skipped["docs.jsonl:9"]
    assert "duplicate article id 'a1'" in skipped["docs.jsonl"]


def test_front_matter_fields(tmp_path: Path, gaz: Gazetteer) -> None:
    (tmp_path / "a.md").write_text(
        "\ufeff---\ntitle: 标题\ndate: 2024-11-04\nsource: 重庆日报\nurl: https://example.org/a\n"
        "districts: 潼南, 开县，不存在区\n---\n正文。\n",
        encoding="utf-8",
    )
    article = read(tmp_path, gaz)[0]["a"]
    assert (article.title, article.date, article.source, article.url) == (
        "标题",
        "2024-11-04",
        "重庆日报",
        "https://example.org/a",
    )
    assert article.districts == ("潼南区", "开州区") and article.text == "正文。"


def test_html_main_text_title_date_and_source_without_site_chrome(tmp_path: Path, gaz: Gazetteer) -> None:
    paragraphs = ["璧山高新区", "第一段说的是璧山的企业&产业，" + "璧山区持续推进产业升级。" * 6, "第二段。" * 12]
    write_html(tmp_path / "page.html", "璧山 新闻", paragraphs, published="2024-03-05 10:30", source="璧山日报")
    articles, skipped = read(tmp_path, gaz)
    page = articles["page"]
    assert skipped == {}
    assert page.title == "璧山 新闻"  # the site's name after 「_」 in <title> is not part of it
    assert (page.date, page.date_precision, page.source) == ("2024-03-05", "day", "璧山日报")
    assert page.text == "\n\n".join(paragraphs)
    for chrome in ("当前位置", "字号", "ICP", "政务公开", "打印"):
        assert chrome not in page.text
    assert page.districts == ("璧山区",)


def test_missing_path_unsupported_and_broken_files(tmp_path: Path, gaz: Gazetteer) -> None:
    (tmp_path / "old.doc").write_bytes(b"\xd0\xcf\x11\xe0")
    (tmp_path / "doc.pdf").write_bytes(b"%PDF")
    (tmp_path / "doc.docx").write_bytes(b"PK\x03\x04 not a zip")
    items = list(
        read_articles([tmp_path / "nope", tmp_path / "old.doc", tmp_path / "doc.pdf", tmp_path / "doc.docx"], gaz)
    )
    assert [type(i) for i in items] == [Skipped] * 4
    assert "no such file" in items[0].reason and "unsupported" in items[1].reason
    assert items[2].reason.startswith("cannot read PDF") and items[3].reason.startswith("cannot read DOCX")


def test_ncppolicies_reads_whole(gaz: Gazetteer) -> None:
    if not NCP.exists():
        pytest.skip("../shared/benchmarks is not checked out beside the project")
    started = time.perf_counter()
    items = list(read_articles([NCP], gaz))
    assert time.perf_counter() - started < 10
    assert not [i for i in items if isinstance(i, Skipped)]
    assert len(items) == 599
    originals = {json.loads(line)["doc_id"]: json.loads(line)["text"] for line in NCP.read_text("utf-8").splitlines()}
    for article in items:
        assert isinstance(article, Article)
        assert article.text == originals[article.article_id].strip()  # one line each: nothing to repair
        assert 0 < len(article.title) <= 60
