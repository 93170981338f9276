"""Server-sent events for run streams: ``id`` on every event, keep-alive comments."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any

from sse_starlette.sse import EventSourceResponse

from service.queue.port import StreamEvent

KEEPALIVE_SECONDS = 15


def sse_response(
    events: AsyncIterator[StreamEvent],
    *,
    headers: dict[str, str],
    only: Iterable[str] | None = None,
) -> EventSourceResponse:
    wanted = set(only) if only else None

    async def body() -> AsyncIterator[dict[str, Any]]:
        async for item in events:
            base = item.event.split("|", 1)[0]
            if wanted is not None and base not in wanted and base not in ("metadata", "error"):
                continue
            yield {"event": item.event, "data": item.data.decode(), "id": item.id}

    return EventSourceResponse(
        body(),
        ping=KEEPALIVE_SECONDS,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no", **headers},
    )
