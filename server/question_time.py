"""The time a question asks about: a year or a period (2023年, 去年, 今年一季度, 2023年上半年, 2023年11月), and
whether it asks for the newest (最新, 最近, 近期).

Hand-written rather than jionlp's time parser, measured: jionlp reads these forms well (it was tried) but brings
218 MB of dictionaries and a 0.4 s import that prints a banner to stdout, for the handful of forms a question
about policy news uses; everything here is a few patterns. A month or day without a year (「11月4日」) names no
period: which year it means is exactly what is unknown.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

from indexer.dates import cn_number

_YEAR = r"(?P<year>(?:19|20)[0-9]{2})\s*年|(?P<rel>今年|本年|去年|上一?年|前年|明年)(?:度)?"
_PART = (
    r"(?:(?:第)?(?P<q>[一二三四1-4])\s*季度|(?P<half>上|下)半年|(?P<m>[0-9]{1,2}|[一二三四五六七八九十]{1,3})\s*月(?!\s*[0-9一二三四五六七八九十]+\s*[日号])"
    r"|(?P<end>年底|年末)|(?P<start>年初))?"
)
_PERIOD = re.compile(rf"(?:{_YEAR})\s*{_PART}")
_RECENT = re.compile(r"最新|最近|近期|新近|日前")
_RELATIVE = {"今年": 0, "本年": 0, "去年": -1, "上年": -1, "上一年": -1, "前年": -2, "明年": 1}


@dataclass(frozen=True)
class QuestionTime:
    first: dt.date | None = None  # the period the question names, if any
    last: dt.date | None = None
    recent: bool = False  # asks for the newest
    explicit: bool = False  # the year is written out (2023年), not relative to today (今年, 去年)

    @property
    def period(self) -> tuple[dt.date, dt.date] | None:
        return (self.first, self.last) if self.first and self.last else None

    @property
    def year(self) -> int | None:
        return self.first.year if self.first and self.last and self.first.year == self.last.year else None


def question_time(question: str, today: dt.date | None = None) -> QuestionTime:
    today = today or dt.date.today()
    recent = bool(_RECENT.search(question))
    match = _PERIOD.search(question)
    if match is None:
        return QuestionTime(recent=recent)
    year = int(match["year"]) if match["year"] else today.year + _RELATIVE[match["rel"]]
    first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
    if match["q"]:
        quarter = cn_number(match["q"]) or 1
        first = dt.date(year, 3 * quarter - 2, 1)
        last = dt.date(year, 3 * quarter, calendar.monthrange(year, 3 * quarter)[1])
    elif match["half"]:
        first, last = (first, dt.date(year, 6, 30)) if match["half"] == "上" else (dt.date(year, 7, 1), last)
    elif match["m"] and (month := cn_number(match["m"])) and 1 <= month <= 12:
        first, last = dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])
    return QuestionTime(first, last, recent, explicit=bool(match["year"]))
