"""Extractive answering over small hand-made articles and passages (FakeEmbedder: the model is not the subject)."""

from __future__ import annotations

import re

import pytest

from indexer.districts import Gazetteer
from indexer.records import Article, Chunk
from server.answering import NOT_FOUND, Answer, Answerer
from server.question_profile import expected_type, per_unit, unit_hints
from server.retrieval import Passage
from tests.fakes import FakeEmbedder

TONGNAN = (
    "潼南区加快建设中国农业现代化示范区。\n"
    "目前，潼南柠檬种植面积达32万亩，柠檬产品远销30个国家和地区。\n"
    "柠檬产业年产值达75亿元，带动农户增收。\n"
    "2023年，潼南举办了首届柠檬文化节，吸引游客前来。\n"
    "潼南的主导产业包括化工新材料、食品及农产品加工、电子信息等。\n"
    "江津区的富硒土壤占比达90.2%。\n"
)
# The same paragraph twice, as the seed article 003 repeats a block inside another section.
REPEATED = "綦江拥有5533块体育场地，有游泳、射击等优势项目。\n"
QIJIANG = "綦江区位于重庆南部。\n" + REPEATED + "綦江正在建设铝产业园。\n" + REPEATED


@pytest.fixture(scope="module")
def answerer() -> Answerer:
    return Answerer.create(FakeEmbedder(), Gazetteer.load())


def make_article(article_id: str, text: str, districts: tuple[str, ...]) -> Article:
    return Article(
        article_id=article_id, title=f"{article_id} 标题", text=text, path=f"{article_id}.txt", districts=districts
    )


def passages_of(article: Article, districts: tuple[str, ...], per_chunk: int = 2, dense: float = 0.9) -> list[Passage]:
    """The article cut into chunks of `per_chunk` lines, one passage each, in reading order."""
    lines = [m.span() for m in re.finditer(r"[^\n]+", article.text)]
    passages = []
    for rank, i in enumerate(range(0, len(lines), per_chunk), start=1):
        start, end = lines[i][0], lines[min(i + per_chunk, len(lines)) - 1][1]
        chunk = Chunk(article.article_id, start, end, article.text[start:end], districts=districts)
        passages.append(Passage(rank, 1.0 / rank, rank, chunk, article, dense, 5.0))
    return passages


@pytest.fixture(scope="module")
def tongnan() -> list[Passage]:
    return passages_of(make_article("tn", TONGNAN, ("潼南区",)), ("潼南区",))


@pytest.fixture(scope="module")
def qijiang() -> list[Passage]:
    return passages_of(make_article("qj", QIJIANG, ("綦江区",)), ("綦江区",), per_chunk=2)


def check_citations(answer: Answer) -> None:
    """Verbatim spans, and markers [1]..[n] in order, each right after the sentence it cites."""
    for c in answer.citations:
        assert c.article.text[c.start : c.end] == c.text
    assert answer.text is not None
    markers = [int(n) for n in re.findall(r"\[(\d+)\]", answer.text)]
    assert markers == [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    for c in answer.citations:
        assert f"{c.text}[{c.n}]" in answer.text


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("潼南的柠檬种植面积有多少亩？", "32万亩"),
        ("潼南柠檬产业一年的产值是多少？", "75亿元"),
        ("潼南的柠檬卖到了多少个国家和地区？", "30个国家和地区"),
        ("潼南的首届柠檬文化节是哪一年办的？", "2023年"),
        ("潼南的主导产业有哪些？", "化工新材料、食品及农产品加工"),
    ],
)
def test_the_answer_is_the_sentence_holding_what_is_asked(
    answerer: Answerer, tongnan: list[Passage], question: str, expected: str
) -> None:
    answer = answerer.answer(question, tongnan)
    assert not answer.abstained, question
    assert expected in answer.citations[0].text
    check_citations(answer)


def test_a_district_the_passages_do_not_cover_is_not_answered(answerer: Answerer, tongnan: list[Passage]) -> None:
    answer = answerer.answer("长寿区的柠檬种植面积有多少亩？", tongnan)
    assert answer.abstained and answer.text is None
    assert answer.message == NOT_FOUND
    assert answer.citations == ()
    assert answer.passages == tuple(tongnan), "abstention still offers the passages as related reading"


