"""An `Embedder` over a compiled graph (OpenVINO or ONNX Runtime): tokenise, run, pool, normalise — no torch."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from indexer.encoders.batching import Batch, TextBatcher, mean_pool


class Runner(Protocol):
    """Runs the graph: one batch at a time for queries, or a stream of batches (in parallel where it can)."""

    def run(self, batch: Batch) -> np.ndarray: ...

    def run_stream(self, batches: Iterable[Batch]) -> Iterator[tuple[Batch, np.ndarray]]: ...


@dataclass
class CompiledEmbedder:
    """Queries run on a latency runner (few threads, built at load), passages on a throughput runner built on
    first use, so a server never pays for the indexing configuration it does not use."""

    model_id: str
    encoder: str  # e.g. "openvino-bf16"; what the manifest records
    dtype: str  # the precision the graph computes in, for the manifest's embed_dtype
    dim: int
    query_prompt: str
    passage_prompt: str
    batcher: TextBatcher
    query_runner: Runner
    passage_runner_factory: Callable[[], Runner]
    batch_size: int = 16
    _passage_runner: Runner | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        prompted = [self.query_prompt + text for text in texts]
        if len(prompted) == 1:
            batch = self.batcher.pad(self.batcher.ids(prompted), np.zeros(1, np.int64))
            return mean_pool(self.query_runner.run(batch), batch.attention_mask)
        return self._collect(self.query_runner.run_stream(self.batcher.batches(prompted, self.batch_size)), len(texts))

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        with self._lock:
            if self._passage_runner is None:
                self._passage_runner = self.passage_runner_factory()
        prompted = [self.passage_prompt + text for text in texts]
        stream = self._passage_runner.run_stream(self.batcher.batches(prompted, self.batch_size))
        return self._collect(stream, len(texts))

    def _collect(self, stream: Iterator[tuple[Batch, np.ndarray]], rows: int) -> np.ndarray:
        out = np.empty((rows, self.dim), np.float32)
        for batch, hidden in stream:
            out[batch.positions] = mean_pool(hidden, batch.attention_mask)
        return out
