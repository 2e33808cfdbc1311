"""The server announces /search and /ask requests to the query batcher as they arrive, and nothing else: not other
routes, and not requests its guards refuse. Real app, real index of the seed corpus, fake embedder."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from server.app import create_app
from server.query_batching import QueryBatcher
from server.settings import ServerSettings
from tests.samples import sample_resources


def test_search_and_ask_are_announced_and_nothing_else(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    resources = sample_resources(tmp_path)
    batcher = resources.embedder
    assert isinstance(batcher, QueryBatcher) and batcher.window_s > 0
    announced: list[str] = []
    announce = batcher.announce

    @contextmanager
    def counted() -> Iterator[None]:
        announced.append("request")
        with announce():
            yield

    monkeypatch.setattr(batcher, "announce", counted)
    settings = ServerSettings(max_body_bytes=2_000)
    with TestClient(create_app(resources=resources, server_settings=settings)) as client:
        assert client.post("/search", json={"query": "潼南柠檬产值"}).status_code == 200
        assert client.post("/ask", json={"question": "潼南的柠檬产业一年产值多少？"}).status_code == 200
        assert len(announced) == 2 and batcher._on_their_way == 0
        # Refused by the body-size guard, which sits outside the announcement: never announced.
        assert client.post("/search", json={"query": "潼" * 3_000}).status_code == 413
        assert client.get("/healthz").status_code == 200
        assert len(announced) == 2
        # Refused by validation inside: announced, and not left on its way.
        assert client.post("/search", json={"query": ""}).status_code == 422
        assert len(announced) == 3 and batcher._on_their_way == 0
