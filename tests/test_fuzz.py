"""Schemathesis over every route of the OpenAPI schema (issue 15): valid and invalid inputs generated from the
schema itself; no 5xx, responses conforming to the documented status codes, content types and schemas, and invalid
input refused. On the fake-embedder index of test_api, so the run is seconds; bounded by example count, not by
time. bench/fuzz_api.py runs the same checks over 10,000+ requests against a real server."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.generation import GenerationMode

from server.app import create_app
from tests.samples import sample_resources

# Per route and generation mode: about 1,100 requests in all, under half a minute on the fake embedder.
EXAMPLES = 150
# No parameters, or only a free string in the path: there is no invalid input to make for these.
NOTHING_INVALID = {"GET /healthz", "GET /metrics", "GET /articles/{article_id}", "POST /admin/reload"}
ROUTES = {
    "GET /healthz",
    "POST /search",
    "POST /ask",
    "GET /articles/{article_id}",
    "GET /metrics",
    "POST /admin/reload",
}


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    yield create_app(resources=sample_resources(tmp_path_factory.mktemp("fuzz")))


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_route_conforms_to_its_schema(fuzz_app: FastAPI, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} >= ROUTES
    statuses: Counter[int] = Counter()
    for operation in operations:
        if mode == GenerationMode.NEGATIVE and operation.label in NOTHING_INVALID:
            continue

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
        def fuzz(case: schemathesis.Case) -> None:
            response = case.call_and_validate()
            statuses[response.status_code] += 1

        fuzz()
    assert sum(statuses.values()) > 0 and not [s for s in statuses if s >= 500], statuses
