"""A JSON error sent straight from ASGI middleware, in the same shape as the app's errors (schemas.ErrorOut), for
the checks that answer before any route or exception handler runs (body size, auth, rate, timeout)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


async def send_error(send: Send, status: int, error: str, headers: dict[str, str] | None = None) -> None:
    body = json.dumps({"error": error, "detail": None}, ensure_ascii=False).encode("utf-8")
    raw: list[tuple[bytes, bytes]] = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def path_in(path: str, prefixes: tuple[str, ...]) -> bool:
    """`/articles/x` is under `/articles`; `/asking` is not under `/ask`."""
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in prefixes)


def header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


class ObservedRequests:
    """Calls `observe(scope, status, seconds)` once per HTTP request, after it ends (the request log, the metrics).
    Plain ASGI: cheaper than BaseHTTPMiddleware."""

    def __init__(self, app: ASGIApp, observe: Callable[[Scope, int, float], None]) -> None:
        self.app = app
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises before starting a response

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            self.observe(scope, status, time.perf_counter() - started)
