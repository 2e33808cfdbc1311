"""Queries that arrive while the model is busy are embedded together, in one batch, when it is free again.

One query alone runs at once, as before (no waiting window, so one client pays nothing). Under load, requests in
one worker queue behind the model anyway (its runtime runs one request at a time on the worker's one thread);
here they queue as a list, and the next caller to run takes the whole list as one padded batch. On this CPU a
batch of 4 short questions costs about 0.7x the CPU of four single runs (`bench/bench_server.py` for the
end-to-end figures). A batch's rows are computed as single rows except for padding, which the attention mask
removes: batched and single vectors of the first eight corpus_gold questions were bit-identical on this CPU.

Arrivals: a request that will embed a query announces itself when it reaches the server (`announce`, from
server.query_arrivals), before its body is parsed or a thread takes it. A caller about to run a batch while other
announced queries are on their way waits for them, up to `window_s`, so they join its batch instead of each running
alone after it. A lone query is never announced by anyone else, so it never waits. Measured with two workers and 8
clients, alternating with and without over 8 rounds (`bench/bench_server.py`): /ask 1.05x the requests/s (median;
1.03x paired round by round), /search 0.98x (1.01x paired); in four shorter runs /ask gained 2-8% in three.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from indexer.embedding import Embedder


@dataclass(eq=False)
class _Arrival:
    """One announced request: still on its way until its query is queued, or the request ends without one."""

    on_its_way: bool = True


# The request's arrival, set where it was announced (the event loop) and read where it embeds (a worker thread, to
# which the threadpool copies the context).
_ARRIVAL: contextvars.ContextVar[_Arrival | None] = contextvars.ContextVar("policyqa_query_arrival", default=None)


@dataclass(eq=False)
class _Job:
    text: str
    ready: threading.Event = field(default_factory=threading.Event)
    lead: bool = False  # this caller runs the next batch (its own job is first in it)
    vector: np.ndarray | None = None
    error: BaseException | None = None


class QueryBatcher:
    """Wraps an `Embedder`: single-query calls from concurrent threads are batched; all else passes through."""

    def __init__(self, embedder: Embedder, max_batch: int = 8, window_s: float = 0.0) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        if window_s < 0:
            raise ValueError("window_s must not be negative")
        self.inner = embedder
        self.max_batch = max_batch
        self.window_s = window_s
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._on_their_way = 0  # announced queries not queued yet
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

    @contextmanager
    def announce(self) -> Iterator[None]:
        """Around a request that will embed one query, from as early as the server sees it."""
        arrival = _Arrival()
        token = _ARRIVAL.set(arrival)
        with self._lock:
            self._on_their_way += 1
        try:
            yield
        finally:
            _ARRIVAL.reset(token)
            with self._lock:
                self._arrive(arrival)  # no query after all (a rejected request) or already queued: a no-op

    def _arrive(self, arrival: _Arrival | None) -> None:
        """Under the lock."""
        if arrival is not None and arrival.on_its_way:
            arrival.on_its_way = False
            self._on_their_way -= 1
            self._arrived.notify_all()

    def _embed_one(self, text: str) -> np.ndarray:
        job = _Job(text)
        arrival = _ARRIVAL.get()
        with self._lock:
            self._pending.append(job)
            self._arrive(arrival)
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
            if self.window_s > 0:
                self._arrived.wait_for(
                    lambda: self._on_their_way == 0 or len(self._pending) >= self.max_batch, self.window_s
                )
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
