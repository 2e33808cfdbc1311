"""The short answer: the asked amount, date, place or list itself, as an exact span of its article."""

from __future__ import annotations

import pytest

from indexer.districts import Gazetteer
from server.answering import Answerer
from server.retrieval import Passage
from server.short_answer import date_value, find_span, quantity_value
from tests.fakes import FakeEmbedder
from tests.test_answering import TONGNAN, make_article, passages_of


@pytest.fixture(scope="module")
def answerer() -> Answerer:
    return Answerer.create(FakeEmbedder(), Gazetteer.load())


@pytest.fixture(scope="module")
def tongnan() -> list[Passage]:
    return passages_of(make_article("tn", TONGNAN, ("潼南区",)), ("潼南区",))


@pytest.mark.parametrize(
    ("question", "sentence", "span", "kind"),
    [
        ("潼南的柠檬产业一年产值多少？", "饮料等350余种柠檬产品，年产值达75亿元。", "75亿元", "money"),
        ("预计能卖出多少收入？", "预计全年可实现四亿多元销售收入，市场份额稳居全国第一。", "四亿多元", "money"),
        ("柠檬种植面积有多少亩？", "目前，潼南柠檬种植面积达32万亩，远销30个国家和地区。", "32万亩", "quantity"),
        ("二期工程预计什么时候投产？", "今年8月，该公司启动了IPO工作，预计2025年实现二期投产。", "2025年", "date"),
        ("潼南的主导产业有哪些？", "潼南的主导产业包括化工新材料、食品及农产品加工、电子信息等。", None, "list"),
        ("柠檬产业大会是在哪里举办的？", "大会在重庆悦来国际会议中心举行。", "重庆悦来国际会议中心", "organisation"),
    ],
)
def test_the_span_of_the_asked_kind(answerer: Answerer, question: str, sentence: str, span: str, kind: str) -> None:
    found = find_span(answerer.profile(question), sentence)
    assert found is not None
    start, end, got_kind, _ = found
    if span is not None:
        assert sentence[start:end] == span
    else:
        assert sentence[start:end].count("、") == 2
    assert got_kind == kind


def test_chinese_and_arabic_numerals_have_one_value() -> None:
    assert quantity_value("四亿多元", "元") == quantity_value("4亿多元", "元")
    assert quantity_value("4亿多元", "元") == {"amount": 4e8, "unit": "元", "approximate": "more than"}
    assert quantity_value("75亿元", "元") == {"amount": 7.5e9, "unit": "元"}
    assert quantity_value("三十二万亩", "亩") == quantity_value("32万亩", "亩")
    assert date_value("2023年5月12日") == {"date": "2023-05-12"}
    assert date_value("二〇二三年五月") == {"date": "2023-05"}


def test_the_answer_carries_its_short_answer_as_an_exact_span(answerer: Answerer, tongnan: list[Passage]) -> None:
    answer = answerer.answer("潼南的柠檬产业一年产值多少？", tongnan)
    short = answer.short
    assert short is not None and short.text == "75亿元" and short.value == {"amount": 7.5e9, "unit": "元"}
    cited = answer.citations[answer.short_citation - 1]
    assert cited.article.text[short.start : short.end] == short.text
    assert cited.start <= short.start < short.end <= cited.end


def test_an_open_question_may_have_no_short_answer_but_still_an_answer(
    answerer: Answerer, tongnan: list[Passage]
) -> None:
    answer = answerer.answer("潼南在加快建设什么示范区？", tongnan)
    assert not answer.abstained
    if answer.short is not None:
        cited = answer.citations[answer.short_citation - 1]
        assert cited.article.text[answer.short.start : answer.short.end] == answer.short.text
