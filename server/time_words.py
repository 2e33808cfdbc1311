"""「今年」 inside an article means the article's year: when a sentence is shown, relative year words get the
year they stand for (「今年（2023年）一季度」). Only for display; stored texts and offsets stay verbatim."""

from __future__ import annotations

import re

from indexer.records import Article

_RELATIVE = re.compile(r"(今年|本年|去年|上年|前年|明年)(?![（(][0-9]{4})")
_OFFSET = {"今年": 0, "本年": 0, "去年": -1, "上年": -1, "前年": -2, "明年": 1}


def article_year(article: Article) -> int | None:
    if article.date and article.date_precision in ("day", "month", "year"):
        return int(article.date[:4])
    return None


def with_years(text: str, year: int | None) -> str:
    """`text` with 今年/去年/明年... followed by the year they mean, given the article's year (None: unchanged)."""
    if year is None:
        return text
    return _RELATIVE.sub(lambda m: f"{m[1]}（{year + _OFFSET[m[1]]}年）", text)
