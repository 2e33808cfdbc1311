"""How one retrieved list, one answer and one run are scored. Pure functions over plain values.

Definitions (also printed in every report):
- A text *matches* an evidence string when, with all whitespace removed from both, it contains the evidence, or
  contains a contiguous run of at least 60% of it (ceil(0.6 * len)): an evidence cut by a chunk boundary still counts.
- A retrieved passage is a *hit* when its verbatim text matches any evidence string; evidence keyed by an article
  id only matches passages of that article, evidence keyed by None matches passages of any article.
- Recall@k: share of answerable questions with at least one hit in the top k (evidence strings of one question are
  alternatives, any one counts). MRR@10: mean of 1/rank of the first hit in the top 10 (0 when none).
- nDCG@10: binary gain, DCG = sum over ranks i <= 10 of hit_i / log2(i + 1); the ideal DCG puts R hits at the top,
  R = number of passages in the whole index that are hits (the judged-relevant set, capped at 10), as in trec_eval;
  copies of one text (a reprint group found when indexing) count once, since results show each text once.
- Article Recall@k: share of answerable questions where a top-k passage comes from an article that holds evidence.
- Answer accuracy: share of answerable questions with a gold answer whose answer (citation markers removed)
  contains the gold answer, whitespace ignored; an abstention is wrong.
- Citation precision: share of all citations (of answers to answerable questions) whose sentence matches evidence.
- Abstention precision/recall: over abstentions / over unanswerable questions; false abstention: share of
  answerable questions that were abstained on.
- Short-answer EM / char F1, abstention curve: see eval/answer_metrics.py (SQuAD-style per-character F1 over
  gold answers of at most 30 characters; the curve re-thresholds the answerer's confidence).
- Latency: wall-clock per query inside the eval, after one untimed warm-up query per retriever; p50/p95 by linear
  interpolation. Retrieval latency is one `search(k=10)`; ask latency is `search(k=5)` plus `answer`, as /ask runs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

PARTIAL_SHARE = 0.6
_MARKER = re.compile(r"\[\d+\]")


def compact(text: str) -> str:
    return "".join(text.split())


def contains_evidence(text: str, evidence: str, share: float = PARTIAL_SHARE) -> bool:
    """Whole evidence, or a contiguous run of at least `share` of it, inside `text`, whitespace ignored."""
    needle, haystack = compact(evidence), compact(text)
    if not needle:
        return False
    if needle in haystack:
        return True
    # The longest common substring is >= n exactly when some length-n window of the evidence occurs in the text.
    n = math.ceil(share * len(needle))
    return any(needle[i : i + n] in haystack for i in range(len(needle) - n + 1))


def matches_evidence(text: str, article_id: str, evidence: Mapping[str | None, Sequence[str]]) -> bool:
    for article, items in evidence.items():
        if article is not None and article != article_id:
            continue
        if any(contains_evidence(text, item) for item in items):
            return True
    return False


def recall_at(hits: Sequence[bool], k: int) -> float:
    return 1.0 if any(hits[:k]) else 0.0


def reciprocal_rank(hits: Sequence[bool], k: int = 10) -> float:
    for rank, hit in enumerate(hits[:k], start=1):
        if hit:
            return 1.0 / rank
    return 0.0


def ndcg_at(hits: Sequence[bool], relevant: int, k: int = 10) -> float:
    """Binary nDCG@k; `relevant` is how many passages in the collection are hits (at least the hits retrieved)."""
    dcg = sum(1.0 / math.log2(rank + 1) for rank, hit in enumerate(hits[:k], start=1) if hit)
    ideal_hits = min(max(relevant, sum(bool(h) for h in hits[:k])), k)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, ideal_hits + 1))
    return dcg / ideal if ideal else 0.0


def answer_correct(answer_text: str | None, gold: str) -> bool:
    if answer_text is None:
        return False
    return compact(gold) in compact(_MARKER.sub("", answer_text))


def percentile(values: Sequence[float], q: float) -> float | None:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if values else None


@dataclass(frozen=True)
class AnswerOutcome:
    text: str | None
    abstained: bool
    citation_hits: tuple[bool, ...]  # one per citation: does its sentence match evidence
    latency_ms: float  # the whole /ask path: search with the answer's k, then answering
    short: str | None = None  # the short answer's text, if any
    confidence: float = 0.0  # the answerer's confidence in its best sentence (0: none qualified)


@dataclass(frozen=True)
class QuestionResult:
    """What one retriever (and the answerer behind it) did for one question."""

    question_id: str
    type: str
    district: str | None
    answerable: bool
    gold_answer: str | None
    hits: tuple[bool, ...]  # per retrieved passage, in rank order
    article_hits: tuple[bool, ...]  # per retrieved passage: is its article one that holds evidence
    relevant: int  # passages in the index that are hits
    latency_ms: float  # retrieval only
    answer: AnswerOutcome | None = None


def _mean(values: Iterable[float]) -> float | None:
    values = list(values)
    return sum(values) / len(values) if values else None


def _share(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def retrieval_metrics(results: Sequence[QuestionResult], k: int = 10) -> dict[str, float | None]:
    scored = [r for r in results if r.answerable]
    cutoffs = sorted({1, 5, 10, k})
    metrics: dict[str, float | None] = {}
    for cut in cutoffs:
        metrics[f"recall@{cut}"] = _mean(recall_at(r.hits, cut) for r in scored)
    metrics["mrr@10"] = _mean(reciprocal_rank(r.hits, 10) for r in scored)
    metrics["ndcg@10"] = _mean(ndcg_at(r.hits, r.relevant, 10) for r in scored)
    for cut in cutoffs:
        metrics[f"article_recall@{cut}"] = _mean(recall_at(r.article_hits, cut) for r in scored)
    return metrics


def recall_curve(results: Sequence[QuestionResult], depth: int) -> list[float]:
    scored = [r for r in results if r.answerable]
    return [_mean(recall_at(r.hits, cut) for r in scored) or 0.0 for cut in range(1, depth + 1)]


def answer_metrics(results: Sequence[QuestionResult]) -> dict[str, float | None]:
    answered = [r for r in results if r.answer is not None]
    if not answered:
        return dict.fromkeys(
            ("answer_accuracy", "citation_precision", "abstention_precision", "abstention_recall", "false_abstention"),
        )
    graded = [r for r in answered if r.answerable and r.gold_answer is not None]
    citations = [hit for r in answered if r.answerable and not r.answer.abstained for hit in r.answer.citation_hits]
    abstained = [r for r in answered if r.answer.abstained]
    unanswerable = [r for r in answered if not r.answerable]
    answerable = [r for r in answered if r.answerable]
    correct_abstentions = sum(1 for r in abstained if not r.answerable)
    return {
        "answer_accuracy": _mean(
            1.0 if not r.answer.abstained and answer_correct(r.answer.text, r.gold_answer) else 0.0 for r in graded
        ),
        "citation_precision": _share(sum(citations), len(citations)),
        "abstention_precision": _share(correct_abstentions, len(abstained)),
        "abstention_recall": _share(correct_abstentions, len(unanswerable)),
        "false_abstention": _share(sum(1 for r in answerable if r.answer.abstained), len(answerable)),
    }


def latency_metrics(results: Sequence[QuestionResult]) -> dict[str, float | None]:
    search = [r.latency_ms for r in results]
    answer = [r.answer.latency_ms for r in results if r.answer is not None]
    return {
        "latency_ms_p50": percentile(search, 50),
        "latency_ms_p95": percentile(search, 95),
        "ask_latency_ms_p50": percentile(answer, 50),
        "ask_latency_ms_p95": percentile(answer, 95),
    }


def summarize(results: Sequence[QuestionResult], k: int = 10) -> dict[str, Any]:
    from eval.answer_metrics import abstention_curve, short_answer_metrics

    return {
        "questions": len(results),
        "answerable": sum(1 for r in results if r.answerable),
        "unanswerable": sum(1 for r in results if not r.answerable),
        **retrieval_metrics(results, k),
        **answer_metrics(results),
        **short_answer_metrics(results),
        **latency_metrics(results),
        "abstention_curve": abstention_curve(results),
    }


def slices(
    results: Sequence[QuestionResult], key: Callable[[QuestionResult], str | None]
) -> dict[str, dict[str, float | int | None]]:
    """Per slice value: question counts, Recall@5, MRR@10 and answer accuracy."""
    groups: dict[str, list[QuestionResult]] = {}
    for result in results:
        groups.setdefault(key(result) or "(none)", []).append(result)
    table = {}
    for name in sorted(groups):
        group = groups[name]
        retrieval = retrieval_metrics(group)
        table[name] = {
            "questions": len(group),
            "answerable": sum(1 for r in group if r.answerable),
            "recall@5": retrieval["recall@5"],
            "mrr@10": retrieval["mrr@10"],
            "answer_accuracy": answer_metrics(group)["answer_accuracy"],
        }
    return table
