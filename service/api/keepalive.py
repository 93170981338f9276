"""JSON answers that may take long (``/wait``, ``/join``): keep the connection alive.

An answer ready within ``KEEPALIVE_SECONDS`` is a plain JSON response, with its real status
(errors included). Past that, the ``200`` and headers go out and a newline is sent every
``KEEPALIVE_SECONDS`` until the JSON follows (JSON parsers skip leading whitespace, as with
LangGraph Server), so proxies with idle timeouts do not cut a long run; an error found after the
status was sent is the body ``{"__error__": {"error": code, "message": detail}}``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable
from typing import Any

from fastapi.responses import JSONResponse, Response, StreamingResponse

from service.api.sse import KEEPALIVE_SECONDS
from service.errors import ServiceError

log = logging.getLogger(__name__)


INTERVAL = float(KEEPALIVE_SECONDS)


def _render(body: Any) -> bytes:  # as JSONResponse renders
    return json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


async def keepalive_json(
    work: Awaitable[tuple[Any, dict[str, str]]], *, every: float | None = None
) -> Response:
    """The body ``work`` gives (with its headers, when it is ready in time) as JSON."""
    every = every or INTERVAL
    task = asyncio.ensure_future(work)
    try:
        await asyncio.wait_for(asyncio.shield(task), every)
    except TimeoutError:
        return StreamingResponse(_beating(task, every), media_type="application/json")
    except BaseException:
        task.cancel()
        raise
    body, headers = task.result()
    return JSONResponse(body, headers=headers)


async def _beating(task: asyncio.Future[Any], every: float) -> AsyncIterator[bytes]:
    try:
        while not task.done():
            await asyncio.wait({task}, timeout=every)  # never raises what the task raised
            if not task.done():
                yield b"\n"
        try:
            body: Any = task.result()[0]
        except ServiceError as exc:
            body = {"__error__": {"error": exc.code, "message": exc.detail}}
        except Exception:
            log.exception("a long wait failed after its status was sent")
            body = {"__error__": {"error": "internal", "message": "The wait failed."}}
        yield _render(body)
    finally:
        task.cancel()  # the client went away: stop waiting
