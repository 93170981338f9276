"""Ports for waking workers and moving run events between processes.

Postgres (or SQLite) is the source of truth for runs. The ``Bell`` only shortens the
time until a worker looks at the ledger; losing a ring costs latency, never a run.
The ``EventBus`` carries stream parts of a run from the worker that executes it to any
API process that streams it, keeping them for a replay window so a client can resume
with ``Last-Event-ID``. Control messages (cancel) reach the worker holding a run, and
every process hears that a run ended (``watch_end``: ``/wait`` and ``/join`` wake on it).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class StreamEvent:
    id: str
    event: str
    data: bytes  # JSON


END_EVENT = "__end__"
OUTCOME_CAP = 256 * 1024  # an outcome longer than this is not sent: waiters read the ledger


class RunEnd(asyncio.Event):
    """Set when this process hears that a run ended. ``outcome``: what the worker said with
    the word (the ``/wait`` answer, JSON), when it sent one; else the waiter reads the ledger."""

    def __init__(self) -> None:
        super().__init__()
        self.outcome: bytes | None = None


class Bell(Protocol):
    async def ring(self) -> None:
        """Say that a run became claimable. Must not block for long or raise."""

    async def wait(self, timeout: float) -> bool:
        """Wait until rung or ``timeout`` seconds passed; True when rung."""


class EventBus(Protocol):
    async def publish(self, run_id: str, event: str, data: bytes, *, window: bool = False) -> str:
        """Append one event to the run's stream; returns its id. ``window``: a long-lived
        stream (a tenant's inbox), never finished, keeps only the events of the replay window;
        a run's stream keeps its events (up to a cap) until it ends."""

    def subscribe(
        self, run_id: str, last_event_id: str | None = None, *, from_end: bool = False
    ) -> AsyncIterator[StreamEvent]:
        """Events after ``last_event_id``, live, until the end marker.

        Without ``last_event_id`` the stream is read from its start, or, with ``from_end``,
        from the events published after the call (long-lived streams such as a tenant's inbox).
        """

    async def finish(self, run_id: str, outcome: bytes | None = None) -> None:
        """Mark the run's stream complete; subscribers stop after draining it. ``outcome``
        (at most ``OUTCOME_CAP`` bytes) reaches every process's ``watch_end`` waiters."""

    async def has_stream(self, run_id: str) -> bool:
        """Whether events of this run are still kept."""

    async def send_control(self, run_id: str, action: str) -> None:
        """Deliver a control action (e.g. ``cancel:interrupt``) to whoever runs it."""

    def on_control(self, handler: Callable[[str, str], Awaitable[None]]) -> None:
        """Register the worker's handler for control actions."""

    def watch_end(self, run_id: str) -> AbstractContextManager[RunEnd]:
        """An event set when this process hears that the run ended (best effort: a
        waiter also re-reads the ledger now and then)."""


class EndWatches:
    """Waiters for the end of runs in this process, woken by ``ended``."""

    def __init__(self) -> None:
        self._waiting: dict[str, set[RunEnd]] = {}

    @contextmanager
    def watch(self, run_id: str) -> Iterator[RunEnd]:
        event = RunEnd()
        self._waiting.setdefault(run_id, set()).add(event)
        try:
            yield event
        finally:
            waiting = self._waiting.get(run_id)
            if waiting is not None:
                waiting.discard(event)
                if not waiting:
                    del self._waiting[run_id]

    def ended(self, run_id: str, outcome: bytes | None = None) -> None:
        for event in self._waiting.get(run_id, ()):
            event.outcome = outcome
            event.set()


@dataclass
class PendingJobs:
    """Bell rings, control messages and events collected during a transaction, sent only
    after it commits (and dropped if it rolls back)."""

    rings: int = 0
    controls: list[tuple[str, str]] = field(default_factory=list)
    events: list[tuple[str, str, bytes]] = field(default_factory=list)
    notes: list[Callable[[], None]] = field(default_factory=list)  # e.g. log what committed

    def ring(self) -> None:
        self.rings += 1

    def control(self, run_id: str, action: str) -> None:
        self.controls.append((run_id, action))

    def publish(self, stream: str, event: str, data: bytes) -> None:
        self.events.append((stream, event, data))

    def after(self, note: Callable[[], None]) -> None:
        self.notes.append(note)

    async def flush(self, bell: Bell, bus: EventBus) -> None:
        rings, controls, events, notes = self.rings, self.controls, self.events, self.notes
        self.discard()
        for note in notes:
            note()
        if rings:
            await bell.ring()
        for run_id, action in controls:
            await bus.send_control(run_id, action)
        for stream, event, data in events:  # long-lived streams: the inbox, webhooks
            await bus.publish(stream, event, data, window=True)

    def discard(self) -> None:
        self.rings, self.controls, self.events, self.notes = 0, [], [], []
