"""Eval metrics against small cases computed by hand."""

from __future__ import annotations

import math

import pytest

from eval.metrics import (
    AnswerOutcome,
    QuestionResult,
    answer_correct,
    answer_metrics,
    contains_evidence,
    matches_evidence,
    ndcg_at,
    percentile,
    recall_at,
    recall_curve,
    reciprocal_rank,
    retrieval_metrics,
    slices,
)

EVIDENCE = "一二三四五六七八九十"  # 10 characters: a 60% run is 6 characters


def result(
    hits: tuple[bool, ...] = (),
    *,
    answerable: bool = True,
    relevant: int = 1,
    answer: AnswerOutcome | None = None,
    gold: str | None = "75亿元",
    type: str = "number",
    district: str | None = None,
) -> QuestionResult:
    return QuestionResult(
        "q", type, district, answerable, gold if answerable else None, hits, hits, relevant, 1.0, answer
    )


def outcome(text: str | None, abstained: bool = False, citations: tuple[bool, ...] = ()) -> AnswerOutcome:
    return AnswerOutcome(text, abstained, citations, 2.0)


class TestEvidenceMatching:
    def test_whitespace_is_ignored_on_both_sides(self) -> None:
        assert contains_evidence("潼南区 年产值达\n75 亿元。", "年产值达75亿元")
        assert contains_evidence("年产值达75亿元", "年产值 达75\u3000亿元")

    def test_a_contiguous_run_of_sixty_percent_counts(self) -> None:
        assert contains_evidence("前文五六七八九十后文", EVIDENCE)  # 6 of 10, at the tail
        assert contains_evidence("一二三四五六", EVIDENCE)  # 6 of 10, at the head

    def test_a_shorter_run_does_not(self) -> None:
        assert not contains_evidence("前文六七八九十后文", EVIDENCE)  # 5 of 10

    def test_scattered_pieces_are_not_one_run(self) -> None:
        # 8 of the 10 characters are there, but the longest contiguous run is 4.
        assert not contains_evidence("一二三四。七八九十", EVIDENCE)

    def test_the_run_may_span_removed_whitespace(self) -> None:
        assert contains_evidence("三四 五\n六七八", EVIDENCE)

    def test_threshold_rounds_up(self) -> None:
        seven = "甲乙丙丁戊己庚"  # ceil(0.6 * 7) = 5
        assert not contains_evidence("甲乙丙丁", seven)
        assert contains_evidence("甲乙丙丁戊", seven)

    def test_empty_evidence_matches_nothing(self) -> None:
        assert not contains_evidence("任何文本", " \n")

    def test_article_keyed_evidence_counts_only_in_that_article(self) -> None:
        evidence = {"003": ("江津班列开行1804列",)}
        assert matches_evidence("西部陆海新通道江津班列开行1804列，居全市第一。", "003", evidence)
        assert not matches_evidence("西部陆海新通道江津班列开行1804列，居全市第一。", "004", evidence)

    def test_unkeyed_evidence_counts_in_any_article(self) -> None:
        evidence = {None: ("年产值达75亿元",), "004": ("订单上涨20%",)}
        assert matches_evidence("年产值达75亿元。", "000", evidence)
        assert matches_evidence("企业订单上涨20%左右。", "004", evidence)
        assert not matches_evidence("企业订单上涨20%左右。", "000", evidence)


class TestRanking:
    def test_recall_and_reciprocal_rank(self) -> None:
        hits = (False, False, True, False, True)
        assert recall_at(hits, 1) == 0.0
        assert recall_at(hits, 2) == 0.0
        assert recall_at(hits, 3) == 1.0
        assert reciprocal_rank(hits) == pytest.approx(1 / 3)

    def test_a_hit_below_the_cutoff_scores_nothing(self) -> None:
        hits = (False,) * 10 + (True,)
        assert recall_at(hits, 10) == 0.0
        assert reciprocal_rank(hits, 10) == 0.0
        assert ndcg_at(hits, 1, 10) == 0.0

    def test_ndcg_with_several_relevant_passages(self) -> None:
        # Hits at ranks 1 and 3, three relevant passages in the index:
        # DCG = 1/log2(2) + 1/log2(4) = 1.5; IDCG = 1 + 1/log2(3) + 1/log2(4) = 2.1309.
        assert ndcg_at((True, False, True, False), relevant=3) == pytest.approx(1.5 / (1.5 + 1 / math.log2(3)))
        assert ndcg_at((True, False, True, False), relevant=3) == pytest.approx(0.70392, abs=1e-5)

    def test_ndcg_rewards_putting_hits_first(self) -> None:
        # Two relevant, both retrieved at ranks 2 and 3: (1/log2 3 + 1/log2 4) / (1 + 1/log2 3) = 0.69343.
        assert ndcg_at((False, True, True), relevant=2) == pytest.approx(0.69343, abs=1e-5)
        assert ndcg_at((True, True, False), relevant=2) == pytest.approx(1.0)

    def test_ndcg_ideal_is_capped_at_the_cutoff(self) -> None:
        assert ndcg_at((True,) * 10, relevant=25) == pytest.approx(1.0)

    def test_ndcg_ideal_never_below_the_hits_retrieved(self) -> None:
        assert ndcg_at((True, True), relevant=1) == pytest.approx(1.0)
        assert ndcg_at((False, False), relevant=0) == 0.0


