"""Access control and browser hardening: optional API keys, security headers with a CSP the pages satisfy, and
trusted-host checking (Starlette's TrustedHostMiddleware) against DNS rebinding."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.asgi import header, path_in, send_error

# Routes that answer from the index; the page, /healthz, /metrics and the docs stay open.
PROTECTED = ("/search", "/ask", "/articles", "/admin")
_INLINE = re.compile(rb"<(script|style)(?![^>]*\bsrc=)[^>]*>(.*?)</\1>", re.DOTALL | re.IGNORECASE)
_COMMON = {
    b"x-content-type-options": b"nosniff",
    b"x-frame-options": b"DENY",
    b"referrer-policy": b"no-referrer",
}
# JSON and other non-HTML responses: nothing may run or be framed.
_API_CSP = "default-src 'none'; frame-ancestors 'none'"


class ApiKeyMiddleware:
    """401 unless `Authorization: Bearer <key>` names one of `keys`, on the PROTECTED routes."""

    def __init__(self, app: ASGIApp, keys: frozenset[str]) -> None:
        self.app = app
        self.keys = tuple(k.encode() for k in keys)

    def _allowed(self, scope: Scope) -> bool:
        auth = header(scope, b"authorization") or ""
        scheme, _, token = auth.partition(" ")
        given = token.strip().encode("latin-1")
        # compare_digest against every key: the time taken says nothing about which key was nearly right.
        matches = [hmac.compare_digest(given, key) for key in self.keys]
        return scheme.lower() == "bearer" and any(matches)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and path_in(scope["path"], PROTECTED) and not self._allowed(scope):
            error = "an API key is required: send `Authorization: Bearer <key>` (POLICYQA_API_KEYS)"
            await send_error(send, 401, error, {"WWW-Authenticate": 'Bearer realm="policyqa"'})
            return
        await self.app(scope, receive, send)


def page_csp(html: bytes) -> str:
    """A CSP for one HTML page: same-origin only, plus exactly the page's own inline scripts and styles by hash
    (the page is static, so its hashes are fixed; an injected inline script would not match)."""
    hashes: dict[bytes, list[str]] = {b"script": [], b"style": []}
    for match in _INLINE.finditer(html):
        digest = base64.b64encode(hashlib.sha256(match.group(2)).digest()).decode()
        hashes[match.group(1).lower()].append(f"'sha256-{digest}'")
    return "; ".join(
        [
            "default-src 'self'",
            " ".join(["script-src 'self'", *hashes[b"script"]]),
            " ".join(["style-src 'self'", *hashes[b"style"]]),
            "img-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


class SecurityHeadersMiddleware:
    """X-Content-Type-Options, X-Frame-Options, Referrer-Policy and a Content-Security-Policy on every response.
    HTML bodies (the page, /docs: tens of kB) are held until complete to hash their inline code."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        held: Message | None = None
        body: list[bytes] = []

        async def secured(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in _COMMON]
                headers += list(_COMMON.items())
                message = {**message, "headers": headers}
                content_type = dict(headers).get(b"content-type", b"")
                if content_type.startswith(b"text/html"):
                    held = message
                    return
                message["headers"] = [*headers, (b"content-security-policy", _API_CSP.encode())]
            elif held is not None and message["type"] == "http.response.body":
                body.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                html = b"".join(body)
                csp = (b"content-security-policy", page_csp(html).encode())
                await send({**held, "headers": [*held["headers"], csp]})
                message = {"type": "http.response.body", "body": html}
            await send(message)

        await self.app(scope, receive, secured)
