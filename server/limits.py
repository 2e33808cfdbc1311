"""Request limits as plain ASGI middleware: body size (checked before anything parses the body), a per-request
timeout, and an optional per-client rate limit (the `limits` library, as kept by slowapi).

Plain ASGI rather than BaseHTTPMiddleware: cheaper, and it answers before FastAPI reads or parses a byte of JSON
(a 100 MB body used to be parsed whole, 1.57 GB peak RSS, before it got its 422).
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.asgi import header, path_in, send_error


class BodySizeLimitMiddleware:
    """413 for a body over `max_bytes`: by its Content-Length at once, else (chunked) as soon as it is exceeded.
    The body is read here, up to the limit, and replayed to the app."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> str:
        return f"request body is over the limit of {self.max_bytes:,} bytes (POLICYQA_MAX_BODY_BYTES)"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await send_error(send, 413, self._too_large(), {"Connection": "close"})
            return
        messages: list[Message] = []
        total = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            total += len(message.get("body", b""))
            if total > self.max_bytes:
                await send_error(send, 413, self._too_large(), {"Connection": "close"})
                return
            if not message.get("more_body", False):
                break
        replay = iter(messages)

        async def replayed() -> Message:
            return next(replay, None) or await receive()

        await self.app(scope, replayed, send)


class RequestTimeoutMiddleware:
    """503 when a request (reading its body included: a slow-trickling client) takes over `seconds`.

    A route running in the threadpool cannot be interrupted: its thread finishes its work, but the client gets the
    503 instead of a late answer. A response already started is left to finish."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            async with asyncio.timeout(self.seconds):
                await self.app(scope, receive, tracking)
        except TimeoutError:
            if started:
                raise
            error = f"the request took over {self.seconds:g} s (POLICYQA_REQUEST_TIMEOUT_S); try again"
            await send_error(send, 503, error, {"Retry-After": "1"})


def client_key(scope: Scope) -> str:
    """Who a request counts against: its API key when it sends one (hashed: keys are not kept in memory twice),
    else its address."""
    auth = header(scope, b"authorization")
    if auth and auth.lower().startswith("bearer "):
        return "key:" + hashlib.sha256(auth[7:].strip().encode()).hexdigest()[:16]
    client = scope.get("client")
    return f"ip:{client[0] if client else 'unknown'}"


class RateLimitMiddleware:
    """429 with Retry-After once a client has used up `rate` (e.g. "60/minute") on the routes under `prefixes`.
    In memory, per process: with several workers each counts alone."""

    def __init__(self, app: ASGIApp, rate: str, prefixes: tuple[str, ...]) -> None:
        from limits import parse
        from limits.storage import MemoryStorage
        from limits.strategies import MovingWindowRateLimiter

        self.app = app
        self.rate = rate
        self.prefixes = prefixes
        self.item: Any = parse(rate)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and path_in(scope["path"], self.prefixes):
            key = client_key(scope)
            if not self.limiter.hit(self.item, key):
                reset, _ = self.limiter.get_window_stats(self.item, key)
                retry = max(1, math.ceil(reset - time.time()))
                error = f"rate limit of {self.rate} exceeded for this client (POLICYQA_RATE_LIMIT)"
                await send_error(send, 429, error, {"Retry-After": str(retry)})
                return
        await self.app(scope, receive, send)
