"""A JSON error sent straight from ASGI middleware, in the same shape as the app's errors (schemas.ErrorOut), for
the checks that answer before any route or exception handler runs (body size, auth, rate, timeout)."""

from __future__ import annotations

import json
from typing import Any

from starlette.types import Send


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
