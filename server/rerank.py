"""The optional reranking stage: a Protocol, and a sentence-transformers CrossEncoder behind it.

Off by default: no Chinese cross-encoder can be fetched offline here. Set POLICYQA_RERANKER to a model name or
path where one is available.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol


class Reranker(Protocol):
    def score(self, query: str, passages: Sequence[str]) -> list[float]: ...


@dataclass(frozen=True)
class CrossEncoderReranker:
    model: Any

    @classmethod
    def load(cls, name: str) -> CrossEncoderReranker:
        from sentence_transformers import CrossEncoder

        return cls(CrossEncoder(name, device="cpu"))

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        return [float(s) for s in self.model.predict([(query, p) for p in passages], show_progress_bar=False)]
