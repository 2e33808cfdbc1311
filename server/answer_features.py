"""How well one sentence answers a profiled question: shared topic words, the asked kind of answer, the asked year.

Each feature is in 0..1; the answer model (server/answer_model.py) weighs them with the others.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import replace
from functools import lru_cache

from server.question_profile import UNIT_PATTERN, YEAR, QuestionProfile

_NUM = r"(?:\d+(?:[.,．]\d+)*|[０-９]+(?:[.．][０-９]+)?)"
_CN_NUM = r"[一二两三四五六七八九十百千]+"
QUANTITY = re.compile(rf"(?P<num>{_NUM}|{_CN_NUM})(?:余|多|来)?[万亿千百]*(?:余|多)?(?P<unit>{UNIT_PATTERN})")
# Units that, without a hint from the question, more often count time than amount.
_WEAK_UNITS = frozenset(["年", "月", "天", "次", "期", "届"])
# Any year (1562年 and 永禄5年 too: history asks about them), month, day or relative period.
DATE = re.compile(r"\d{1,4}年|\d{1,2}月(?:\d{1,2}日)?|[今去明前]年|[上下本]半年|[一二三四]季度|\d{1,2}日")
# Place and organisation names by their endings; a bare 区 or 市 is left out, since 农业大区 and 全市 are no places.
_PLACE_BODY = (
    r"[\u4e00-\u9fff（）()]{2,12}?(?:新区|城区|园区|开发区|高新区|经开区|产业园|物流园|基地|中心|港|古镇|景区|公司"
    r"|集团|镇|乡|村|街道|县|省|国|州|大学|医院)"
)
PLACE = re.compile(_PLACE_BODY)
# 在重庆悦来国际会议中心举行: a place introduced by a preposition is the likeliest answer to "where".
PLACE_AFTER_PREPOSITION = re.compile(rf"(?:在|于|到|落户|来自|出自|放在|设在|与|和)(?P<place>{_PLACE_BODY})")


def _bigrams(text: str) -> frozenset[str]:
    return frozenset(text[i : i + 2] for i in range(len(text) - 1))


@lru_cache(maxsize=4096)
def _word_bigrams(word: str) -> frozenset[str] | None:
    """A question word's bigrams where a partial match counts (3 characters or more); the same for every sentence a
    question is compared with, so built once."""
    return _bigrams(word) if len(word) >= 3 else None


def with_local_idf(profile: QuestionProfile, texts: Sequence[str]) -> QuestionProfile:
    """Reweight the question's words by how few of the retrieved passages hold them: a word every passage shares
    (柠檬 among 潼南 passages) names the topic, not the fact asked for."""
    n = len(texts)
    lowered = [t.lower() for t in texts]
    terms = tuple(
        (term, weight * (1.0 + math.log((n + 1) / (sum(term in t for t in lowered) + 1))))
        for term, weight in profile.terms
    )
    return replace(profile, terms=terms)


def term_coverage(profile: QuestionProfile, text: str) -> float:
    """Weighted share of the question's topic words found in `text`; a long word partly (销售收入 ~ 收入)."""
    total = sum(w for _, w in profile.terms)
    if total == 0:
        return 0.0
    lowered = text.lower()
    text_grams: frozenset[str] | None = None  # built once, and only if some long word is missing
    got = 0.0
    for term, weight in profile.terms:
        if term in lowered:
            got += weight
        elif (grams := _word_bigrams(term)) is not None:
            if text_grams is None:
                text_grams = _bigrams(lowered)
            got += weight * 0.8 * len(grams & text_grams) / len(grams)
    return got / total


def _has_rate(sentence: str, after: int, unit: str) -> bool:
    return bool(re.match(rf"\s*[/／每一]{unit}", sentence[after : after + 4])) or f"每{unit}" in sentence


def quantity_score(profile: QuestionProfile, sentence: str) -> float:
    """1 for a number with the asked unit (and rate, where asked), 0.35 for a number with another unit, 0.15 for
    bare digits, 0 for none; numbers in Chinese numerals count 0.6 as much (两年 is an answer, 一个缩影 is not)."""
    best = 0.0
    for match in QUANTITY.finditer(sentence):
        unit, number = match.group("unit"), match.group("num")
        # 一辆卡车 is an article, 2014年 a date, 第六批 an ordinal: none is an amount.
        ordinal = sentence[match.start() - 1 : match.start()] == "第"
        if number == "一" or ordinal or (unit == "年" and YEAR.fullmatch(number)):
            continue
        fits = unit in profile.units if profile.units else unit not in _WEAK_UNITS
        score = 1.0 if fits else 0.35 if profile.units else 0.6
        if profile.per_unit and score == 1.0 and not _has_rate(sentence, match.end(), profile.per_unit):
            score = 0.35
        best = max(best, score * (0.6 if re.fullmatch(_CN_NUM, number) else 1.0))
    if best == 0.0 and re.search(r"\d", sentence):
        best = 0.15
    return best


def place_score(profile: QuestionProfile, sentence: str, place_names: Sequence[str]) -> float:
    """Only a place the question does not already name answers it: 潼南 does not answer 潼南的大会在哪里开."""
    if set(place_names) - set(profile.districts):
        return 1.0
    if any(m.group("place") not in profile.question for m in PLACE_AFTER_PREPOSITION.finditer(sentence)):
        return 1.0
    return 0.5 if any(m.group() not in profile.question for m in PLACE.finditer(sentence)) else 0.3


def type_score(profile: QuestionProfile, sentence: str, place_names: Sequence[str]) -> float:
    """Whether the sentence holds the kind of thing asked for; 0.5 (neutral) for open questions."""
    if profile.expected == "number":
        return quantity_score(profile, sentence)
    if profile.expected == "date":
        return 1.0 if DATE.search(sentence) else 0.0
    if profile.expected == "list":
        commas = sentence.count("、")
        return 1.0 if commas >= 2 else 0.6 if commas == 1 else 0.3 if re.search(r"[和及与]", sentence) else 0.0
    if profile.expected == "place":
        return place_score(profile, sentence, place_names)
    return 0.5


_RELATIVE_YEARS = {"今年": 0, "去年": -1, "前年": -2, "明年": 1}


def stated_years(sentence: str, article_date: str | None) -> set[str]:
    """Years a sentence states: 2019年 outright, and 今年/去年/明年 read against its article's date, when known."""
    years = set(YEAR.findall(sentence))
    published = YEAR.match(article_date or "")
    if published:
        base = int(published.group())
        years |= {str(base + shift) for word, shift in _RELATIVE_YEARS.items() if word in sentence}
    return years


def year_agreement(profile: QuestionProfile, sentence: str, context: str, article_date: str | None = None) -> float:
    """1 when the asked years are stated in the sentence or its passage, or the passage names no year and its
    article is dated in the asked year; 0 when the sentence states only other years (2019年, or 去年 in an article
    of 2020, for a question on 2023); 0.5 otherwise."""
    if not profile.years:
        return 1.0
    stated = stated_years(sentence, article_date)
    if stated and not stated & profile.years:
        return 0.0
    if stated & profile.years:
        return 1.0
    if all(y in context for y in profile.years):
        return 1.0
    # Nothing in the passage names a year: an article dated in the asked year speaks of that year.
    published = YEAR.match(article_date or "")
    dated = published is not None and published.group() in profile.years and not YEAR.search(context)
    return 1.0 if dated else 0.5
