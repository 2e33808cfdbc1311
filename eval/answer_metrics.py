"""Short-answer and abstention metrics, beside eval/metrics.py's sentence-level ones.

- Short-answer exact match (EM) and character F1, SQuAD style per character (Chinese has no word boundaries): over
  answerable questions with a gold answer of at most SHORT_GOLD_CHARS characters; the prediction is the answer's
  `short_answer` text, empty when there is none or the service abstained. Both sides are compared with whitespace
  and punctuation removed; F1 counts common characters with multiplicity.
- Abstention curve: for each threshold on the answerer's confidence, abstention precision and recall and the false
  abstention rate, as if the answerer abstained below it (questions no sentence qualifies for count as confidence 0).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

SHORT_GOLD_CHARS = 30
_IGNORED = re.compile(r"[\s\W_]+")
CURVE_THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(0, 20))


def normalise(text: str) -> str:
    return _IGNORED.sub("", text.lower())


def char_f1(prediction: str, gold: str) -> float:
    pred, truth = normalise(prediction), normalise(gold)
    if not pred or not truth:
        return float(pred == truth)
    common = sum((Counter(pred) & Counter(truth)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(truth)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction: str, gold: str) -> float:
    return float(normalise(prediction) == normalise(gold) and bool(normalise(gold)))


def short_answer_metrics(results: Sequence[Any]) -> dict[str, float | int | None]:
    graded = [
        r
        for r in results
        if r.answer is not None and r.answerable and r.gold_answer and len(normalise(r.gold_answer)) <= SHORT_GOLD_CHARS
    ]
    if not graded:
        return {"short_graded": 0, "short_em": None, "short_f1": None, "short_given": None}
    predictions = [(r.answer.short or "") if not r.answer.abstained else "" for r in graded]
    return {
        "short_graded": len(graded),
        "short_em": sum(exact_match(p, r.gold_answer) for p, r in zip(predictions, graded, strict=True)) / len(graded),
        "short_f1": sum(char_f1(p, r.gold_answer) for p, r in zip(predictions, graded, strict=True)) / len(graded),
        "short_given": sum(bool(p) for p in predictions) / len(graded),
    }


def abstention_curve(results: Sequence[Any]) -> list[dict[str, float | None]]:
    answered = [r for r in results if r.answer is not None]
    unanswerable = sum(not r.answerable for r in answered)
    answerable = len(answered) - unanswerable
    curve = []
    for threshold in CURVE_THRESHOLDS:
        abstained = [r for r in answered if r.answer.confidence < threshold]
        right = sum(not r.answerable for r in abstained)
        curve.append(
            {
                "threshold": threshold,
                "abstention_precision": right / len(abstained) if abstained else None,
                "abstention_recall": right / unanswerable if unanswerable else None,
                "false_abstention": (len(abstained) - right) / answerable if answerable else None,
            }
        )
    return curve
