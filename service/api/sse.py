"""Server-sent events for run streams: ``id`` on every event, keep-alive comments, and a
cap on the streams one tenant keeps open in this API process (``StreamSlots``)."""

from __future__ import annotations

import weakref
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from typing import Any

from sse_starlette.sse import EventSourceResponse

from service.errors import TooManyRequests
from service.queue.port import StreamEvent

KEEPALIVE_SECONDS = 15


class StreamSlot:
    """One open stream's place; given back once, by ``release()`` or when it is dropped."""

    def __init__(self, slots: StreamSlots, tenant: str) -> None:
        self._give_back = weakref.finalize(self, slots.free, tenant)

    def release(self) -> None:
        self._give_back()  # a finalizer runs at most once


class StreamSlots:
    """Open event streams per tenant, capped: one tenant's hundreds of streams must not take
    the process's connections and memory from the others (429 past the cap)."""

    def __init__(self, per_tenant: int) -> None:
        self.per_tenant = per_tenant
        self._open: Counter[str] = Counter()

    def take(self, tenant: str) -> StreamSlot:
        if self._open[tenant] >= self.per_tenant:
            raise TooManyRequests(
                f"Too many open streams for this tenant (at most {self.per_tenant}).",
                retry_after=5,
            )
        self._open[tenant] += 1
        return StreamSlot(self, tenant)

    def free(self, tenant: str) -> None:
        self._open[tenant] -= 1
        if self._open[tenant] <= 0:
            del self._open[tenant]

    def open(self, tenant: str) -> int:
        return self._open[tenant]

    def total(self) -> int:
        return sum(self._open.values())


def sse_response(
    events: AsyncIterator[StreamEvent],
    *,
    headers: dict[str, str],
    slot: StreamSlot,
    only: Iterable[str] | None = None,
) -> EventSourceResponse:
    """The stream as SSE; ``slot`` (taken before any work was done) is given back when the
    stream ends or the client goes away (or, dropped unsent, when it is collected)."""
    wanted = set(only) if only else None

    async def body() -> AsyncIterator[dict[str, Any]]:
        try:
            async for item in events:
                base = item.event.split("|", 1)[0]
                if wanted is not None and base not in wanted and base not in ("metadata", "error"):
                    continue
                yield {"event": item.event, "data": item.data.decode(), "id": item.id}
        finally:
            slot.release()

    return EventSourceResponse(
        body(),
        ping=KEEPALIVE_SECONDS,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no", **headers},
    )
