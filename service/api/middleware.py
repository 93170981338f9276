"""ASGI middleware: body size cap, request ids, security headers, the access log."""

from __future__ import annotations

import itertools
import logging
import os
import time

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


def security_headers(
    connect: list[str], *, api_reference: bool = False
) -> list[tuple[bytes, bytes]]:
    """``connect``: origins the UI may call besides its own (the identity provider's).
    ``api_reference``: the policy of FastAPI's ``/docs`` and ``/redoc`` pages, which load their
    viewer from a CDN over https and start it with an inline script; they hold no data."""
    connect_src = " ".join(["'self'", *connect])
    scripts, styles, images = "'self'", "'self'", "'self' data:"
    if api_reference:
        scripts, styles, images = (
            "'self' 'unsafe-inline' https:",
            "'self' https:",
            "'self' data: https:",
        )
    policy = (
        f"default-src 'self'; script-src {scripts}; style-src {styles}; img-src {images}; "
        f"connect-src {connect_src}; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    )
    return [
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"x-frame-options", b"DENY"),
        (b"content-security-policy", policy.encode()),
    ]


API_REFERENCE = frozenset({"/docs", "/redoc"})


access_log = logging.getLogger("countersign.access")


def _run_id(location: str) -> str | None:
    """The run a request created or named: ``.../runs/{run_id}[/...]``."""
    _, found, rest = location.partition("/runs/")
    return rest.split("/", 1)[0] or None if found else None


class EdgeMiddleware:
    """Caps request bodies (413 before the app reads them), tags every response with a
    request id, adds security headers, scopes the tenant binding to the request, and writes
    one access-log line per request (method, path without the query, status, duration,
    request id, tenant and subject once verified, run id; never a header's value)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        log_requests: bool = True,
        connect: list[str] | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.log_requests = log_requests
        self.headers = security_headers(connect or [])
        self.reference_headers = security_headers(connect or [], api_reference=True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        began = time.perf_counter()
        if self._declares_too_much(scope):
            await _reject(send, 413, "payload_too_large", "Request body too large.", request_id)
            if self.log_requests:
                self._log(scope, 413, began, request_id, "")
            return
        received = 0
        started = False
        status = 500
        location = ""

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _TooLarge("Request body too large.")
            return message

        async def tagged_send(message: Message) -> None:
            nonlocal started, status, location
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                headers = list(message.get("headers", []))
                for name, value in headers:
                    if name == b"content-location":
                        location = value.decode("latin-1")
                headers.append((b"x-request-id", request_id.encode()))
                reference = scope["path"] in API_REFERENCE
                headers.extend(self.reference_headers if reference else self.headers)
                message = {**message, "headers": headers}
            await send(message)

        try:
            # the request's database work acts for its caller's tenant once verified
            # (``tenancy.bind``), and for none before; never past the request
            with tenancy.acting_for(tenancy.SYSTEM):
                await self.app(scope, limited_receive, tagged_send)
        except _TooLarge:
            if not started:
                status = 413
                await _reject(send, 413, "payload_too_large", "Request body too large.", request_id)
        finally:
            if self.log_requests:
                self._log(scope, status, began, request_id, location)

    def _declares_too_much(self, scope: Scope) -> bool:
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    return int(value) > self.max_body_bytes
                except ValueError:
                    return True
        return False

    @staticmethod
    def _log(scope: Scope, status: int, began: float, request_id: str, location: str) -> None:
        principal = scope["state"].get("principal")
        path: str = scope["path"]
        access_log.info(
            "%s %s %d",
            scope["method"],
            path,
            status,
            extra={
                "fields": {
                    "method": scope["method"],
                    "path": path,
                    "status": status,
                    "ms": round((time.perf_counter() - began) * 1000, 1),
                    "request_id": request_id,
                    "tenant": getattr(principal, "tenant_id", None),
                    "sub": getattr(principal, "subject", None),
                    "run_id": _run_id(location) or _run_id(path),
                }
            },
        )
