"""Queries that arrive while the model is busy are embedded together, in one batch, when it is free again.

One query alone runs at once, as before (no waiting window, so one client pays nothing). Under load, requests in
one worker queue behind the model anyway (its runtime runs one request at a time on the worker's one thread);
here they queue as a list, and the next caller to run takes the whole list as one padded batch. On this CPU a
batch of 4 short questions costs about 0.7x the CPU of four single runs (`bench/bench_server.py` for the
end-to-end figures). A batch's rows are computed as single rows except for padding, which the attention mask
removes: batched and single vectors of the first eight corpus_gold questions were bit-identical on this CPU.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from indexer.embedding import Embedder


@dataclass(eq=False)
class _Job:
    text: str
    ready: threading.Event = field(default_factory=threading.Event)
    lead: bool = False  # this caller runs the next batch (its own job is first in it)
    vector: np.ndarray | None = None
    error: BaseException | None = None


class QueryBatcher:
    """Wraps an `Embedder`: single-query calls from concurrent threads are batched; all else passes through."""

    def __init__(self, embedder: Embedder, max_batch: int = 8) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.inner = embedder
        self.max_batch = max_batch
        self._lock = threading.Lock()
        self._pending: list[_Job] = []
        self._busy = False
        self.batch_sizes: list[int] = []  # recent batch sizes, for tests and benchmarks (bounded below)

    # The Embedder protocol, delegated.
    @property
    def model_id(self) -> str:
        return self.inner.model_id

    @property
    def dim(self) -> int:
        return self.inner.dim

    @property
    def query_prompt(self) -> str:
        return self.inner.query_prompt

    @property
    def passage_prompt(self) -> str:
        return self.inner.passage_prompt

    def __getattr__(self, name: str) -> Any:
        # Optional attributes callers probe with getattr (e.g. `encoder`) come from the wrapped embedder.
        return getattr(self.inner, name)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_passages(texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) != 1:
            return self.inner.embed_queries(texts)
        return self._embed_one(texts[0])[None, :]

    def _embed_one(self, text: str) -> np.ndarray:
        job = _Job(text)
        with self._lock:
            self._pending.append(job)
            if not self._busy:
                self._busy = job.lead = True
        if not job.lead:
            job.ready.wait()
        if job.lead:
            self._run_batch()
        if job.error is not None:
            raise job.error
        assert job.vector is not None
        return job.vector

    def _run_batch(self) -> None:
        with self._lock:
            batch = self._pending[: self.max_batch]
            del self._pending[: len(batch)]
        try:
            vectors = self.inner.embed_queries([job.text for job in batch])
            for job, vector in zip(batch, vectors, strict=True):
                job.vector = vector
        except BaseException as error:  # every caller in the batch gets the error, not a hang
            for job in batch:
                job.error = error
        with self._lock:
            self.batch_sizes = [*self.batch_sizes[-999:], len(batch)]
            successor = self._pending[0] if self._pending else None
            if successor is None:
                self._busy = False
            else:
                successor.lead = True  # first in the queue runs the next batch, its own job first
        for job in batch[1:]:
            job.ready.set()
        if successor is not None:
            successor.ready.set()
