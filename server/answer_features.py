"""What a question asks for, and how well one sentence holds it: the features behind extractive answers.

All features are general properties of Chinese questions and sentences (question words, measure words, years,
districts, shared terms); none is keyed on a particular question.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

Expected = Literal["number", "date", "list", "place", "fact"]

# Question words and fillers that say what is asked, not what it is about; never counted as shared terms.
QUESTION_FILLERS = frozenset(
    "多少 几 多大 多高 多长 多远 多久 多重 第几 哪 哪个 哪些 哪里 哪儿 哪家 哪座 哪种 哪一 哪年 哪天 哪位 哪两 哪三 哪四 哪五"
    " 什么 什么样 啥 何时 为何 为什么 怎么 怎样 如何 是否 吗 呢 吧 啊 请问 一下 大概 大约 总共 一共 共 才 能 能够"
    " 可以 会 要 有 是 的 了 在 都 具体 现在 目前 已经 叫 叫做 指 到底 究竟 多 少 时候 时间 地方 一年 今年 那家 这家"
    " 那个 这个 那 这 那趟 这些 那些 里 里面 上 之 自己 打算 预计 计划".split()
)
_NUM = r"(?:\d+(?:[.,．]\d+)*|[０-９]+(?:[.．][０-９]+)?)"
_CN_NUM = r"[一二两三四五六七八九十百千]+"
# Longest first so that 平方公里 wins over 公里 and 千瓦时 over 千.
UNITS = (
    "平方公里 平方米 立方米 万千瓦时 千瓦时 人民币 元人民币 国家和地区 个国家 人次 班次 公里 公斤 小时 分钟 个月 GWh MW kW"
    " 美元 亩 元 吨 % ％ 家 个 人 名 位 户 辆 台 件 项 条 套 座 城 列 颗 天 年 月 倍 分 米 斤 次 张 块 所 种 类 批 只 头 株"
    " 艘 架 层 期 届 场 份 款"
).split()
_UNIT_RE = "|".join(re.escape(u) for u in sorted(set(UNITS), key=len, reverse=True))
QUANTITY = re.compile(
    rf"(?P<num>{_NUM}|{_CN_NUM})(?:余|多|来)?(?P<mag>[万亿千百]*)(?:余|多)?(?P<unit>{_UNIT_RE})"
)
DATE = re.compile(r"(?:19|20)\d{2}年|\d{1,2}月(?:\d{1,2}日)?|[今去明前]年|[上下本]半年|[一二三四]季度|\d{1,2}日")
YEAR = re.compile(r"(?:19|20)\d{2}")
PLACE = re.compile(
    r"[\u4e00-\u9fff]{1,8}(?:区|县|镇|乡|村|街道|园区|产业园|物流园|基地|中心|港|市|省|国|城|州|公司|集团|企业|古镇|景区)"
)

# Measure words compatible with one another: 招来了多少家企业 is answered by 52个, 多少台报废汽车 by 12万辆.
UNIT_GROUPS: tuple[frozenset[str], ...] = (
    frozenset("家 个 户 所".split()),
    frozenset("台 辆".split()),
    frozenset("名 人 位 人次".split()),
    frozenset("元 美元 人民币 元人民币".split()),
    frozenset("吨".split()),
    frozenset("亩 平方公里 平方米".split()),
    frozenset("公里 米".split()),
    frozenset("千瓦时 万千瓦时 GWh".split()),
    frozenset("% ％ 倍".split()),
    frozenset("班次 列 次".split()),
    frozenset("城 座 个".split()),
    frozenset("国家和地区 个国家 个".split()),
    frozenset("小时 分钟 天 年 个月 月".split()),
)
_MEASURE_AFTER_ASK = re.compile(rf"(?:多少|几)(?:个)?(?P<unit>{_UNIT_RE})")
# Words that make a "how much" question a question about money, time, length, area or a share.
_MONEY = re.compile(r"多少钱|产值|收入|营收|投资|金额|货值|订单|估值|成本|销售额|进出口额|总值|资金|租金|价格|票价|授信")
_SHARE = re.compile(r"比例|比重|百分之几|占比|份额|多少市场|多大市场|便宜了多少|提升了多少|涨了多少|增长了多少")
_DURATION = re.compile(r"多长时间|多久|几天|快了几")
_LENGTH = re.compile(r"多远|多长(?!时间)")
_AREA = re.compile(r"占地|面积|多大的")
_POWER = re.compile(r"发了?多少电|发电量")
# 多少钱一张 / 每月租金多少: the answer must be a rate per that unit, not a total.
_PER_UNIT_ASK = re.compile(r"(?:多少钱|多少元)一(?P<a>[张斤件个份次])|每(?P<b>[张斤件份次月天吨人亩])(?:的)?(?:租金|价格|票价|多少钱)")
_PER_UNIT_ASK_AFTER = re.compile(r"一(?P<c>[张斤件份])能?卖?多少钱")

_DATE_ASK = re.compile(r"何时|哪年|哪一年|什么时候|几月|哪天|哪一天|什么时间|几号")
_LIST_ASK = re.compile(r"哪些|哪几|哪[两三四五六]|都有|有哪|是什么产业|主攻")
_PLACE_ASK = re.compile(
    r"哪个区|哪个县|哪里|在哪|什么地方|哪座|哪个地区|哪个国家|哪个非洲国家|哪个园区|哪家|哪个城市|哪个省|哪个港"
)
_NUMBER_ASK = re.compile(r"多少|几|多大|多高|多长|多远|多久|多重|第几|比例|比重|百分之")


def expected_type(question: str) -> Expected:
    if _DATE_ASK.search(question):
        return "date"
    if _LIST_ASK.search(question):
        return "list"
    if _PLACE_ASK.search(question):
        return "place"
    if _NUMBER_ASK.search(question):
        return "number"
    return "fact"


def unit_hints(question: str) -> frozenset[str]:
    """Measure words an answer to this question may carry; empty when the question does not say."""
    hints: set[str] = set()
    for match in _MEASURE_AFTER_ASK.finditer(question):
        hints.add(match.group("unit"))
    for pattern, units in (
        (_MONEY, {"元"}),
        (_SHARE, {"%"}),
        (_DURATION, {"小时"}),
        (_LENGTH, {"公里"}),
        (_AREA, {"亩"}),
        (_POWER, {"千瓦时"}),
    ):
        if pattern.search(question):
            hints |= units
    expanded: set[str] = set()
    for hint in hints:
        expanded.add(hint)
        for group in UNIT_GROUPS:
            if hint in group:
                expanded |= group
    # 个 counts anything, so it narrows nothing by itself.
    return frozenset() if hints <= {"个"} else frozenset(expanded)


def per_unit(question: str) -> str | None:
    for pattern in (_PER_UNIT_ASK, _PER_UNIT_ASK_AFTER):
        match = pattern.search(question)
        if match:
            return next(g for g in match.groups() if g)
    return None


@dataclass(frozen=True)
class QuestionProfile:
    question: str
    expected: Expected
    units: frozenset[str]
    per_unit: str | None
    years: frozenset[str]
    districts: tuple[str, ...]
    # Content words with their weights; partial matches of long words count in part (销售收入 ~ 收入).
    terms: tuple[tuple[str, float], ...]


def content_terms(tokens: Iterable[str], stopwords: frozenset[str], district_forms: frozenset[str]) -> dict[str, float]:
    terms: dict[str, float] = {}
    for raw in tokens:
        token = raw.strip().lower()
        if not token or token in stopwords or token in QUESTION_FILLERS or token in district_forms:
            continue
        if not re.search(r"[\w\u4e00-\u9fff]", token):
            continue
        # Longer words are more specific; a single character says little on its own.
        terms[token] = max(terms.get(token, 0.0), min(float(len(token)), 4.0) if len(token) > 1 else 0.5)
    return terms


def profile_question(question: str, tokenizer: Any, gazetteer: Any, stopwords: frozenset[str]) -> QuestionProfile:
    districts = gazetteer.find(question)
    forms = frozenset(
        form.lower() for row in gazetteer.districts if row.name in districts for form in row.forms
    )
    terms = content_terms(tokenizer.lcut(question), stopwords, forms)
    return QuestionProfile(
        question=question,
        expected=expected_type(question),
        units=unit_hints(question),
        per_unit=per_unit(question),
        years=frozenset(YEAR.findall(question)),
        districts=districts,
        terms=tuple(terms.items()),
    )


def _bigrams(text: str) -> frozenset[str]:
    return frozenset(text[i : i + 2] for i in range(len(text) - 1))


def term_coverage(profile: QuestionProfile, text: str) -> float:
    """Weighted share of the question's content words found in `text` (0..1)."""
    total = sum(w for _, w in profile.terms)
    if total == 0:
        return 0.0
    lowered = text.lower()
    got = 0.0
    for term, weight in profile.terms:
        if term in lowered:
            got += weight
        elif len(term) >= 3:
            grams = _bigrams(term)
            got += weight * 0.8 * len(grams & _bigrams(lowered)) / len(grams)
    return got / total