def test_a_sentence_naming_another_district_does_not_answer_for_the_asked_one(
    answerer: Answerer, tongnan: list[Passage]
) -> None:
    # The passages are tagged 潼南, but the only share figure is in a sentence about 江津.
    answer = answerer.answer("潼南的土壤富硒比例是多少？", tongnan)
    assert all("江津" not in c.text for c in answer.citations)
    assert answerer.answer("江津的土壤里有多大比例富硒？", tongnan).abstained


def test_a_question_about_another_year_is_not_answered(answerer: Answerer, tongnan: list[Passage]) -> None:
    assert answerer.answer("潼南2021年在哪里举办的柠檬文化节？", tongnan).abstained
    assert not answerer.answer("潼南2023年举办的柠檬文化节叫什么？", tongnan).abstained


def test_a_question_the_passages_do_not_answer_abstains(answerer: Answerer, tongnan: list[Passage]) -> None:
    weak = [Passage(p.rank, p.score, p.row_id, p.chunk, p.article, 0.76, 0.5) for p in tongnan]
    answer = answerer.answer("重庆的地铁票价是多少钱一张？", weak)
    assert answer.abstained and answer.citations == ()
    assert answer.passages == tuple(weak)


def test_no_passages_abstains(answerer: Answerer) -> None:
    answer = answerer.answer("潼南的柠檬种植面积有多少亩？", [])
    assert answer.abstained and answer.passages == ()


def test_a_repeated_sentence_is_cited_once(answerer: Answerer, qijiang: list[Passage]) -> None:
    assert sum(REPEATED.strip() in p.chunk.text for p in qijiang) == 2
    answer = answerer.answer("綦江有多少块体育场地？", qijiang)
    assert not answer.abstained
    texts = [c.text for c in answer.citations]
    assert texts[0] == REPEATED.strip()
    assert len(texts) == len(set(texts))
    check_citations(answer)
    profile = answerer.profile("綦江有多少块体育场地？")
    candidates = [c.text for c in answerer.candidates(profile, tuple(qijiang))]
    assert candidates.count(REPEATED.strip()) == 1


def test_every_citation_is_verbatim_over_many_questions(answerer: Answerer, tongnan: list[Passage]) -> None:
    questions = [
        "潼南柠檬有多少亩？",
        "柠檬产值多少？",
        "潼南发展什么产业？",
        "文化节在哪一年？",
        "柠檬卖到了哪些国家？",
    ]
    answered = [answerer.answer(q, tongnan) for q in questions]
    assert any(not a.abstained for a in answered)
    for answer in answered:
        if not answer.abstained:
            check_citations(answer)


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("潼南的柠檬产业一年产值多少？", "number"),
        ("快思瑞的二期工程预计什么时候投产？", "date"),
        ("綦江“2+4”里的四个特色产业都有哪些？", "list"),
        ("2028年的市运会在哪个区办？", "place"),
        ("快思瑞为什么选择潼南？", "fact"),
    ],
)
def test_expected_answer_type(question: str, kind: str) -> None:
    assert expected_type(question) == kind


def test_unit_hints_accept_related_measure_words_and_rates() -> None:
    assert {"家", "个"} <= unit_hints("招来了多少家企业？")
    assert {"辆", "台"} <= unit_hints("一年能回收多少台报废汽车？")
    assert "元" in unit_hints("一年产值多少？")
    assert "%" in unit_hints("富硒土壤的比例是多少？")
    assert unit_hints("有多少个项目？") == frozenset()  # 个 narrows nothing
    assert per_unit("门票多少钱一张？") == "张"
    assert per_unit("每月租金多少钱？") == "月"
    assert per_unit("一年产值多少？") is None


@pytest.mark.parametrize(("published", "answered"), [("2022-05-01", False), ("2023-05-01", True)])
def test_a_relative_year_is_read_against_the_article_date(answerer: Answerer, published: str, answered: bool) -> None:
    text = "潼南区加快建设中国农业现代化示范区。\n今年，潼南柠檬种植面积达32万亩。\n"
    article = Article(article_id="d", title="潼南柠檬", text=text, path="d.txt", districts=("潼南区",), date=published)
    answer = answerer.answer("2023年潼南柠檬种植面积有多少亩？", passages_of(article, ("潼南区",)))
    assert any("32万亩" in c.text for c in answer.citations) == answered
