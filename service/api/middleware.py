"""ASGI middleware: body size cap, request ids, security headers."""

from __future__ import annotations

import itertools
import os

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service import tenancy
from service.errors import PayloadTooLarge


class _TooLarge(PayloadTooLarge):
    """Raised while the app reads the body; rendered as 413 by the error handlers."""


async def _reject(send: Send, status: int, code: str, detail: str, request_id: str) -> None:
    body = orjson.dumps({"detail": detail, "code": code})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-request-id", request_id.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


_prefix = os.urandom(8).hex()
_sequence = itertools.count(1)


def _new_prefix() -> None:
    global _prefix, _sequence  # a forked child must not repeat its parent's ids
    _prefix, _sequence = os.urandom(8).hex(), itertools.count(1)


os.register_at_fork(after_in_child=_new_prefix)


def new_request_id() -> str:
    """Unique across processes (a random prefix per process) without reading the kernel's
    random source on every request, as ``uuid4`` does."""
    return f"{_prefix}{next(_sequence):016x}"


SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    ),
]


class EdgeMiddleware:
    """Caps request bodies (413 before the app reads them), tags every response with a
    request id, adds security headers, and scopes the tenant binding to the request."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_large = int(value) > self.max_body_bytes
                except ValueError:
                    too_large = True
                if too_large:
                    await _reject(
                        send, 413, "payload_too_large", "Request body too large.", request_id
                    )
                    return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _TooLarge("Request body too large.")
            return message

        async def tagged_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                headers.extend(SECURITY_HEADERS)
                message = {**message, "headers": headers}
            await send(message)

        try:
            # the request's database work acts for its caller's tenant once verified
            # (``tenancy.bind``), and for none before; never past the request
            with tenancy.acting_for(tenancy.SYSTEM):
                await self.app(scope, limited_receive, tagged_send)
        except _TooLarge:
            if not started:
                await _reject(send, 413, "payload_too_large", "Request body too large.", request_id)
