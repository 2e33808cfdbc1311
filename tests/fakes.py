"""Fakes for fast unit tests: they stand in for the real model only where the model is not the subject."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Sequence

import numpy as np


class FakeEmbedder:
    """Hashes character bigrams into a normalised vector: deterministic, instant, and similar texts score high."""

    def __init__(self, dim: int = 64, model_id: str = "fake/bigram-hash") -> None:
        self.model_id = model_id
        self.dim = dim
        self.query_prompt = "query: "
        self.passage_prompt = "passage: "
        self.dtype = "float32"
        self.calls: list[int] = []

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dim, np.float32)
        for a, b in itertools.pairwise(text):
            digest = hashlib.blake2b((a + b).encode(), digest_size=4).digest()
            vector[int.from_bytes(digest, "little") % self.dim] += 1.0
        norm = np.linalg.norm(vector)
        return vector / norm if norm else vector + 1.0 / np.sqrt(self.dim)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(len(texts))
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    @property
    def embedded(self) -> int:
        return sum(self.calls)
