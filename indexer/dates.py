"""An article's publication date, as ISO text with its precision: from metadata values and the text's own date lines.

Precisions: "day" (2023-11-20), "month" (2023-11), "year" (2023), and "partial" (--11-04: month and day, year
unknown). A partial date stays partial unless a stated source gives the year (front matter `year`, a folder's
`_defaults.yaml`, `policyqa index --default-year`); it is never guessed, so a date filter never admits it.

Values from metadata go through dateparser (a kept library that reads ISO, slashes, "D:2023..." PDF dates and
Chinese dates); the text is searched with a few patterns first, because dateparser on every line of 50,000
articles would cost more than the rest of reading them.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal

Precision = Literal["day", "month", "year", "partial"]
PRECISIONS: tuple[Precision, ...] = ("day", "month", "year", "partial")

_CN_DIGITS = {"〇": 0, "○": 0, "零": 0, "O": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7}
_CN_DIGITS |= {"八": 8, "九": 9}
_NUM = r"[0-9０-９]{1,4}|[〇○零一二三四五六七八九十]{1,4}"
# 2023年11月20日, 2023年11月, 2023-11-20, 2023/11/20, 2023.11.20, 二〇二三年十一月二十日, 11月4日.
_CN_DATE = re.compile(
    rf"(?:(?P<y>[12][0-9]{{3}}|[12１２][０-９]{{3}}|[一二][〇○零一二三四五六七八九]{{3}})\s*年\s*)?"
    rf"(?P<m>{_NUM})\s*月(?:\s*(?P<d>{_NUM})\s*[日号])?"
)
_ISO_DATE = re.compile(r"(?<![0-9])(?P<y>(?:19|20)[0-9]{2})[-/.](?P<m>[01]?[0-9])(?:[-/.](?P<d>[0-3]?[0-9]))?(?![0-9])")
_LABEL = re.compile(r"^\s*[【\[]?(?:发布|发文|成文|印发|更新|公开)?(?:时间|日期)[】\]]?\s*[:：]?\s*")
# A line that is only a date (a notice's 成文日期 under the issuing body, a dateline), maybe with a weekday.
_STANDALONE_MAX_CHARS = 24
_HEAD_LINES = 12
_TAIL_LINES = 6
_LEAD_CHARS = 120
_TIMES = ("上午", "下午", "晚间", "凌晨")


@dataclass(frozen=True)
class ArticleDate:
    iso: str
    precision: Precision

    @property
    def year(self) -> int | None:
        return None if self.precision == "partial" else int(self.iso[:4])

    def span(self) -> tuple[dt.date, dt.date] | None:
        """First and last day the date may mean; None when the year is unknown."""
        if self.precision == "partial":
            return None
        year = int(self.iso[:4])
        if self.precision == "year":
            return dt.date(year, 1, 1), dt.date(year, 12, 31)
        month = int(self.iso[5:7])
        if self.precision == "month":
            return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])
        day = dt.date.fromisoformat(self.iso)
        return day, day

    def with_year(self, year: int | None) -> ArticleDate:
        """A partial date completed with a year a stated source gives; anything else unchanged."""
        if self.precision != "partial" or year is None:
            return self
        if not self.iso:  # no date at all: the stated year is all that is known
            return ArticleDate(f"{year:04d}", "year")
        return make_date(year, int(self.iso[2:4]), int(self.iso[5:7])) or self


def cn_number(text: str | None) -> int | None:
    if not text:
        return None
    text = text.translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    if text.isdigit():
        return int(text)
    if "十" in text:  # 十, 十一, 二十, 二十三, 三十一
        tens, _, units = text.partition("十")
        return _CN_DIGITS.get(tens, 1 if not tens else -100) * 10 + (_CN_DIGITS.get(units, -100) if units else 0)
    digits = [_CN_DIGITS.get(ch) for ch in text]
    return None if None in digits else int("".join(map(str, digits)))


def make_date(year: int | None, month: int | None, day: int | None) -> ArticleDate | None:
    """An ArticleDate from parts, or None when they do not form a real date."""
    if month is not None and not 1 <= month <= 12:
        return None
    if year is not None and not 1900 <= year <= 2100:
        return None
    if year is None:
        if month is None or day is None or not 1 <= day <= (29 if month == 2 else calendar.monthrange(2001, month)[1]):
            return None
        return ArticleDate(f"--{month:02d}-{day:02d}", "partial")
    if month is None:
        return ArticleDate(f"{year:04d}", "year")
    if day is None:
        return ArticleDate(f"{year:04d}-{month:02d}", "month")
    try:
        return ArticleDate(dt.date(year, month, day).isoformat(), "day")
    except ValueError:
        return None


def _match_date(match: re.Match[str]) -> ArticleDate | None:
    return make_date(cn_number(match.group("y")), cn_number(match.group("m")), cn_number(match.group("d")))


def date_in(text: str) -> ArticleDate | None:
    """The first date written in `text` (Chinese or numeric form)."""
    found = [m for m in (_ISO_DATE.search(text), _CN_DATE.search(text)) if m]
    for match in sorted(found, key=lambda m: m.start()):
        if (date := _match_date(match)) is not None:
            return date
    return None


def parse_value(value: object) -> ArticleDate | None:
    """A metadata value (front matter, JSONL field, HTML meta, PDF/DOCX properties) as a date, or None."""
    if isinstance(value, dt.datetime):
        return ArticleDate(value.date().isoformat(), "day")
    if isinstance(value, dt.date):
        return ArticleDate(value.isoformat(), "day")
    if isinstance(value, int) and 1900 <= value <= 2100:
        return ArticleDate(f"{value:04d}", "year")
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if re.fullmatch(r"(?:19|20)[0-9]{2}", text):
        return ArticleDate(text, "year")
    if re.fullmatch(r"(?:19|20)[0-9]{2}-[01][0-9]", text):
        return make_date(int(text[:4]), int(text[5:]), None)
    if (found := date_in(text)) is not None or re.search("[年月日号]", text):
        return found  # a Chinese date the patterns reject (13月) is invalid, not something for dateparser to guess
    return _dateparser(text)


def _dateparser(text: str) -> ArticleDate | None:
    """What the patterns miss ("D:20231120103000+08'00'", "20 Nov 2023", RFC 2822): dateparser, day precision."""
    import dateparser

    raw = text.removeprefix("D:")
    raw = raw[:8] if re.fullmatch(r"[0-9]{8}.*", raw) else raw
    formats = ["%Y%m%d"] if re.fullmatch(r"[0-9]{8}", raw) else None
    parsed = dateparser.parse(raw, date_formats=formats, settings={"PREFER_DAY_OF_MONTH": "first"})
    if parsed is None or not 1900 <= parsed.year <= 2100:
        return None
    return ArticleDate(parsed.date().isoformat(), "day")


def date_from_text(text: str) -> ArticleDate | None:
    """The article's own date line: a labelled line (发布时间：…, 日期：…) or a line that is only a date, among the
    first and last lines; else a full date opening the lead (news: 「2020年2月4日，…」). Full dates win over
    partial ones found earlier."""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    candidates = [*lines[:_HEAD_LINES], *lines[-_TAIL_LINES:]] if len(lines) > _HEAD_LINES else lines
    partial: ArticleDate | None = None
    for line in candidates:
        labelled = _LABEL.match(line)
        if labelled or len(line) <= _STANDALONE_MAX_CHARS:
            rest = line[labelled.end() :] if labelled else line
            date = date_in(rest[:40])
            if date is None or (not labelled and not _only_date(rest)):
                continue
            if date.precision != "partial":
                return date
            partial = partial or date
    lead = _dateline(_lead(text))
    if lead is not None and lead.precision == "day":
        return lead
    return partial or lead


def _dateline(lead: str) -> ArticleDate | None:
    """A day written as a news dateline: opening the body (「2020年2月4日，…」, after the headline and a space)
    or an agency's (「新华社北京1月28日电」). A date anywhere else in the lead is what the text is about (a birth
    date, 「于2月3日起暂停」), and a bare year or month (「2024年，全区…」) never dates an article."""
    for pattern in (_ISO_DATE, _CN_DATE):
        for match in pattern.finditer(lead):
            before, after = lead[: match.start()], lead[match.end() : match.end() + 2]
            starts = not before or before[-1] in " \u3000"
            opens = starts and (after[:1] in ("，", ",", "讯") or after in _TIMES)
            agency = after[:1] == "电" and re.search(r"(?:社|报|台|网)[^，。]{0,8}$", before)
            date = _match_date(match) if opens or agency else None
            if date is not None and date.precision in ("day", "partial"):
                return date
    return None


def _only_date(line: str) -> bool:
    """True when little besides a date and a weekday is on the line."""
    rest = _CN_DATE.sub("", _ISO_DATE.sub("", line))
    rest = re.sub(r"[\s（）()星期周一二三四五六日天、，,。.:：—-]|上午|下午|[0-9:]", "", rest)
    return len(rest) <= 2


def _lead(text: str) -> str:
    """The opening of the first paragraph long enough to be body text (a dateline opens it, if any)."""
    for paragraph in text.split("\n"):
        if len(paragraph.strip()) >= 40:
            # Past the headline when title and body share one line (「标题 2020年2月4日，…」).
            return paragraph.strip()[:_LEAD_CHARS]
    return ""
