"""Time in retrieval: the date filter (a property test over random ranges), recency for 最新/最近, periods named in
questions, and answers that do not come from an article about another year. Real index (SQLite, FAISS, BM25),
fake embedder."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexer.build import build_index
from indexer.dates import ArticleDate
from indexer.settings import IndexSettings
from server.resources import Resources, load_resources
from server.retrieval import RetrievalConfig
from server.schemas import AskRequest
from server.service import run_ask
from server.settings import ServerSettings
from server.time_filter import DateRange
from tests.fakes import FakeEmbedder

TODAY = dt.date(2025, 6, 1)
# Yearly reports on one topic, with different figures: dated copies of "the same" article.
YEARS = {2019: "8.1", 2020: "9.4", 2021: "10.2", 2022: "11.5", 2023: "12.8"}
DATES = [
    "2019-03-04", "2020-07", "2021", "2021-12-31", "2022-02-28", "2022-11-15", "2023-06", "2023-09-30", "2024",
    "2024-01-01", "11月4日", None, None,
]  # fmt: skip


def _article(name: str, date: str | None, body: str) -> tuple[str, str]:
    front = f"date: {date}\n" if date else ""
    return name, f"---\ntitle: {name}\n{front}source: 测试日报\n---\n\n{body}\n"


@pytest.fixture(scope="module")
def resources(tmp_path_factory: pytest.TempPathFactory) -> Resources:
    root = tmp_path_factory.mktemp("time")
    corpus = root / "corpus"
    corpus.mkdir()
    files = [
        _article(f"柠檬产值{year}", f"{year}-12-20", f"潼南区柠檬产业年产值达到{value}亿元，柠檬种植面积持续扩大。")
        for year, value in YEARS.items()
    ]
    files += [
        _article(f"政务服务{i:02d}", date, f"大足区政务服务中心第{i}次推出便民举措，办事时间缩短{i}天。")
        for i, date in enumerate(DATES)
    ]
    for name, text in files:
        (corpus / f"{name}.md").write_text(text, encoding="utf-8")
    settings = IndexSettings(index_dir=root / "index", model="fake/bigram-hash")
    embedder = FakeEmbedder()
    build_index([corpus], settings, lambda: embedder)
    loaded = load_resources(settings, ServerSettings(), embedder=embedder)
    # Questions say 今年/去年 relative to a fixed day, so the test does not change with the calendar.
    retriever = loaded.retriever
    object.__setattr__(retriever, "config", RetrievalConfig(**{**retriever.config.__dict__, "today": TODAY}))
    return loaded


def _span(article_date: str | None, precision: str | None) -> tuple[dt.date, dt.date] | None:
    if article_date is None or precision is None:
        return None
    return ArticleDate(article_date, precision).span()  # type: ignore[arg-type]


days = st.dates(min_value=dt.date(2018, 1, 1), max_value=dt.date(2025, 12, 31))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=st.none() | days, last=st.none() | days, undated=st.booleans())
def test_date_filter_returns_only_articles_in_range(
    resources: Resources, first: dt.date | None, last: dt.date | None, undated: bool
) -> None:
    if first and last and first > last:
        first, last = last, first
    dates = DateRange(first, last, undated)
    found = resources.retriever.search("大足区政务服务中心便民举措", k=50, dates=dates)
    # Only articles in range...
    assert all(dates.admits(_span(p.article.date, p.article.date_precision)) for p in found)
    # ...and every 政务服务 article in range (the query matches all of them).
    returned = {p.article.article_id for p in found if p.article.article_id.startswith("政务服务")}
    expected = {
        a.article_id
        for a in resources.index.iter_articles()
        if a.article_id.startswith("政务服务") and dates.admits(_span(a.date, a.date_precision))
    }
    assert returned == expected


def test_partial_and_month_dates_against_ranges(resources: Resources) -> None:
    ids = lambda r: {p.article.article_id for p in resources.retriever.search("大足区政务服务中心", k=50, dates=r)}  # noqa: E731
    assert ids(DateRange(dt.date(2020, 7, 1), dt.date(2020, 7, 31))) == {"政务服务01"}  # "2020-07" fits July
    assert "政务服务01" not in ids(DateRange(dt.date(2020, 7, 2), dt.date(2020, 12, 31)))  # not wholly inside
    assert "政务服务10" not in ids(DateRange(dt.date(2000, 1, 1), None))  # 11月4日: year unknown, so undated
    assert "政务服务10" in ids(DateRange(dt.date(2000, 1, 1), None, include_undated=True))


def test_recency_ranks_the_newest_relevant_article_first(resources: Resources) -> None:
    plain = resources.retriever.search("潼南区柠檬产业年产值", k=5)
    newest = resources.retriever.search("潼南区柠檬产业最新的年产值", k=5)
    assert newest[0].article.article_id == "柠檬产值2023"
    assert [p.article.date for p in newest[:3]] == ["2023-12-20", "2022-12-20", "2021-12-20"]
    assert plain[0].article.article_id != "柠檬产值2023" or plain[1].score == plain[0].score


@pytest.mark.parametrize("year", sorted(YEARS))
def test_a_year_in_the_question_prefers_that_years_article(resources: Resources, year: int) -> None:
    found = resources.retriever.search(f"{year}年潼南区柠檬产业年产值多少", k=3)
    assert found[0].article.article_id == f"柠檬产值{year}"


def test_relative_years_resolve_against_today(resources: Resources) -> None:
    # TODAY is in 2025: 去年 is 2024 (no article), 前年 is 2023.
    assert resources.retriever.search("前年潼南区柠檬产业年产值", k=1)[0].article.article_id == "柠檬产值2023"


def test_an_explicit_year_is_not_answered_from_another_years_article(resources: Resources) -> None:
    answered = run_ask(resources, AskRequest(question="2021年潼南区柠檬产业年产值多少？"))
    assert answered.answer is not None and "10.2亿元" in answered.answer
    assert {c.article_id for c in answered.citations} == {"柠檬产值2021"}
    assert all(p.date is None or p.date.startswith("2021") for p in answered.passages)
    # A year no article is about: nothing from the other years.
    missing = run_ask(resources, AskRequest(question="2018年潼南区柠檬产业年产值多少？"))
    assert missing.answer is None


def test_date_fields(resources: Resources) -> None:
    # A reversed range is valid input (the schema cannot order two fields) and an empty range: nothing matches.
    reversed_range = AskRequest(question="柠檬", date_from="2024-01-01", date_to="2023-01-01").date_range()
    assert reversed_range == DateRange(dt.date(2024, 1, 1), dt.date(2023, 1, 1))
    assert resources.retriever.search("潼南区柠檬产业年产值", k=10, dates=reversed_range) == []
    assert run_ask(
        resources, AskRequest(question="潼南区柠檬产值", date_from="2024-01-01", date_to="2023-01-01")
    ).abstained
    with pytest.raises(ValueError, match="date"):
        AskRequest(question="柠檬", date_from="2023-13-01")
    assert AskRequest(question="柠檬").date_range() is None


def test_the_page_has_the_range_control() -> None:
    page = (Path(__file__).resolve().parents[1] / "server" / "static" / "index.html").read_text(encoding="utf-8")
    for needle in ('id="date-from"', 'id="date-to"', 'id="include-undated"', "body.date_from", "formatDate"):
        assert needle in page
