"""The learned answer scorer, read from a JSON weights file: two logistic regressions, numpy only at serving time.

- The sentence model scores each candidate sentence (server/sentence_features.py): does it hold the answer?
- The confidence model scores the question's best sentence, given its features and its lead over the runner-up:
  is that answer right? The answerer abstains when this is under the threshold.

`bench/train_answerer.py` fits both (scikit-learn) on the tuning sets only, chooses the threshold there and writes
the file; the eval report records the file's digest, so every figure names the weights it came from.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from server.sentence_features import FEATURES

DEFAULT_WEIGHTS = Path(__file__).resolve().parent / "data" / "answer_model.json"
CONFIDENCE_FEATURES = ("best_probability", "runner_up_gap", "candidates", *FEATURES)


class SentenceScorer(Protocol):
    threshold: float
    extra_ratio: float

    def probabilities(self, rows: np.ndarray) -> np.ndarray: ...

    def confidence(self, row: np.ndarray) -> float: ...


class WeightsError(ValueError):
    """A weights file that does not fit this code: missing, unreadable, or made for other features."""


@dataclass(frozen=True)
class Linear:
    """A standardised logistic regression."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        z = ((rows - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-z))

    def to_json(self) -> dict[str, Any]:
        def rounded(values: np.ndarray) -> list[float]:
            return [round(float(v), 8) for v in values]

        return {
            "mean": rounded(self.mean),
            "scale": rounded(self.scale),
            "coef": rounded(self.coef),
            "intercept": round(float(self.intercept), 8),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Linear:
        return cls(*(np.asarray(data[k], dtype=float) for k in ("mean", "scale", "coef")), float(data["intercept"]))


def confidence_row(best: float, runner_up: float, candidates: int, features: tuple[float, ...]) -> np.ndarray:
    return np.asarray([best, best - runner_up, np.log1p(candidates), *features], dtype=float)


@dataclass(frozen=True)
class AnswerModel:
    sentence: Linear
    answer: Linear
    threshold: float  # abstain when the confidence in the best sentence is below this
    extra_ratio: float  # a further sentence joins when its probability is this close to the best
    digest: str  # sha256 of the weights file, first 12 characters
    meta: dict[str, Any]

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        return self.sentence(rows)

    def confidence(self, row: np.ndarray) -> float:
        return float(self.answer(row[None, :])[0])

    @classmethod
    def load(cls, path: Path = DEFAULT_WEIGHTS) -> AnswerModel:
        try:
            raw = path.read_bytes()
            data = json.loads(raw)
        except (OSError, json.JSONDecodeError) as exc:
            raise WeightsError(f"cannot read answer weights {path}: {exc} (run bench/train_answerer.py)") from exc
        if tuple(data.get("features", ())) != FEATURES:
            raise WeightsError(
                f"answer weights {path} were trained for other features; retrain with bench/train_answerer.py"
            )
        return cls(
            sentence=Linear.from_json(data["sentence"]),
            answer=Linear.from_json(data["answer"]),
            threshold=float(data["threshold"]),
            extra_ratio=float(data["extra_ratio"]),
            digest=hashlib.sha256(raw).hexdigest()[:12],
            meta={k: v for k, v in data.items() if k not in ("sentence", "answer")},
        )


def weights_json(sentence: Linear, answer: Linear, threshold: float, extra_ratio: float, meta: dict[str, Any]) -> str:
    """The weights file's text; values rounded so that retraining on the same data writes the same bytes."""
    data = {
        "features": list(FEATURES),
        "confidence_features": list(CONFIDENCE_FEATURES),
        "threshold": round(float(threshold), 4),
        "extra_ratio": round(float(extra_ratio), 4),
        **meta,
        "sentence": sentence.to_json(),
        "answer": answer.to_json(),
    }
    return json.dumps(data, ensure_ascii=False, indent=1) + "\n"
