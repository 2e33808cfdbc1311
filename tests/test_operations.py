"""Issue 15, items 4 and 8: /metrics, API keys, rate limit, security headers, trusted hosts, body size and timeout.
Through the TestClient on the fake-embedder index of test_api; the timeout on a bare ASGI app."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from server.app import STATIC_DIR, create_app
from server.limits import RequestTimeoutMiddleware
from server.resources import Resources
from server.security import page_csp
from server.settings import ServerSettings
from tests.samples import sample_resources


@pytest.fixture(scope="module")
def resources(tmp_path_factory: pytest.TempPathFactory) -> Resources:
    return sample_resources(tmp_path_factory.mktemp("ops"))


@pytest.fixture
def make_client(resources: Resources) -> Iterator[Any]:
    clients: list[TestClient] = []

    def make(**settings: Any) -> TestClient:
        client = TestClient(create_app(server_settings=ServerSettings(**settings), resources=resources))
        clients.append(client.__enter__())
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def test_metrics_parse_as_prometheus_text(make_client: Any) -> None:
    client = make_client()
    assert client.post("/search", json={"query": "潼南柠檬"}).status_code == 200
    assert client.post("/ask", json={"question": "潼南的柠檬种植面积有多少？"}).status_code == 200
    assert client.post("/ask", json={"question": "重庆的地铁票价是多少钱一张？"}).status_code == 200
    assert client.get("/articles/no-such").status_code == 404
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    requests = {(s.labels["route"], s.labels["status"]): s.value for s in families["policyqa_requests"].samples}
    assert requests[("/search", "200")] == 1 and requests[("/ask", "200")] == 2
    assert requests[("/articles/{article_id:path}", "404")] == 1  # the route's template, not the raw path
    buckets = [s for s in families["policyqa_request_duration_seconds"].samples if s.name.endswith("_bucket")]
    assert {s.labels["route"] for s in buckets} >= {"/search", "/ask"}
    assert families["policyqa_index_articles"].samples[0].value > 0
    assert families["policyqa_index_chunks"].samples[0].value > 0
    assert families["policyqa_index_info"].samples[0].labels["generation"]
    totals = [s for s in families["policyqa_answers"].samples if s.name.endswith("_total")]
    answers = {s.labels["abstained"]: s.value for s in totals}
    rate = families["policyqa_abstention_rate"].samples[0].value
    assert sum(answers.values()) == 2 and rate == answers.get("true", 0) / 2


def test_api_keys_guard_the_data_routes_but_not_the_page(make_client: Any) -> None:
    client = make_client(api_keys="alpha, beta")
    for method, path, body in [("POST", "/search", {"query": "潼南"}), ("POST", "/ask", {"question": "潼南"})]:
        denied = client.request(method, path, json=body)
        assert denied.status_code == 401 and denied.headers["www-authenticate"].startswith("Bearer")
        assert "API key" in denied.json()["error"]
        wrong = client.request(method, path, json=body, headers={"Authorization": "Bearer gamma"})
        assert wrong.status_code == 401
        assert client.request(method, path, json=body, headers={"Authorization": "Bearer beta"}).status_code == 200
    assert client.get("/articles/x").status_code == 401
    documented = client.get("/openapi.json").json()["paths"]["/search"]["post"]["responses"]
    assert {"401", "413", "503"} <= set(documented)
    assert client.get("/admin/reload").status_code == 401
    for open_path in ["/", "/healthz", "/metrics", "/openapi.json"]:
        assert client.get(open_path).status_code == 200, open_path
    # Keys off (the default): the page's own requests need nothing.
    assert make_client().post("/search", json={"query": "潼南"}).status_code == 200


def test_rate_limit_per_client(make_client: Any) -> None:
    client = make_client(rate_limit="2/minute")
    statuses = [client.post("/search", json={"query": "潼南"}).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert "429" in client.get("/openapi.json").json()["paths"]["/ask"]["post"]["responses"]
    limited = client.post("/ask", json={"question": "潼南"})
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1 and limited.json()["error"]
    assert client.get("/healthz").status_code == 200  # not a limited route
    other = client.post("/search", json={"query": "潼南"}, headers={"Authorization": "Bearer someone-else"})
    assert other.status_code == 200  # another client has its own budget


def test_security_headers_and_a_csp_that_hashes_the_pages_inline_code(make_client: Any) -> None:
    client = make_client()
    page = client.get("/")
    for response in (page, client.post("/search", json={"query": "潼南"}), client.get("/articles/none")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    csp = page.headers["content-security-policy"]
    assert csp == page_csp((STATIC_DIR / "index.html").read_bytes())
    assert "'sha256-" in csp.split("script-src")[1].split(";")[0] and "unsafe-inline" not in csp
    assert page.text == (STATIC_DIR / "index.html").read_text(encoding="utf-8")  # the body is passed on whole


def test_trusted_hosts(make_client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POLICYQA_ALLOWED_HOSTS", raising=False)
    assert set(ServerSettings().allowed_host_list()) == {"127.0.0.1", "localhost", "::1"}
    client = make_client(allowed_hosts="127.0.0.1,localhost")
    assert client.get("/healthz", headers={"Host": "127.0.0.1:8000"}).status_code == 200
    assert client.get("/healthz", headers={"Host": "localhost"}).status_code == 200
    assert client.get("/healthz", headers={"Host": "evil.example"}).status_code == 400
    assert client.post("/search", json={"query": "潼南"}, headers={"Host": "rebind.attacker.test"}).status_code == 400


def test_body_over_the_limit_is_refused_before_parsing(make_client: Any) -> None:
    client = make_client(max_body_bytes=1000)
    big = json.dumps({"query": "潼" * 2000}).encode()
    response = client.post("/search", content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413 and "MAX_BODY_BYTES" in response.json()["error"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"query": "'
        yield b"a" * 2000
        yield b'"}'

    chunked = client.post("/search", content=chunks(), headers={"content-type": "application/json"})
    assert chunked.status_code == 413
    assert client.post("/search", json={"query": "潼南"}).status_code == 200


def test_request_timeout_answers_503() -> None:
    async def slow_app(scope: Any, receive: Any, send: Any) -> None:
        await asyncio.sleep(5)

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    app = RequestTimeoutMiddleware(slow_app, seconds=0.05)
    asyncio.run(app({"type": "http", "method": "GET", "path": "/", "headers": []}, receive, send))
    assert sent[0]["status"] == 503
    assert "POLICYQA_REQUEST_TIMEOUT_S" in json.loads(sent[1]["body"])["error"]
