"""Fit the answer model on the tuning sets and write server/data/answer_model.json.

    .venv/bin/python bench/train_answerer.py            # retrain, print figures, write the weights file
    .venv/bin/python bench/train_answerer.py --check    # retrain and fail unless the committed file is reproduced

Tuning data only: corpus_gold (with its near-miss unanswerable questions), district-policies and CMRC 2018 trial.
CMRC 2018 dev and ncppolicies are never read here. Every question goes through the server's own hybrid retrieval
(k=5, as /ask) and the answerer's candidate sentences; a sentence is a positive when it holds the gold answer.
Logistic regression (scikit-learn, lbfgs, fixed C) is deterministic, so the same data writes the same file.
The abstention threshold is the highest one that keeps false abstention at or under 3% on each tuning set with
unanswerable questions; the figures printed per dataset are the answerer's own, run with the new weights.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eval.indexes import prepare_index
from eval.loaders import load_dataset
from eval.metrics import answer_correct, compact
from eval.settings import EvalSettings
from indexer.embedding import load_embedder
from indexer.normalize import fold
from indexer.settings import IndexSettings
from server.answer_model import DEFAULT_WEIGHTS, AnswerModel, Linear, confidence_row, weights_json
from server.sentence_features import FEATURES
from server.settings import ServerSettings

TUNING = ("corpus_gold", "district-policies", "cmrc2018-trial")
C = 0.5
EXTRA_RATIO = 0.6  # a further sentence joins within 60% of the best one's probability (see the closing note)
MAX_FALSE_ABSTENTION = 0.03


@dataclass
class Unscored:
    """Stands in for the model while features are collected (candidates() does not score)."""

    threshold: float = 0.0
    extra_ratio: float = EXTRA_RATIO

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        return np.zeros(len(rows))


@dataclass
class Item:
    dataset: str
    answerable: bool
    gold: str | None
    profile: object
    passages: tuple
    rows: np.ndarray  # candidates x features
    labels: np.ndarray


def _label(text: str, gold: str | None, evidence: tuple[str, ...]) -> bool:
    if gold is not None:
        return compact(gold) in compact(text)
    return any(compact(e) in compact(text) for e in evidence)


def collect(name: str, settings: EvalSettings) -> list[Item]:
    from server.resources import load_resources

    dataset = load_dataset(name, settings)
    configured = IndexSettings()
    embedder = load_embedder(configured)
    index_settings, _ = prepare_index(dataset, configured, settings, lambda: embedder)
    resources = load_resources(index_settings, ServerSettings(), embedder=embedder, answer_model=Unscored())
    answerer = resources.answerer
    items = []
    for question in dataset.questions:
        asked = fold(question.question)
        passages = tuple(resources.retriever.search(asked, k=settings.answer_passages, mode="hybrid"))
        profile = answerer.profile(asked)
        covered = bool(passages) and answerer._covers_districts(profile, passages)
        candidates = answerer.candidates(profile, passages) if covered else []
        evidence = tuple(e for texts in question.evidence.values() for e in texts)
        rows = np.asarray([c.features for c in candidates], dtype=float).reshape(len(candidates), len(FEATURES))
        labels = np.asarray([question.answerable and _label(c.text, question.answer, evidence) for c in candidates])
        items.append(Item(name, question.answerable, question.answer, profile, passages, rows, labels))
    print(f"{name}: {len(items)} questions, {sum(len(i.labels) for i in items)} candidate sentences", file=sys.stderr)
    return items


def logistic(rows: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> Linear:
    from sklearn.linear_model import LogisticRegression

    mean = rows.mean(axis=0)
    scale = rows.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=C, max_iter=5000, solver="lbfgs")
    model.fit((rows - mean) / scale, labels, sample_weight=weights)
    return Linear(mean, scale, model.coef_[0], float(model.intercept_[0]))


def fit_sentences(items: list[Item]) -> Linear:
    kept = [i for i in items if len(i.rows)]
    rows = np.vstack([i.rows for i in kept])
    labels = np.concatenate([i.labels for i in kept])
    # Every question weighs the same, however many candidate sentences it has.
    weights = np.concatenate([np.full(len(i.rows), len(kept) / len(i.rows)) for i in kept])
    return logistic(rows, labels, weights)


def confidence_rows(items: list[Item], sentence: Linear) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Per question with candidates: the confidence model's input and whether its best sentence is right."""
    rows, labels, which = [], [], []
    for n, item in enumerate(items):
        if not len(item.rows):
            continue
        probabilities = sentence(item.rows)
        order = np.argsort(-probabilities, kind="stable")
        best = order[0]
        runner_up = probabilities[order[1]] if len(order) > 1 else 0.0
        rows.append(confidence_row(probabilities[best], runner_up, len(order), tuple(item.rows[best])))
        labels.append(bool(item.labels[best]))
        which.append(n)
    return np.asarray(rows), np.asarray(labels), which


