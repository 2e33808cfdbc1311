"""Article dates with their precision, where they come from, and the time a question asks about."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from indexer.dates import ArticleDate, date_from_text, parse_value
from indexer.districts import Gazetteer
from indexer.records import Article
from indexer.sources import read_articles
from server.question_time import question_time
from server.time_words import with_years


@pytest.mark.parametrize(
    ("value", "iso", "precision"),
    [
        ("2023-11-20", "2023-11-20", "day"),
        ("2023/1/5", "2023-01-05", "day"),
        ("2023年11月20日", "2023-11-20", "day"),
        ("二〇二三年十一月二十日", "2023-11-20", "day"),
        ("2023年11月", "2023-11", "month"),
        ("2023-11", "2023-11", "month"),
        ("2023", "2023", "year"),
        (2023, "2023", "year"),
        ("11月4日", "--11-04", "partial"),
        ("D:20231120103000+08'00'", "2023-11-20", "day"),
        (dt.date(2023, 11, 20), "2023-11-20", "day"),
        (dt.datetime(2023, 11, 20, 9, 30), "2023-11-20", "day"),
    ],
)
def test_metadata_values(value: object, iso: str, precision: str) -> None:
    assert parse_value(value) == ArticleDate(iso, precision)


@pytest.mark.parametrize("value", ["", "明天见", "2023年13月5日", "2月30日", None, 12])
def test_values_that_are_no_date(value: object) -> None:
    assert parse_value(value) is None


NOTICE = "关于印发某办法的通知\n\n各单位：……现印发给你们。\n\n万州区人民政府办公室\n2024年5月20日"
NEWS = "工业和信息化部组织开展督导检查 2020年2月4日，为做好疫情防控物资保障工作，加强生产质量检查。"
PARTIAL = "11月4日，市政府新闻发布厅举行发布会，潼南区委主要负责人介绍了全区发展的情况和今后的打算。"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("标题\n\n发布时间：2023-11-20 10:30  来源：重庆日报\n\n正文很长。", ArticleDate("2023-11-20", "day")),
        (NOTICE, ArticleDate("2024-05-20", "day")),
        (NEWS, ArticleDate("2020-02-04", "day")),
        (PARTIAL, ArticleDate("--11-04", "partial")),
        # A bare year in the lead is what the news is about, not when it was published.
        ("2024年，全区“水公铁”总运量达4700万吨，西部陆海新通道江津班列开行1804列，居全市第一。", None),
    ],
)  # fmt: skip
def test_date_lines_in_the_text(text: str, expected: ArticleDate | None) -> None:
    assert date_from_text(text) == expected


def test_date_spans_and_completion() -> None:
    assert ArticleDate("2023-02", "month").span() == (dt.date(2023, 2, 1), dt.date(2023, 2, 28))
    assert ArticleDate("2024", "year").span() == (dt.date(2024, 1, 1), dt.date(2024, 12, 31))
    assert ArticleDate("--11-04", "partial").span() is None
    assert ArticleDate("--11-04", "partial").with_year(2023) == ArticleDate("2023-11-04", "day")
    assert ArticleDate("2022-11-04", "day").with_year(2023) == ArticleDate("2022-11-04", "day")


def _read(folder: Path, **kwargs: object) -> dict[str, Article]:
    items = read_articles([folder], Gazetteer.load(), **kwargs)  # type: ignore[arg-type]
    return {a.article_id: a for a in items if isinstance(a, Article)}


def test_a_partial_date_gets_a_year_only_from_a_stated_source(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("---\ndate: 11月4日\n---\n正文。", encoding="utf-8")
    (tmp_path / "b.md").write_text("---\ndate: 11月4日\nyear: 2022\n---\n正文。", encoding="utf-8")
    (tmp_path / "c.md").write_text("---\ndate: 2021-03-01\n---\n正文。", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "d.md").write_text("---\ndate: 11月4日\n---\n正文。", encoding="utf-8")
    (tmp_path / "sub" / "_defaults.yaml").write_text("year: 2023\nsource: 区融媒体中心\n", encoding="utf-8")
    plain = _read(tmp_path)
    assert (plain["a"].date, plain["a"].date_precision) == ("--11-04", "partial")
    assert (plain["b"].date, plain["b"].date_precision) == ("2022-11-04", "day")  # front matter `year`
    assert (plain["sub/d"].date, plain["sub/d"].source) == ("2023-11-04", "区融媒体中心")  # the folder's defaults
    defaulted = _read(tmp_path, default_year=2020)  # --default-year: only where nothing else gives a year
    assert [defaulted[k].date for k in ("a", "b", "c", "sub/d")] == [
        "2020-11-04",
        "2022-11-04",
        "2021-03-01",
        "2023-11-04",
    ]


def test_question_periods() -> None:
    today = dt.date(2026, 5, 1)
    assert question_time("2023年潼南柠檬产值多少？", today).period == (dt.date(2023, 1, 1), dt.date(2023, 12, 31))
    assert question_time("去年江津班列开行多少列？", today).period == (dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    assert question_time("今年一季度技改投资多少？", today).period == (dt.date(2026, 1, 1), dt.date(2026, 3, 31))
    assert question_time("2024年上半年", today).period == (dt.date(2024, 1, 1), dt.date(2024, 6, 30))
    assert question_time("2023年11月的发布会", today).period == (dt.date(2023, 11, 1), dt.date(2023, 11, 30))
    assert question_time("2023年潼南", today).explicit and not question_time("去年", today).explicit
    assert question_time("綦江11月4日发布会说了什么？", today).period is None  # no year: no period
    assert question_time("潼南的柠檬产业一年产值多少？", today).period is None
    assert question_time("最新的稳岗政策是什么？", today).recent and not question_time("稳岗政策", today).recent


def test_relative_years_shown_with_the_articles_year() -> None:
    assert (
        with_years("今年一季度投入13.9亿元，去年为10亿元。", 2024)
        == "今年（2024年）一季度投入13.9亿元，去年（2023年）为10亿元。"
    )
    assert with_years("今年一季度投入13.9亿元。", None) == "今年一季度投入13.9亿元。"
    assert with_years("今年（2024年）一季度", 2024) == "今年（2024年）一季度"
