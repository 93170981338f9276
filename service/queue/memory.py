"""In-process bell and event bus for the embedded default (one process runs it all).

Shipped, not a test fake: it keeps each run's events for the replay window, so
streams resume with ``Last-Event-ID`` exactly as with Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from service.queue.port import EndWatches, StreamEvent


class MemoryBell:
    def __init__(self) -> None:
        self._event = asyncio.Event()

    async def ring(self) -> None:
        self.rung()

    def rung(self) -> None:
        """Ring from synchronous code (a ring that arrived from another process)."""
        self._event.set()

    async def wait(self, timeout: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout)
        rung = self._event.is_set()
        self._event.clear()
        return rung


@dataclass
class _RunStream:
    events: list[StreamEvent] = field(default_factory=list)
    offset: int = 0  # events dropped from the front (long-lived streams are capped)
    times: deque[float] = field(default_factory=deque)  # publish times of a windowed stream
    done: bool = False
    finished_at: float = 0.0
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    @property
    def end(self) -> int:
        return self.offset + len(self.events)


class MemoryEventBus:
    def __init__(self, replay_seconds: float = 600.0, max_events: int = 10_000) -> None:
        self._streams: dict[str, _RunStream] = {}
        self._finished: deque[tuple[float, str]] = deque()  # (finished_at, run_id), in order
        self._replay_seconds = replay_seconds
        self._max_events = max_events
        self._handlers: list[Callable[[str, str], Awaitable[None]]] = []
        self._ends = EndWatches()
        self.watch_end = self._ends.watch

    def _stream(self, run_id: str) -> _RunStream:
        stream = self._streams.get(run_id)
        if stream is None:
            self._expire()
            stream = self._streams[run_id] = _RunStream()
        return stream

    def _expire(self) -> None:
        """Drop streams finished before the replay window (oldest first: no scan of the rest)."""
        cutoff = time.monotonic() - self._replay_seconds
        finished = self._finished
        while finished and finished[0][0] < cutoff:
            _, run_id = finished.popleft()
            stream = self._streams.get(run_id)
            if stream is not None and stream.done and stream.finished_at < cutoff:
                del self._streams[run_id]

    async def publish(self, run_id: str, event: str, data: bytes, *, window: bool = False) -> str:
        stream = self._stream(run_id)
        event_id = str(stream.end + 1)
        async with stream.changed:
            stream.events.append(StreamEvent(event_id, event, data))
            dropped = max(0, len(stream.events) - self._max_events)
            if window:  # only the replay window of a stream that never ends
                now = time.monotonic()
                stream.times.append(now)
                while stream.times and stream.times[0] < now - self._replay_seconds:
                    stream.times.popleft()
                dropped = max(dropped, len(stream.events) - len(stream.times))
            if dropped:
                del stream.events[:dropped]
                stream.offset += dropped
            stream.changed.notify_all()
        return event_id

    async def finish(self, run_id: str, outcome: bytes | None = None) -> None:
        stream = self._stream(run_id)
        async with stream.changed:
            stream.done = True
            stream.finished_at = time.monotonic()
            stream.changed.notify_all()
        self._finished.append((stream.finished_at, run_id))
        self._ends.ended(run_id, outcome)

    async def has_stream(self, run_id: str) -> bool:
        return run_id in self._streams

    def last_id(self, run_id: str) -> str:
        """The id of the run's newest event ("0" before any): where ``from_end`` starts now."""
        return str(self._stream(run_id).end)

    async def subscribe(
        self, run_id: str, last_event_id: str | None = None, *, from_end: bool = False
    ) -> AsyncIterator[StreamEvent]:
        stream = self._stream(run_id)
        if last_event_id and last_event_id.isdigit():
            position = int(last_event_id)
        else:
            position = stream.end if from_end else 0
        while True:
            async with stream.changed:
                while stream.end <= position and not stream.done:
                    await stream.changed.wait()
                start = max(position, stream.offset) - stream.offset
                batch = stream.events[start:]
                done = stream.done
            for item in batch:
                yield item
            position = max(position, stream.offset) + len(batch)
            if done and position >= stream.end:
                return

    async def send_control(self, run_id: str, action: str) -> None:
        for handler in list(self._handlers):
            await handler(run_id, action)

    def on_control(self, handler: Callable[[str, str], Awaitable[None]]) -> None:
        self._handlers.append(handler)
