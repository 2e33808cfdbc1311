"""Concurrent single queries are embedded in batches, each caller gets its own vector, and errors reach everyone."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import numpy as np
import pytest

from indexer.embedding import Embedder
from server.query_batching import QueryBatcher
from tests.fakes import FakeEmbedder


class SlowFakeEmbedder(FakeEmbedder):
    """The fake embedder, taking `delay` seconds per call so that callers pile up behind it (a fake model)."""

    def __init__(self, delay: float = 0.02, fail_on: str | None = None) -> None:
        super().__init__()
        self.delay = delay
        self.fail_on = fail_on
        self.batches: list[list[str]] = []

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        self.batches.append(list(texts))
        time.sleep(self.delay)
        if self.fail_on is not None and self.fail_on in texts:
            raise RuntimeError(f"cannot embed {self.fail_on}")
        return super().embed_queries(texts)


def _ask_concurrently(batcher: QueryBatcher, texts: list[str]) -> dict[str, np.ndarray | BaseException]:
    results: dict[str, np.ndarray | BaseException] = {}
    start = threading.Barrier(len(texts))

    def ask(text: str) -> None:
        start.wait()
        try:
            results[text] = batcher.embed_queries([text])[0]
        except BaseException as error:
            results[text] = error

    threads = [threading.Thread(target=ask, args=(text,)) for text in texts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a caller never got its vector"
    return results


def test_one_query_runs_alone_and_at_once() -> None:
    inner = SlowFakeEmbedder(delay=0.0)
    batcher = QueryBatcher(inner, max_batch=8)
    vector = batcher.embed_queries(["潼南柠檬产值"])
    assert inner.batches == [["潼南柠檬产值"]]
    np.testing.assert_array_equal(vector, FakeEmbedder().embed_queries(["潼南柠檬产值"]))


def test_concurrent_queries_are_batched_and_each_gets_its_own_vector() -> None:
    inner = SlowFakeEmbedder(delay=0.05)
    batcher = QueryBatcher(inner, max_batch=4)
    texts = [f"第{i}个问题：江津区的补贴是多少" for i in range(12)]
    results = _ask_concurrently(batcher, texts)
    reference = FakeEmbedder()
    for text in texts:
        vector = results[text]
        assert isinstance(vector, np.ndarray)
        np.testing.assert_allclose(vector, reference.embed_queries([text])[0], rtol=1e-6)
    sizes = [len(batch) for batch in inner.batches]
    assert sum(sizes) == len(texts)
    assert max(sizes) > 1, f"no batching under load: {sizes}"
    assert max(sizes) <= 4
    assert len(inner.batches) < len(texts)


def test_an_error_reaches_every_caller_in_its_batch_and_the_batcher_recovers() -> None:
    inner = SlowFakeEmbedder(delay=0.05, fail_on="坏问题")
    batcher = QueryBatcher(inner, max_batch=16)
    results = _ask_concurrently(batcher, ["坏问题", *[f"问题{i}" for i in range(5)]])
    failed_batches = [batch for batch in inner.batches if "坏问题" in batch]
    for text in failed_batches[0]:
        assert isinstance(results[text], RuntimeError)
    for text, result in results.items():
        if text not in failed_batches[0]:
            assert isinstance(result, np.ndarray)
    # Nothing is left waiting or marked busy: the next query runs at once, alone.
    inner.batches.clear()
    assert batcher.embed_queries(["之后的问题"]).shape == (1, inner.dim)
    assert inner.batches == [["之后的问题"]]


def test_batches_of_the_real_model_match_single_queries(real_embedder: Embedder) -> None:
    batcher = QueryBatcher(real_embedder, max_batch=8)
    texts = ["潼南的柠檬产业一年产值多少？", "江津区花椒种植面积", "綦江区有哪些新政策", "荣昌"]
    results = _ask_concurrently(batcher, texts)
    for text in texts:
        expected = real_embedder.embed_queries([text])[0]
        vector = results[text]
        assert isinstance(vector, np.ndarray)
        assert float(vector @ expected) > 0.9999


def test_max_batch_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        QueryBatcher(FakeEmbedder(), max_batch=0)


def test_a_query_announced_before_a_batch_starts_joins_it() -> None:
    """The first caller finds another announced request still on its way (parsing, waiting for a thread) and waits
    for its query instead of running alone."""
    inner = SlowFakeEmbedder(delay=0.0)
    batcher = QueryBatcher(inner, max_batch=8, window_s=5.0)
    announced, results = threading.Event(), {}

    def late_request() -> None:
        with batcher.announce():
            announced.set()
            time.sleep(0.2)  # the request is still on its way when the first query is ready to run
            results["late"] = batcher.embed_queries(["江津花椒"])[0]

    late = threading.Thread(target=late_request)
    late.start()
    announced.wait(5)
    started = time.perf_counter()
    with batcher.announce():
        first = batcher.embed_queries(["潼南柠檬产值"])[0]
    waited = time.perf_counter() - started
    late.join(10)
    assert inner.batches == [["潼南柠檬产值", "江津花椒"]]
    assert 0.1 < waited < 4.0  # it waited for the other query, not the whole window
    np.testing.assert_array_equal(first, FakeEmbedder().embed_queries(["潼南柠檬产值"])[0])
    np.testing.assert_array_equal(results["late"], FakeEmbedder().embed_queries(["江津花椒"])[0])


def test_a_lone_announced_query_runs_at_once() -> None:
    inner = SlowFakeEmbedder(delay=0.0)
    batcher = QueryBatcher(inner, max_batch=8, window_s=5.0)
    started = time.perf_counter()
    with batcher.announce():
        batcher.embed_queries(["潼南柠檬产值"])
    assert time.perf_counter() - started < 1.0
    assert inner.batches == [["潼南柠檬产值"]]


def test_a_request_that_never_embeds_delays_a_batch_by_the_window_at_most() -> None:
    """An announced request that ends without a query (e.g. refused as invalid) holds nobody up for longer than the
    window, and once it has ended nobody waits for it at all."""
    inner = SlowFakeEmbedder(delay=0.0)
    batcher = QueryBatcher(inner, max_batch=8, window_s=0.3)
    release, announced = threading.Event(), threading.Event()

    def request_without_query() -> None:
        with batcher.announce():
            announced.set()
            release.wait(10)

    holder = threading.Thread(target=request_without_query)
    holder.start()
    announced.wait(5)
    started = time.perf_counter()
    batcher.embed_queries(["潼南柠檬产值"])
    assert 0.25 < time.perf_counter() - started < 3.0
    release.set()
    holder.join(10)
    started = time.perf_counter()
    batcher.embed_queries(["江津花椒"])
    assert time.perf_counter() - started < 0.25
    assert inner.batches == [["潼南柠檬产值"], ["江津花椒"]]


def test_window_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="window_s"):
        QueryBatcher(SlowFakeEmbedder(), window_s=-1.0)
