"""What a question asks for, and how well one sentence holds it: the features behind extractive answers.

All features are general properties of Chinese questions and sentences (question words, measure words, years,
districts, shared terms); none is keyed on a particular question.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

Expected = Literal["number", "date", "list", "place", "fact"]

# How much more the asked-about word counts than the question's other content words.
FOCUS_WEIGHT = 2.0

# Question words and fillers that say what is asked, not what it is about; never counted as shared terms.
QUESTION_FILLERS = frozenset(
    "多少 几 多大 多高 多长 多远 多久 多重 第几 哪 哪个 哪些 哪里 哪儿 哪家 哪座 哪种 哪一 哪年 哪天 哪位 哪两 哪三 哪四 哪五"
    " 什么 什么样 啥 何时 为何 为什么 怎么 怎样 如何 是否 吗 呢 吧 啊 请问 一下 大概 大约 总共 一共 共 才 能 能够"
    " 可以 会 要 有 是 的 了 在 都 具体 现在 目前 已经 叫 叫做 指 到底 究竟 多 少 时候 时间 地方 一年 今年 那家 这家"
    " 那个 这个 那 这 那趟 这些 那些 里 里面 上 之 自己 打算 预计 计划 东西 以后 之后 时 大概 左右 一共有".split()
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
# Place and organisation names by their endings; a bare 区 or 市 is left out, since 农业大区 and 全市 are no places.
PLACE = re.compile(
    r"[\u4e00-\u9fff（）()]{2,12}?(?:新区|城区|园区|开发区|高新区|经开区|产业园|物流园|基地|中心|港|古镇|景区|公司|集团"
    r"|镇|乡|村|街道|县|省|国|州|大学|医院)"
)
# 在重庆悦来国际会议中心举行: a place introduced by a preposition is the likeliest answer to "where".
PLACE_AFTER_PREPOSITION = re.compile(rf"(?:在|于|到|落户|来自|出自|放在|设在|与|和)(?:{PLACE.pattern})")

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
# Nouns counted with a known measure word when the question leaves it out (多少游客 -> 人次).
_COUNTED_NOUNS = (
    (re.compile(r"(?:多少|几)(?:名|位|个)?(?:游客|人才|居民|员工|职工|人员|学生|医生|旅客)"), {"人"}),
    (re.compile(r"(?:多少|几)(?:个)?(?:企业|公司|药企|工厂)"), {"家"}),
    (re.compile(r"(?:多少|几)(?:个)?(?:汽车|摩托车|车)"), {"辆"}),
)
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
    for pattern, units in _COUNTED_NOUNS:
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


_ASK_WORD = re.compile(r"多少|几|多大|多高|多长|多远|多久|什么时候|什么|哪些|哪里|哪[个家座种一年位]|何时|为什么|如何|怎么")
_ASK_PHRASE = re.compile(
    rf"(?:多少|几)(?:个)?(?:{_UNIT_RE})?|多大|多高|多长|多远|多久|什么时候|什么|哪些|哪里|哪[个家座种一位两三四五几]"
    rf"(?:{_UNIT_RE}|区|县)?|何时|为什么|如何|怎么|是否"
)
YEAR_PHRASE = re.compile(r"(?:19|20)\d{2}年?")
_LEADING_MEASURE = re.compile(rf"^(?:{_UNIT_RE})(?=[\u4e00-\u9fff]{{2,}}$)")


def _merged_tokens(tokens: Iterable[str], stopwords: frozenset[str]) -> list[str]:
    """Runs of single characters jieba could not group (濯 水) become one word again (濯水)."""
    merged: list[str] = []
    run = ""
    for token in tokens:
        if len(token) == 1 and re.match(r"[\u4e00-\u9fff]", token) and token not in stopwords:
            run += token
            continue
        if run:
            merged.append(run)
            run = ""
        merged.append(token)
    if run:
        merged.append(run)
    return merged


def content_terms(
    tokens: Iterable[str], stopwords: frozenset[str], district_forms: frozenset[str]
) -> dict[str, float]:
    terms: dict[str, float] = {}
    for raw in _merged_tokens(tokens, stopwords):
        # 多少家药企 tokenises as 家药企: the measure word belongs to the question, the noun to the topic.
        token = _LEADING_MEASURE.sub("", raw.strip().lower())
        if len(token) < 2 or token in stopwords or token in QUESTION_FILLERS or token in district_forms:
            continue
        if YEAR.fullmatch(token) or not re.search(r"[\w\u4e00-\u9fff]", token):
            continue
        # Longer words are more specific.
        terms[token] = max(terms.get(token, 0.0), min(float(len(token)), 4.0))
    return terms


def focus_term(question: str, terms: Iterable[str]) -> str | None:
    """The word the question word asks about: 多少[收入], 多大金额, 什么时候[投产]; else the nearest one before it."""
    ask = _ASK_WORD.search(question)
    if ask is None:
        return None
    after, before = None, None
    for term in terms:
        at = question.find(term)
        if at >= ask.end() and (after is None or at < question.find(after)):
            after = term
        elif 0 <= at < ask.start() and (before is None or at > question.find(before)):
            before = term
    if after is not None and question.find(after) - ask.end() <= 3:
        return after
    return before or after


def profile_question(question: str, tokenizer: Any, gazetteer: Any, stopwords: frozenset[str]) -> QuestionProfile:
    districts = gazetteer.find(question)
    forms = frozenset(form.lower() for row in gazetteer.districts if row.name in districts for form in row.forms)
    # Cut out question words and years first, so that jieba cannot glue them to a neighbour (哪个区办, 年卖).
    topic = _ASK_PHRASE.sub("，", YEAR_PHRASE.sub("，", question))
    terms = content_terms(tokenizer.lcut(topic), stopwords, forms)
    focus = focus_term(question.lower(), terms)
    if focus is not None:
        # The asked-about word (产值, 收入, 病床) is what an answering sentence most needs to mention.
        terms[focus] *= FOCUS_WEIGHT
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


def with_local_idf(profile: QuestionProfile, texts: Sequence[str]) -> QuestionProfile:
    """Reweight the question's words by how few of the retrieved passages hold them: a word every passage shares
    (柠檬 among 潼南 passages) names the topic, not the fact asked for."""
    n = len(texts)
    lowered = [t.lower() for t in texts]
    terms = tuple(
        (term, weight * (1.0 + math.log((n + 1) / (sum(term in t for t in lowered) + 1)))) for term, weight in profile.terms
    )
    return replace(profile, terms=terms)


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
        unit, number = match.group("unit"), match.group("num")
        # 一辆卡车 is an article, not a count; 2014年 is a date, not an amount.
        if number == "一" or (unit == "年" and YEAR.fullmatch(number)) or sentence[match.start() - 1 : match.start()] == "第":
            continue
        digits = not re.fullmatch(_CN_NUM, number)
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
        # Only a place the question does not already name can answer it (潼南 does not answer 潼南的大会在哪).
        if set(place_names) - set(profile.districts):
            return 1.0
        names = [m.group() for m in PLACE.finditer(sentence) if m.group() not in profile.question]
        if any(m.group()[-len(n):] in names for m in PLACE_AFTER_PREPOSITION.finditer(sentence) for n in names):
            return 1.0
        return 0.7 if names else 0.3
    return 0.5


def year_agreement(profile: QuestionProfile, sentence: str, context: str) -> float:
    """1 when the years the question names are stated; 0 when the sentence states only other years (2019年 for a
    question on 2020); 0.5 when its passage does not mention them at all."""
    if not profile.years:
        return 1.0
    stated = set(YEAR.findall(sentence))
    if stated and not stated & profile.years:
        return 0.0
    return 1.0 if all(y in sentence or y in context for y in profile.years) else 0.5