def simulate(items: list[Item], model: AnswerModel) -> dict[str, dict]:
    """Each tuning set's answer accuracy, false abstention and abstention recall, by the answerer itself."""
    from indexer.districts import Gazetteer
    from server.answering import Answerer

    scored = Answerer.create(embedder=None, gazetteer=Gazetteer.load(), model=model)  # type: ignore[arg-type]
    out: dict[str, dict] = {}
    for name in TUNING:
        subset = [i for i in items if i.dataset == name]
        correct = abstained_answerable = abstained_unanswerable = 0
        graded = [i for i in subset if i.answerable and i.gold is not None]
        for item in subset:
            covered = bool(item.passages) and scored._covers_districts(item.profile, item.passages)
            answer = scored.extract(item.profile, item.passages) if covered else None
            abstained = answer is None or answer.abstained
            if item.answerable:
                abstained_answerable += abstained
                if item.gold is not None and not abstained and answer_correct(answer.text, item.gold):
                    correct += 1
            else:
                abstained_unanswerable += abstained
        answerable = sum(i.answerable for i in subset)
        unanswerable = len(subset) - answerable
        out[name] = {
            "answer_accuracy": round(correct / max(1, len(graded)), 4),
            "false_abstention": round(abstained_answerable / max(1, answerable), 4),
            "abstention_recall": round(abstained_unanswerable / unanswerable, 4) if unanswerable else None,
            "unanswerable": unanswerable,
        }
    return out


def confidences(items: list[Item], sentence: Linear, answer: Linear) -> list[float]:
    """Each question's confidence in its best sentence; 0 where no sentence qualifies (always abstained)."""
    rows, _, which = confidence_rows(items, sentence)
    out = [0.0] * len(items)
    for n, value in zip(which, answer(rows), strict=True):
        out[n] = float(value)
    return out


def choose_threshold(items: list[Item], best: list[float]) -> float:
    """The highest threshold keeping false abstention at or under MAX_FALSE_ABSTENTION on each tuning set that has
    unanswerable questions (corpus_gold and district-policies): abstain as often as answerable questions allow."""
    chosen = 0.0
    for step in range(0, 100):
        threshold = step / 100
        ok = True
        for name in TUNING:
            subset = [b for i, b in zip(items, best, strict=True) if i.dataset == name]
            flags = [i for i in items if i.dataset == name]
            if all(i.answerable for i in flags):
                continue
            answerable = [b for i, b in zip(flags, subset, strict=True) if i.answerable]
            ok &= sum(b < threshold for b in answerable) / len(answerable) <= MAX_FALSE_ABSTENTION
        if not ok:
            break
        chosen = threshold
    return chosen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_WEIGHTS)
    parser.add_argument("--check", action="store_true", help="fail unless the written file equals the committed one")
    parser.add_argument("--cache", type=Path, help="keep the collected candidates here (a pickle) between runs")
    args = parser.parse_args()
    settings = EvalSettings()
    items: list[Item] = []
    if args.cache and args.cache.exists():
        items = pickle.loads(args.cache.read_bytes())
    else:
        for name in TUNING:
            items += collect(name, settings)
        if args.cache:
            args.cache.write_bytes(pickle.dumps(items))
    sentence = fit_sentences(items)
    rows, labels, _ = confidence_rows(items, sentence)
    answer = logistic(rows, labels, np.ones(len(labels)))
    best = confidences(items, sentence, answer)
    threshold = choose_threshold(items, best)
    meta = {
        "trained_on": list(TUNING),
        "questions": len(items),
        "candidates": int(sum(len(i.rows) for i in items)),
        "C": C,
        "threshold_rule": f"highest with false abstention <= {MAX_FALSE_ABSTENTION} on each tuning set with "
        "unanswerable questions",
    }
    text = weights_json(sentence, answer, threshold, EXTRA_RATIO, meta)
    if args.check:
        committed = args.out.read_text(encoding="utf-8")
        same = _close(json.loads(committed), json.loads(text))
        print(f"reproduces {args.out}: {same}")
        if not same:
            return 1
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    model = AnswerModel.load(args.out)
    figures = simulate(items, model)
    curve = threshold_curve(items, best)
    for name, row in figures.items():
        print(f"{name}: {row}")
    print(f"threshold {threshold} (weights {args.out}, sha256 {model.digest})")
    print(json.dumps({"threshold": threshold, "digest": model.digest, "tuning": figures, "curve": curve}))
    return 0


def threshold_curve(items: list[Item], best: list[float]) -> list[dict]:
    """Abstention precision/recall over thresholds on the tuning sets pooled."""
    rows = []
    for step in range(0, 100, 5):
        threshold = step / 100
        abstained = [i for i, b in zip(items, best, strict=True) if b < threshold]
        right = sum(not i.answerable for i in abstained)
        unanswerable = sum(not i.answerable for i in items)
        rows.append(
            {
                "threshold": threshold,
                "precision": round(right / len(abstained), 4) if abstained else None,
                "recall": round(right / unanswerable, 4),
            }
        )
    return rows


def _close(a: dict, b: dict, tolerance: float = 1e-6) -> bool:
    if a.keys() != b.keys():
        return False
    for key in a:
        x, y = a[key], b[key]
        if isinstance(x, dict):
            if not isinstance(y, dict) or not _close(x, y, tolerance):
                return False
        elif isinstance(x, list) and x and isinstance(x[0], float):
            if not np.allclose(x, y, atol=tolerance):
                return False
        elif isinstance(x, float):
            if abs(x - y) > tolerance:
                return False
        elif x != y:
            return False
    return True


if __name__ == "__main__":
    raise SystemExit(main())
