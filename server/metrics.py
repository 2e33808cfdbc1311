"""Prometheus metrics (prometheus-client): requests and latency per route, answers and abstentions, and the loaded
index (generation, articles, chunks), read at scrape time so a reloaded index shows without bookkeeping.

Each app gets its own registry: tests and `policyqa serve` may build several apps in one process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.responses import Response
from starlette.types import Scope

# Retrieval plus answering is tens of ms on the seed corpus; the tail reaches seconds on busy cores.
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class _IndexCollector(Collector):
    """Gauges of whatever index is loaded when Prometheus scrapes (nothing while it is still loading)."""

    def __init__(self, resources: Callable[[], Any], metrics: AppMetrics) -> None:
        self.resources = resources
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        resources = self.resources()
        loaded = GaugeMetricFamily("policyqa_index_loaded", "1 once the index and model are loaded")
        loaded.add_metric([], 1.0 if resources is not None else 0.0)
        yield loaded
        if resources is not None:
            index = resources.index
            info = GaugeMetricFamily("policyqa_index_info", "The loaded index generation", labels=["generation"])
            info.add_metric([index.generation], 1.0)
            yield info
            yield GaugeMetricFamily(
                "policyqa_index_generation", "The loaded generation's number", index.manifest.generation
            )
            yield GaugeMetricFamily("policyqa_index_segments", "Segments in the loaded generation", len(index.segments))
            yield GaugeMetricFamily("policyqa_index_articles", "Articles in the loaded index", index.article_count)
            yield GaugeMetricFamily("policyqa_index_chunks", "Passages in the loaded index", index.chunk_count)
        answered, abstained = self.metrics.answer_counts()
        rate = GaugeMetricFamily("policyqa_abstention_rate", "Share of /ask answers that abstained, since start")
        rate.add_metric([], abstained / answered if answered else 0.0)
        yield rate


class AppMetrics:
    def __init__(self, resources: Callable[[], Any]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "policyqa_requests", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "policyqa_request_duration_seconds",
            "HTTP request latency, by route",
            ["method", "route"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.answers = Counter("policyqa_answers", "/ask answers", ["abstained"], registry=self.registry)
        self._lock = threading.Lock()
        self._answered = self._abstained = 0
        self.registry.register(_IndexCollector(resources, self))

    def answer_counts(self) -> tuple[int, int]:
        with self._lock:
            return self._answered, self._abstained

    def record_answer(self, abstained: bool) -> None:
        self.answers.labels(abstained=str(abstained).lower()).inc()
        with self._lock:  # routes run in the threadpool
            self._answered += 1
            self._abstained += abstained

    def endpoint(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


def _route(scope: Scope) -> str:
    # The route's template (/articles/{article_id:path}), never the raw path: one series per route, not per id.
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"


def observe_request(metrics: AppMetrics) -> Callable[[Scope, int, float], None]:
    """What server.asgi.ObservedRequests calls after each request: count it and time it, by route template."""

    def observe(scope: Scope, status: int, seconds: float) -> None:
        route, method = _route(scope), scope["method"]
        metrics.requests.labels(method, route, str(status)).inc()
        metrics.latency.labels(method, route).observe(seconds)

    return observe