def quantity_score(profile: QuestionProfile, sentence: str) -> float:
    """1 for a number with a fitting unit (and rate, where asked), less for other numbers, 0 for none."""
    best = 0.0
    for match in QUANTITY.finditer(sentence):
        unit = match.group("unit")
        digits = not re.fullmatch(_CN_NUM, match.group("num"))
        if profile.units:
            fits = unit in profile.units
            score = 1.0 if fits else 0.35
        else:
            score = 1.0 if unit not in ("年", "月", "天", "次", "期", "届") else 0.6
        if profile.per_unit and score == 1.0 and not _has_rate(sentence, match.end(), profile.per_unit):
            score = 0.35
        best = max(best, score if digits else score * 0.6)
    if best == 0.0 and re.search(r"\d", sentence):
        best = 0.15
    return best


def _has_rate(sentence: str, after: int, unit: str) -> bool:
    tail = sentence[after : after + 4]
    return bool(re.match(rf"\s*(?:/|每|一|／){unit}", tail)) or f"每{unit}" in sentence


def type_score(profile: QuestionProfile, sentence: str, place_names: tuple[str, ...]) -> float:
    if profile.expected == "number":
        return quantity_score(profile, sentence)
    if profile.expected == "date":
        return 1.0 if DATE.search(sentence) else 0.0
    if profile.expected == "list":
        commas = sentence.count("、")
        return 1.0 if commas >= 2 else 0.6 if commas == 1 else 0.3 if re.search(r"[和及与]", sentence) else 0.0
    if profile.expected == "place":
        return 1.0 if place_names or PLACE.search(sentence) else 0.0
    return 0.5


def year_agreement(profile: QuestionProfile, sentence: str, context: str) -> float:
    """1 when every year the question names is in the sentence or its passage, else 0."""
    if not profile.years:
        return 1.0
    return 1.0 if all(y in sentence or y in context for y in profile.years) else 0.0