class TestAggregates:
    def test_unanswerable_questions_are_left_out_of_retrieval_metrics(self) -> None:
        results = [result((True,)), result((False, True)), result((), answerable=False, relevant=0)]
        metrics = retrieval_metrics(results)
        assert metrics["recall@1"] == pytest.approx(0.5)
        assert metrics["recall@5"] == pytest.approx(1.0)
        assert metrics["mrr@10"] == pytest.approx(0.75)
        assert metrics["ndcg@10"] == pytest.approx((1 + 1 / math.log2(3)) / 2)

    def test_extra_cutoff_and_curve(self) -> None:
        results = [result((False, False, True)), result((True,)), result((False,) * 10)]
        assert retrieval_metrics(results, k=3)["recall@3"] == pytest.approx(2 / 3)
        assert recall_curve(results, 4) == pytest.approx([1 / 3, 1 / 3, 2 / 3, 2 / 3])

    def test_answer_accuracy_ignores_whitespace_and_citation_markers(self) -> None:
        assert answer_correct("潼南柠檬年产值达 75 亿元[1]。", "75亿元")
        assert answer_correct("年产值达75[2]亿元", "75亿元")
        assert not answer_correct("年产值达7.5亿元[1]", "75亿元")
        assert not answer_correct(None, "75亿元")

    def test_answer_and_abstention_metrics(self) -> None:
        results = [
            result((True,), answer=outcome("年产值达75亿元[1][2]", citations=(True, False))),
            result((True,), answer=outcome("约10亿元[1]", citations=(False,))),
            result((True,), answer=outcome(None, abstained=True)),
            result(answerable=False, relevant=0, answer=outcome(None, abstained=True)),
            result(answerable=False, relevant=0, answer=outcome("编造的答案[1]", citations=(False,))),
        ]
        metrics = answer_metrics(results)
        assert metrics["answer_accuracy"] == pytest.approx(1 / 3)
        # Citations of answers to answerable questions only: (True, False) and (False,).
        assert metrics["citation_precision"] == pytest.approx(1 / 3)
        assert metrics["abstention_precision"] == pytest.approx(1 / 2)
        assert metrics["abstention_recall"] == pytest.approx(1 / 2)
        assert metrics["false_abstention"] == pytest.approx(1 / 3)

    def test_answer_metrics_absent_without_answers(self) -> None:
        assert set(answer_metrics([result((True,))]).values()) == {None}

    def test_percentile_interpolates(self) -> None:
        assert percentile([10.0, 20.0, 30.0, 40.0], 50) == pytest.approx(25.0)
        assert percentile([10.0, 20.0, 30.0, 40.0], 95) == pytest.approx(38.5)
        assert percentile([], 50) is None

    def test_slices_group_by_district(self) -> None:
        results = [
            result((True,), district="潼南区"),
            result((False, True), district="潼南区"),
            result((False,), district=None),
            result(answerable=False, relevant=0, district="万州区"),
        ]
        table = slices(results, lambda r: r.district)
        assert set(table) == {"潼南区", "万州区", "(none)"}
        assert table["潼南区"]["questions"] == 2
        assert table["潼南区"]["mrr@10"] == pytest.approx(0.75)
        assert table["(none)"]["recall@5"] == 0.0
        assert table["万州区"]["answerable"] == 0
        assert table["万州区"]["recall@5"] is None
