"""What a Chinese question asks for: the kind of answer, its unit, the years and districts it names, its topic words.

Everything here is a general property of how questions are phrased (question words, measure words, years,
district names); nothing is keyed on a particular question.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

Expected = Literal["number", "date", "list", "place", "fact"]


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# How much more the asked-about word (多少[收入], [产值]多少) counts than the question's other content words.
FOCUS_WEIGHT = 2.0
# Question words and fillers that say what is asked, not what it is about; never counted as topic words.
QUESTION_FILLERS = frozenset(
    _words(
        "多少 几 多大 多高 多长 多远 多久 多重 第几 哪 哪个 哪些 哪里 哪儿 哪家 哪座 哪种 哪一 哪年 哪天 哪位"
        " 什么 什么样 啥 何时 为何 为什么 怎么 怎样 如何 是否 吗 呢 吧 啊 请问 一下 大概 大约 总共 一共 一共有"
        " 共 才 能 能够 可以 会 要 有 是 的 了 在 都 具体 现在 目前 已经 叫 叫做 指 到底 究竟 多 少 时候 地方"
        " 一年 今年 那家 这家 那个 这个 那 这 那趟 这些 那些 里 里面 上 之 自己 打算 预计 计划 东西 以后 之后"
        " 时 左右 起来 加起来"
        # These say which kind of number is asked (the unit hints carry that), not what it is about.
        " 比例 比重 占比 金额 数量 规模 时间 多少钱"
    )
)
# Measure words, longest first so that 平方公里 wins over 公里 and 千瓦时 over 千.
UNITS = _words(
    "平方公里 平方米 立方米 万千瓦时 千瓦时 元人民币 人民币 国家和地区 个国家 人次 班次 公里 公斤 小时 分钟 个月 GWh"
    " MW kW 美元 亩 元 吨 % ％ 家 个 人 名 位 户 辆 台 件 项 条 套 座 城 列 颗 天 年 月 倍 分 米 斤 次 张 块 所"
    " 种 类 批 只 头 株 艘 架 层 期 届 场 份 款"
    # Measures of size, weight, age and rank that general questions (CMRC 2018) ask about.
    " 平方千米 平方厘米 千米 厘米 毫米 英里 英尺 公顷 千克 毫克 克 毫升 升 岁 周 秒 度 ℃ 级"
    " 页 集 话 首 章 卷 册 本 篇 部 枚 匹 根 粒 支 间 栋 吨位"
)
UNIT_PATTERN = "|".join(re.escape(u) for u in sorted(UNITS, key=len, reverse=True))
YEAR = re.compile(r"(?:19|20)\d{2}")
# Measure words that answer one another: 招来了多少家企业 is answered by 52个, 多少台报废汽车 by 12万辆.
UNIT_GROUPS = tuple(
    frozenset(_words(group))
    for group in (
        "家 个 户 所",
        "台 辆",
        "名 人 位 人次",
        "元 美元 人民币 元人民币",
        "吨 公斤 千克 克 毫克 斤",
        "亩 平方公里 平方米",
        "公里 米 千米 厘米 毫米 英里 英尺",
        "千瓦时 万千瓦时 GWh",
        "% ％ 倍",
        "班次 列 次",
        "城 座 个",
        "国家和地区 个国家 个",
        "小时 分钟 天 年 个月 月",
    )
)

_MEASURE_AFTER_ASK = re.compile(rf"(?:多少|几)(?P<unit>{UNIT_PATTERN})")
# Words that make a "how much" question one about money, a share, a duration, a length, an area or energy.
_KIND_HINTS = (
    (
        re.compile(
            r"多少钱|产值|收入|营收|投资|金额|货值|订单|估值|成本|销售额|进出口额|总值|资金|租金|价格|票价|授信"
        ),
        "元",
    ),
    (re.compile(r"比例|比重|百分之几|占比|份额|多[少大]市场|便宜了多少|提升了多少|涨了多少|增长了多少"), "%"),
    (re.compile(r"多长时间|多久|几天|快了几"), "小时"),
    (re.compile(r"多远|多长(?!时间)"), "公里"),
    (re.compile(r"占地|面积|多大的"), "亩"),
    (re.compile(r"发了?多少电|发电量"), "千瓦时"),
)
# 多少钱一张 / 每月租金多少 / 一斤能卖多少钱: the answer must be a rate per that unit, not a total.
_PER_UNIT_ASK = (
    re.compile(r"(?:多少钱|多少元)一(?P<unit>[张斤件个份次])"),
    re.compile(r"每(?P<unit>[张斤件份次月天吨人亩])(?:的)?(?:租金|价格|票价|多少钱)"),
    re.compile(r"一(?P<unit>[张斤件份])能?卖?多少钱"),
)

_DATE_ASK = re.compile(r"何时|哪年|哪一年|什么时候|几月|哪天|哪一天|什么时间|几号")
_LIST_ASK = re.compile(r"哪些|哪几|哪[两三四五六]|都有|有哪|是什么产业|主攻")
_PLACE_ASK = re.compile(r"哪个[区县地省港]|哪里|在哪|什么地方|哪座|哪个(?:非洲)?国家|哪个园区|哪家|哪个城市")
_NUMBER_ASK = re.compile(r"多少|几|多大|多高|多长|多远|多久|多重|第几|比例|比重|百分之")
_ASK_WORD = re.compile(r"多少|几|多[大高长远久]|什么时候|什么|哪些|哪里|哪[个家座种一年位]|何时|为什么|如何|怎么")
# Question words with the measure word they carry, cut out before tokenising so jieba cannot glue them to a
# neighbour (哪个区办, 多少家药企).
_ASK_PHRASE = re.compile(
    rf"(?:多少|几)(?:个)?(?:{UNIT_PATTERN})?|多[大高长远久]|什么时候|什么|哪些|哪里"
    rf"|哪[个家座种一位两三四五几](?:{UNIT_PATTERN}|区|县)?|何时|为什么|如何|怎么|是否"
)
_YEAR_PHRASE = re.compile(r"(?:19|20)\d{2}年?")
_LEADING_MEASURE = re.compile(rf"^(?:{UNIT_PATTERN})(?=[\u4e00-\u9fff]{{2,}}$)")
_HAN = re.compile(r"[\u4e00-\u9fff]")


@dataclass(frozen=True)
class QuestionProfile:
    question: str
    expected: Expected
    units: frozenset[str]  # measure words a fitting answer may carry; empty when the question does not say
    per_unit: str | None  # 张 for 多少钱一张: the answer is a rate per this unit
    years: frozenset[str]
    districts: tuple[str, ...]
    asks: int  # how many things it asks: 潼南排第几，卖到多少个国家 asks two
    terms: tuple[tuple[str, float], ...]  # topic words and their weights
    focus: str | None = None  # the word the question word asks about: 多少[收入], [收购价]是多少


def expected_type(question: str) -> Expected:
    for kind, pattern in (("date", _DATE_ASK), ("list", _LIST_ASK), ("place", _PLACE_ASK), ("number", _NUMBER_ASK)):
        if pattern.search(question):
            return kind  # type: ignore[return-value]
    return "fact"


def unit_hints(question: str) -> frozenset[str]:
    hints = {m.group("unit") for m in _MEASURE_AFTER_ASK.finditer(question)}
    hints |= {unit for pattern, unit in _KIND_HINTS if pattern.search(question)}
    if hints <= {"个"}:
        return frozenset()  # 个 counts anything, so it narrows nothing by itself
    return frozenset(hints).union(*(group for group in UNIT_GROUPS if group & hints))


def per_unit(question: str) -> str | None:
    for pattern in _PER_UNIT_ASK:
        if match := pattern.search(question):
            return match.group("unit")
    return None


def _merged_tokens(tokens: Iterable[str], stopwords: frozenset[str]) -> list[str]:
    """Runs of single characters jieba could not group (濯 水) become one word again (濯水)."""
    merged: list[str] = []
    run = ""
    for token in tokens:
        if len(token) == 1 and _HAN.match(token) and token not in stopwords:
            run += token
            continue
        merged.extend([run, token] if run else [token])
        run = ""
    return [*merged, run] if run else merged


def content_terms(tokens: Iterable[str], stopwords: frozenset[str], district_forms: frozenset[str]) -> dict[str, float]:
    terms: dict[str, float] = {}
    for raw in _merged_tokens(tokens, stopwords):
        token = _LEADING_MEASURE.sub("", raw.strip().lower())  # 家药企 -> 药企
        if len(token) < 2 or token in stopwords or token in QUESTION_FILLERS or token in district_forms:
            continue
        if YEAR.fullmatch(token) or not re.search(r"[\w\u4e00-\u9fff]", token):
            continue
        terms[token] = max(terms.get(token, 0.0), min(float(len(token)), 4.0))  # longer words are more specific
    return terms


def focus_term(question: str, terms: Iterable[str]) -> str | None:
    """The word the question word asks about: 多少[收入], 什么时候[投产]; else the nearest word before it."""
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
    """`tokenizer` is a jieba.Tokenizer that knows the district names; `gazetteer` an indexer Gazetteer."""
    districts = gazetteer.find(question)
    forms = frozenset(form.lower() for row in gazetteer.districts if row.name in districts for form in row.forms)
    topic = _ASK_PHRASE.sub("，", _YEAR_PHRASE.sub("，", question))
    terms = content_terms(tokenizer.lcut(topic), stopwords, forms)
    focus = focus_term(question.lower(), terms)
    if focus is not None:
        terms[focus] *= FOCUS_WEIGHT
    return QuestionProfile(
        question=question,
        expected=expected_type(question),
        units=unit_hints(question),
        per_unit=per_unit(question),
        years=frozenset(YEAR.findall(question)),
        districts=districts,
        asks=max(1, len(_ASK_WORD.findall(question))),
        terms=tuple(terms.items()),
        focus=focus,
    )
