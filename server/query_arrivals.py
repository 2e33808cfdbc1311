"""Announce each /search and /ask request to the query batcher the moment the server sees it (server.query_batching).

Plain ASGI, and the innermost middleware: a request the guards refuse (body size, API key, rate) is never
announced. Announcing here, on the event loop, rather than in the route is what makes it early enough: by the time a
route runs in its thread, the batch it could have joined has usually started.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Protocol

from starlette.types import ASGIApp, Receive, Scope, Send

from server.asgi import path_in

EMBEDDING_ROUTES = ("/search", "/ask")


class Announcing(Protocol):
    def announce(self) -> AbstractContextManager[None]: ...


class QueryArrivals:
    """`batcher()`: the batcher serving now (None while loading, or when queries are not batched)."""

    def __init__(self, app: ASGIApp, batcher: Callable[[], Announcing | None]) -> None:
        self.app = app
        self.batcher = batcher

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        batcher = self.batcher() if scope["type"] == "http" and scope["method"] == "POST" else None
        if batcher is None or not path_in(scope["path"], EMBEDDING_ROUTES):
            await self.app(scope, receive, send)
            return
        with batcher.announce():
            await self.app(scope, receive, send)
