"""The short answer inside a cited sentence: the amount, date, place, organisation or list the question asks for.

A span is an exact slice of its article (`article.text[start:end] == text`). Amounts and dates also get a normalised
`value`, with Chinese numerals read by cn2an, so 「四亿多元」 and 「4亿多元」 compare equal. Where the question asks an
open "what / who" (CMRC style), the span is what the sentence puts where the question has its question word: the
text between the question's words just before and just after it, found again in the sentence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from server.answer_features import DATE, PLACE, PLACE_AFTER_PREPOSITION, QUANTITY, quantity_score
from server.question_profile import YEAR, QuestionProfile

ShortType = str  # "quantity" | "money" | "date" | "place" | "organisation" | "list" | "span"

# A full date: 2023年5月12日, 2023年5月, 5月12日, 二〇二三年; or a period: 2023年至2025年, 上半年.
FULL_DATE = re.compile(
    r"(?:(?:19|20)\d{2}|[〇零一二三四五六七八九]{4})年(?:\d{1,2}月(?:\d{1,2}日)?)?(?:[至到—-](?:(?:19|20)\d{2}年)?\d{0,2}月?)?"
    r"|\d{1,2}月\d{1,2}日|\d{1,2}月(?:份|上旬|中旬|下旬)?|[今去明前]年(?:\d{1,2}月)?|[上下]半年|[一二三四]季度"
)
_ORG_END = re.compile(r"(?:公司|集团|大学|医院|学院|中心|银行|协会|研究院|研究所|委员会|政府|局|厅|部)$")
_LIST_ITEM = r"[\u4e00-\u9fffA-Za-z0-9“”《》]{1,16}"
LIST = re.compile(rf"{_LIST_ITEM}(?:、{_LIST_ITEM})+(?:(?:和|及|以及|与|、){_LIST_ITEM})?(?:等)?")
_LIST_LEAD = re.compile(r".*(?:包括|包含|涵盖|有|是|为|：|:|主攻|聚焦|围绕)")
_CLAUSE = re.compile(r"[^，,；;。！？!?\n]+")
# The question words a CMRC-style question puts where its answer would stand.
_ASK = re.compile(r"什么时候|什么样的?|什么|哪[个些里年位家座种一天]|哪|谁|多少|几[个年月天次]?|何时|何地|怎样|如何")
# The answer extractors' place pattern is lazy (shortest name); the span wants the whole name: 重庆悦来国际会议中心.
_WHOLE_PLACE = re.compile(PLACE.pattern.replace("{2,12}?", "{2,12}"))


@dataclass(frozen=True)
class ShortAnswer:
    text: str
    start: int  # offsets into the article's text
    end: int
    type: ShortType
    value: dict[str, Any] | None


def _number(raw: str) -> float | None:
    """Arabic or Chinese numerals, with 万/亿 folded in: 4亿 and 四亿 both give 400000000."""
    import cn2an  # imported here: the CLI's --help must stay instant

    raw = raw.replace(",", "").replace("，", "").replace("．", ".")
    raw = raw.translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    try:
        return float(cn2an.cn2an(raw, "smart"))
    except (ValueError, KeyError, TypeError, IndexError):
        return None


_AMOUNT = re.compile(
    r"(?P<num>(?:\d+(?:[.,．]\d+)*|[０-９]+|[〇零一二两三四五六七八九十百千]+))(?P<q1>余|多|来)?(?P<mult>[万亿千百]*)(?P<q2>余|多)?"
)


def quantity_value(text: str, unit: str) -> dict[str, Any] | None:
    match = _AMOUNT.match(text)
    if match is None:
        return None
    number = _number(match.group("num") + match.group("mult"))
    if number is None:
        return None
    qualifier = match.group("q1") or match.group("q2")
    value: dict[str, Any] = {"amount": number, "unit": unit}
    if qualifier:
        value["approximate"] = "more than" if qualifier in "余多" else "about"
    return value


def date_value(text: str) -> dict[str, Any] | None:
    import cn2an

    iso = cn2an.transform(text, "cn2an") if re.search(r"[〇零一二三四五六七八九]", text) else text
    year = re.search(r"((?:19|20)\d{2})年", iso)
    month = re.search(r"(\d{1,2})月", iso)
    day = re.search(r"(\d{1,2})日", iso)
    if year is None and month is None:
        return None
    parts = [year.group(1) if year else "----"]
    if month:
        parts.append(f"{int(month.group(1)):02d}")
        if day:
            parts.append(f"{int(day.group(1)):02d}")
    return {"date": "-".join(parts)}


def _quantity(profile: QuestionProfile, sentence: str) -> tuple[int, int, ShortType, dict[str, Any] | None] | None:
    best: tuple[float, int, re.Match[str]] | None = None
    for match in QUANTITY.finditer(sentence):
        score = quantity_score(profile, match.group())
        if YEAR.fullmatch(match.group("num")) and match.group("unit") == "年":
            continue
        if sentence[match.start() - 1 : match.start()] == "第":
            continue
        # Among equally fitting amounts, the one nearest a topic word of the question.
        near = min((abs(sentence.find(t) - match.start()) for t, _ in profile.terms if t in sentence), default=99)
        if best is None or (score, -near) > (best[0], -best[1]):
            best = (score, near, match)
    if best is None or best[0] < 0.3:
        return None
    match = best[2]
    unit = match.group("unit")
    kind = "money" if unit in ("元", "美元", "人民币", "元人民币") else "quantity"
    return match.start(), match.end(), kind, quantity_value(match.group(), unit)


def _date(profile: QuestionProfile, sentence: str) -> tuple[int, int, ShortType, dict[str, Any] | None] | None:
    matches = [m for m in FULL_DATE.finditer(sentence) if not (profile.years and m.group()[:4] in profile.years)]
    matches = matches or list(FULL_DATE.finditer(sentence)) or list(DATE.finditer(sentence))
    if not matches:
        return None
    ask = _ASK.search(profile.question)
    right = _right_anchor(profile.question[ask.end() :], sentence) if ask else None
    if right is not None and any(m.end() <= right for m in matches):
        # 2005年获“中国百强中学”称号 for 什么时候获“中国百强中学”称号: the date just before what the question says next.
        match = max((m for m in matches if m.end() <= right), key=lambda m: (m.end(), len(m.group())))
    else:
        match = max(matches, key=lambda m: len(m.group()))
    return match.start(), match.end(), "date", date_value(match.group())


def _place(
    profile: QuestionProfile, sentence: str, place_names: Sequence[str]
) -> tuple[int, int, ShortType, None] | None:
    for match in PLACE_AFTER_PREPOSITION.finditer(sentence):
        if match.group("place") not in profile.question:
            whole = _WHOLE_PLACE.match(sentence, match.start("place"))
            end = whole.end() if whole else match.end("place")
            kind = "organisation" if _ORG_END.search(sentence[match.start("place") : end]) else "place"
            return match.start("place"), end, kind, None
    for name in place_names:
        if name not in profile.districts and (at := sentence.find(name)) >= 0:
            return at, at + len(name), "place", None
    for match in PLACE.finditer(sentence):
        if match.group() not in profile.question:
            kind = "organisation" if _ORG_END.search(match.group()) else "place"
            return match.start(), match.end(), kind, None
    return None


def _list(sentence: str) -> tuple[int, int, ShortType, None] | None:
    best: tuple[int, int] | None = None
    for clause in _CLAUSE.finditer(sentence):
        match = LIST.search(clause.group())
        if match is None:
            continue
        text = match.group()
        lead = _LIST_LEAD.match(text.split("、", 1)[0])
        skip = lead.end() if lead and lead.end() < len(text.split("、", 1)[0]) else 0
        start, end = clause.start() + match.start() + skip, clause.start() + match.end()
        if best is None or sentence.count("、", start, end) > sentence.count("、", *best):
            best = (start, end)
    return (*best, "list", None) if best else None


def _anchored(profile: QuestionProfile, sentence: str) -> tuple[int, int, ShortType, None] | None:
    """What the sentence holds where the question has its question word (谁 / 什么 / 哪): the text between the last
    sentence characters the question shares (as bigrams) before the word after the question word, and that word."""
    question = profile.question.rstrip("？?。！! ")
    ask = _ASK.search(question)
    if ask is None:
        return None
    shared = _shared_positions(question, sentence)
    right = _right_anchor(question[ask.end() :], sentence)
    left_end = max((i + 1 for i in shared if right is None or i < right), default=None)
    if left_end is None and right is None:
        return None
    if left_end is None and right is not None:
        # The question opens with its question word (在什么赛事上…): the answer is the clause before the anchor.
        start = _clause_start(sentence, right)
        if start >= right - 1:
            start = _clause_start(sentence, max(0, right - 1))
    else:
        start = left_end if left_end is not None else 0
    end = right if right is not None and right > start else _clause_end(sentence, start)
    start, end = _trimmed(sentence, start, end)
    if not 0 < end - start <= MAX_SPAN_CHARS:
        return None
    return start, end, "span", None


MAX_SPAN_CHARS = 40
_LEADING = "是为了的：:，,在于由被将即乃"
_TRAILING = "的是了，,、：:"


def _shared_positions(question: str, sentence: str) -> set[int]:
    """Sentence positions covered by a character bigram of the question."""
    grams = {question[i : i + 2] for i in range(len(question) - 1)}
    return {j for i in range(len(sentence) - 1) if sentence[i : i + 2] in grams for j in (i, i + 1)}


def _right_anchor(after: str, sentence: str) -> int | None:
    """Where the question's words after its question word start in the sentence (their first bigram found)."""
    after = after.lstrip("的")
    for size in range(min(len(after), 8), 1, -1):
        if (at := sentence.find(after[:size])) >= 0:
            return at
    for i in range(1, min(len(after) - 1, 4)):
        if (at := sentence.find(after[i : i + 2])) >= 0:
            return at
    return None


