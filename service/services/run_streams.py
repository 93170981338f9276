"""Event streams of runs: a run's events, live and resumable, with a snapshot past the
replay window."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import orjson

from service.domain.principal import Principal
from service.domain.runs import RunStatus
from service.models import Run
from service.models.base import utcnow
from service.queue.port import StreamEvent
from service.services import threads
from service.services.runs import WAIT_POLL
from service.services.runtime import Runtime

SNAPSHOT_ID = "snapshot"


async def stream(
    rt: Runtime, principal: Principal, run: Run, last_event_id: str | None
) -> AsyncIterator[StreamEvent]:
    """The run's events after ``last_event_id``, live, until the run ends.

    Past the replay window (or when the event stream was lost with Redis), a finished run is
    answered with one ``values`` event holding the thread's current state: a full snapshot
    instead of the missing events. While it waits, the stream re-reads the ledger every
    ``WAIT_POLL`` seconds, so it also ends when the end-of-stream marker itself was lost.
    """
    if RunStatus(run.status).terminal and not await rt.bus.has_stream(run.run_id):
        yield await _snapshot(rt, principal, run)
        return
    queue: asyncio.Queue[StreamEvent | None] = asyncio.Queue(maxsize=1000)

    async def pump() -> None:
        try:
            async for item in rt.bus.subscribe(run.run_id, last_event_id):
                await queue.put(item)
        finally:
            await queue.put(None)

    reader = asyncio.create_task(pump())
    try:
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), timeout=WAIT_POLL)
            except TimeoutError:
                async with rt.transaction(readonly=True) as uow:
                    current = await uow.store.runs.get(run.run_id, tenant_id=principal.tenant_id)
                if current is None or RunStatus(current.status).terminal:
                    await asyncio.sleep(0.2)  # let a just-published end marker arrive
                    if queue.empty():
                        return
                continue
            if item is None:
                return
            yield item
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader


async def _snapshot(rt: Runtime, principal: Principal, run: Run) -> StreamEvent:
    async with rt.transaction(readonly=True) as uow:
        thread = await uow.store.threads.get(run.thread_id, tenant_id=principal.tenant_id)
    values = thread.values if thread is not None else run.output
    return StreamEvent(SNAPSHOT_ID, "values", orjson.dumps(values, option=orjson.OPT_NON_STR_KEYS))


THREAD_POLL = 1.0  # seconds between looks for a thread's next run while a join waits
THREAD_MODES = frozenset({"run_modes", "lifecycle", "state_update"})


def _resume_point(last_event_id: str | None) -> tuple[str, str] | None:
    """``run_id:event_id`` of a thread stream's event, as its ``id`` carries it."""
    if not last_event_id or ":" not in last_event_id:
        return None
    run_id, _, event_id = last_event_id.partition(":")
    return run_id, event_id


async def join_thread(
    rt: Runtime,
    principal: Principal,
    raw_thread_id: str,
    last_event_id: str | None,
    modes: frozenset[str],
) -> AsyncIterator[StreamEvent]:
    """``GET /threads/{id}/stream``: the events of the thread's runs, one run after another,
    until the client leaves: the runs in flight now and every run started later (or, with a
    ``Last-Event-ID``, the rest of that run and every run after it). Event ids are
    ``run_id:event_id``. ``lifecycle`` keeps only each run's ``metadata`` event; the service
    has no ``state_update`` events. A waiting join looks for the next run every second.
    The thread is checked now (404 before any byte is sent); the events come later.
    """
    async with rt.transaction(readonly=True) as uow:
        thread = await threads.load(uow.store, rt, principal, raw_thread_id, obj="runs")
    return _thread_events(rt, principal, thread.thread_id, last_event_id, modes)


async def _thread_events(
    rt: Runtime,
    principal: Principal,
    thread_id: str,
    last_event_id: str | None,
    modes: frozenset[str],
) -> AsyncIterator[StreamEvent]:
    done: set[str] = set()
    since = utcnow()
    resume = _resume_point(last_event_id)
    if resume is not None:
        async with rt.transaction(readonly=True) as uow:
            found = await uow.store.runs.get(resume[0], tenant_id=principal.tenant_id)
        if found is not None and found.thread_id == thread_id:
            since = found.created_at
            async for item in _tagged(rt, principal, found, resume[1], modes):
                yield item
            done.add(found.run_id)
    while True:
        async with rt.transaction(readonly=True) as uow:
            recent = await uow.store.runs.list_for_thread(
                thread_id, tenant_id=principal.tenant_id, limit=50
            )
        todo = [
            run
            for run in reversed(recent)  # oldest first
            if run.run_id not in done
            and (run.created_at >= since or not RunStatus(run.status).terminal)
        ]
        if not todo:
            await asyncio.sleep(THREAD_POLL)
            continue
        for run in todo:
            async for item in _tagged(rt, principal, run, None, modes):
                yield item
            done.add(run.run_id)


async def _tagged(
    rt: Runtime, principal: Principal, run: Run, after: str | None, modes: frozenset[str]
) -> AsyncIterator[StreamEvent]:
    async for item in stream(rt, principal, run, after):
        if "run_modes" in modes or (item.event == "metadata" and "lifecycle" in modes):
            yield StreamEvent(f"{run.run_id}:{item.id}", item.event, item.data)