def _trimmed(sentence: str, start: int, end: int) -> tuple[int, int]:
    """Without a leading parenthesis (dates, foreign names), copulas and particles at either end."""
    while start < end:
        if sentence[start] in "（(":
            close = sentence.find("）" if sentence[start] == "（" else ")", start)
            if 0 <= close < end - 1:
                start = close + 1
                continue
        if sentence[start] in _LEADING:
            start += 1
            continue
        break
    while end > start and sentence[end - 1] in _TRAILING:
        end -= 1
    return start, end


def _clause_start(sentence: str, at: int) -> int:
    cut = max(sentence.rfind(p, 0, at) for p in "，,；;：:。")
    return cut + 1


def _clause_end(sentence: str, at: int) -> int:
    ends = [e for e in (sentence.find(p, at) for p in "，,；;。") if e >= 0]
    return min(ends) if ends else len(sentence)


def find_span(
    profile: QuestionProfile, sentence: str, place_names: Sequence[str] = ()
) -> tuple[int, int, ShortType, dict[str, Any] | None] | None:
    """(start, end, type, value) inside `sentence`, or None when it holds nothing of the asked kind."""
    if profile.expected == "number":
        return _quantity(profile, sentence)
    if profile.expected == "date":
        return _date(profile, sentence)
    if profile.expected == "place":
        return _place(profile, sentence, place_names) or _anchored(profile, sentence)
    if profile.expected == "list":
        return _list(sentence) or _anchored(profile, sentence)
    return _anchored(profile, sentence)


def short_answer(
    profile: QuestionProfile, article_text: str, start: int, end: int, place_names: Sequence[str] = ()
) -> ShortAnswer | None:
    """The short answer inside the sentence article_text[start:end], with article offsets."""
    found = find_span(profile, article_text[start:end], place_names)
    if found is None:
        return None
    lo, hi, kind, value = found
    text = article_text[start + lo : start + hi]
    if not text.strip():
        return None
    return ShortAnswer(text, start + lo, start + hi, kind, value)
