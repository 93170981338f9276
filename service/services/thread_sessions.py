"""Thread streaming sessions (``client.threads.stream``): commands and filtered event streams.

``POST /threads/{id}/commands`` takes one protocol command (``run.start``, ``input.respond``)
and answers ``{"type": "success", "id", "result", "meta": {"applied_through_seq"}}`` or the
protocol's ``{"type": "error", "id", "error", "message"}``. Runs are created by the runs use
case like any other (authorized, multitask ``enqueue``, a resume answering the review index
exactly once). ``POST /threads/{id}/stream/events`` streams the thread's runs one after
another as protocol events (``session_protocol``), filtered, from ``since`` or from the runs
in flight, until the client leaves. A thread the caller cannot see is a 404, before anything
is streamed; ``run.start`` on an unknown id of the caller's tenant creates the thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from service.domain.ids import thread_not_found
from service.domain.principal import Principal
from service.domain.runs import MultitaskStrategy, RunStatus, ThreadStatus
from service.errors import Conflict, Forbidden, InvalidInput, NotFound, ServiceError
from service.models import Run, Thread
from service.models.base import utcnow
from service.services import run_streams, runs, threads
from service.services.runtime import Runtime
from service.services.session_protocol import (
    RUN_SPAN,
    SESSION_STREAM_MODES,
    EventFilter,
    RunTranslator,
    run_base,
)

log = logging.getLogger(__name__)

NOT_SUPPORTED = frozenset(
    {
        "subscription.subscribe",
        "subscription.unsubscribe",
        "subscription.reconnect",
        "agent.getTree",
        "input.inject",
        "state.get",
        "state.listCheckpoints",
        "state.fork",
    }
)
THREAD_POLL = run_streams.THREAD_POLL
RECENT = timedelta(seconds=5)
RESPOND_WAIT = 30.0  # seconds an answer waits for the run that asked the question to end


class ProtocolError(Exception):
    """A command the protocol answers with an error envelope (not an HTTP error)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Answer:
    result: dict[str, Any]
    applied_through_seq: int | None = None


async def command(
    rt: Runtime, principal: Principal, raw_thread_id: str, method: str, params: dict[str, Any]
) -> Answer:
    """Carry out one command. A thread the caller cannot see raises ``NotFound`` (404);
    what the protocol itself refuses raises ``ProtocolError``."""
    if method == "run.start":
        return await _start(rt, principal, raw_thread_id, params)
    if method == "input.respond":
        return await _respond(rt, principal, raw_thread_id, params)
    async with rt.transaction(readonly=True) as uow:  # an unknown thread is a 404 first
        await threads.load(uow.store, rt, principal, raw_thread_id, obj="runs")
    if method in NOT_SUPPORTED:
        raise ProtocolError("not_supported", f"{method} is not supported")
    raise ProtocolError("unknown_command", f"Unknown command {method!r}.")


def _object(params: dict[str, Any], key: str) -> dict[str, Any]:
    value = params.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ProtocolError("invalid_argument", f"params.{key} must be an object.")
    return value


async def _start(
    rt: Runtime, principal: Principal, raw_thread_id: str, params: dict[str, Any]
) -> Answer:
    assistant_id = params.get("assistant_id")
    if not isinstance(assistant_id, str) or not assistant_id:
        raise ProtocolError("invalid_argument", "params.assistant_id is required.")
    request = runs.RunRequest(
        assistant_id=assistant_id,
        input=params.get("input"),
        config=_object(params, "config"),
        metadata=_object(params, "metadata"),
        if_not_exists="create",
    )
    return await _create(rt, principal, raw_thread_id, request)


async def _respond(
    rt: Runtime, principal: Principal, raw_thread_id: str, params: dict[str, Any]
) -> Answer:
    entries = params.get("responses")
    if entries is None:
        entries = [params]
    if not isinstance(entries, list) or not entries:
        raise ProtocolError("invalid_argument", "params.responses must be a non-empty list.")
    answers: dict[str, Any] = {}
    for entry in entries:
        interrupt_id = entry.get("interrupt_id") if isinstance(entry, dict) else None
        if not isinstance(interrupt_id, str) or "response" not in entry:
            raise ProtocolError(
                "invalid_argument", "Each response needs interrupt_id and response."
            )
        answers[interrupt_id] = entry["response"]
    thread, hashes, inflight = await _pending(rt, principal, raw_thread_id)
    if not set(answers) <= set(hashes) and inflight:
        # the stream shows an interrupt before its run ends and the review index has it
        for run in inflight:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(runs.wait_until_done(rt, principal, run), RESPOND_WAIT)
        thread, hashes, _ = await _pending(rt, principal, raw_thread_id)
    unknown = sorted(set(answers) - set(hashes))
    if unknown:
        raise ProtocolError("no_such_interrupt", f"No pending interrupt {unknown[0]!r}.")
    command: dict[str, Any] = {"resume": answers}
    for key in ("update", "goto"):
        if params.get(key) is not None:
            command[key] = params[key]
    assistant_id = thread.metadata_.get("assistant_id") or thread.metadata_.get("graph_id")
    if not isinstance(assistant_id, str):
        raise ProtocolError("invalid_argument", "This thread has no run to resume.")
    request = runs.RunRequest(
        assistant_id=assistant_id,
        command=command,
        config=_object(params, "config"),
        metadata=_object(params, "metadata"),
        expected_hashes={key: hashes[key] for key in answers},
    )
    return await _create(rt, principal, thread.thread_id, request)


async def _pending(
    rt: Runtime, principal: Principal, raw_thread_id: str
) -> tuple[Thread, dict[str, str], list[Run]]:
    """The thread, its pending interrupts (id -> payload hash) and its runs in flight."""
    async with rt.transaction(readonly=True) as uow:
        thread = await threads.load(uow.store, rt, principal, raw_thread_id, obj="runs")
        pending = await uow.store.interrupts.pending_for_threads(
            [thread.thread_id], tenant_id=principal.tenant_id
        )
        inflight = await uow.store.runs.inflight(thread.thread_id, tenant_id=principal.tenant_id)
    return thread, {row.interrupt_id: row.payload_hash for row in pending}, inflight


async def _create(
    rt: Runtime, principal: Principal, raw_thread_id: str, request: runs.RunRequest
) -> Answer:
    request.stream_mode = list(SESSION_STREAM_MODES)
    request.stream_subgraphs = True
    request.multitask_strategy = MultitaskStrategy.enqueue
    try:
        run = await runs.create(rt, principal, raw_thread_id, request)
    except NotFound as exc:
        if exc.detail == thread_not_found():
            raise  # the thread: a 404, as on every thread route
        raise ProtocolError("invalid_argument", exc.detail) from exc
    except Forbidden as exc:
        raise ProtocolError("permission_denied", exc.detail) from exc
    except (Conflict, InvalidInput) as exc:
        code = "no_such_interrupt" if request.command else "invalid_argument"
        raise ProtocolError(code, exc.detail) from exc
    async with rt.transaction(readonly=True) as uow:
        thread = await uow.store.threads.get(run.thread_id, tenant_id=principal.tenant_id)
    base = run_base(thread.created_at, run.created_at) if thread is not None else None
    return Answer({"run_id": run.run_id}, base)


# ---- event streams -------------------------------------------------------------------


async def open_events(
    rt: Runtime,
    principal: Principal,
    raw_thread_id: str,
    wanted: EventFilter,
    since: int | None,
) -> AsyncIterator[dict[str, Any]]:
    """The thread's protocol events that ``wanted`` selects: after ``since``, or (without it)
    those of the runs in flight now and of every run created later. The thread is checked
    now (404 before any byte is sent); the events come later."""
    key = f"{principal.tenant_id}/{raw_thread_id}"
    async with _in_turn(key), rt.transaction(readonly=True) as uow:
        thread = await threads.load(uow.store, rt, principal, raw_thread_id, obj="runs")
    return _events(rt, principal, thread, wanted, since)


_turns: dict[str, tuple[asyncio.Lock, int]] = {}


@contextlib.asynccontextmanager
async def _in_turn(key: str) -> AsyncIterator[None]:
    """The streams of one thread are checked in the order they came: the SDK opens a wider
    stream right after a narrower one and closes the narrower once the wider answered, so
    the narrower must answer first (this process's part of it: asyncio's locks are fair)."""
    lock, users = _turns.get(key, (asyncio.Lock(), 0))
    _turns[key] = (lock, users + 1)
    try:
        async with lock:
            yield
    finally:
        lock, users = _turns[key]
        if users == 1:
            del _turns[key]
        else:
            _turns[key] = (lock, users - 1)


async def _events(
    rt: Runtime,
    principal: Principal,
    thread: Thread,
    wanted: EventFilter,
    since: int | None,
) -> AsyncIterator[dict[str, Any]]:
    opened = utcnow()
    done: set[str] = set()
    try:
        while True:
            async with rt.transaction(readonly=True) as uow:
                recent = await uow.store.runs.list_for_thread(
                    thread.thread_id, tenant_id=principal.tenant_id, limit=50
                )
            todo = [
                run
                for run in reversed(recent)  # oldest first
                if run.run_id not in done and _wanted(thread, run, since, opened)
            ]
            if not todo:
                await asyncio.sleep(THREAD_POLL)
                continue
            for run in todo:
                async for event in _run_events(rt, principal, thread, run):
                    if (since is None or event["seq"] > since) and wanted.matches(event):
                        yield event
                done.add(run.run_id)
    except Exception as exc:  # the client hears why its stream ends, then it ends
        log.warning("thread stream of %s failed: %s", thread.thread_id, type(exc).__name__)
        detail = exc.detail if isinstance(exc, ServiceError) else "The event stream failed."
        yield {"type": "error", "id": None, "error": "unknown_error", "message": detail}


def _wanted(thread: Thread, run: Run, since: int | None, opened: datetime) -> bool:
    """With ``since``: the runs that may have events after it. Without: the runs in flight
    and those created later; on a thread created just now (``RECENT``, by the ``run.start``
    of a session that opens its streams after it), also the runs that already ended, so a
    quick run is not missed, while a session on an older thread never hears an earlier
    session's run end."""
    if since is not None:
        return run_base(thread.created_at, run.created_at) + RUN_SPAN > since
    if run.created_at >= opened or not RunStatus(run.status).terminal:
        return True
    return bool(thread.created_at >= opened - RECENT)


async def _run_events(
    rt: Runtime, principal: Principal, thread: Thread, run: Run
) -> AsyncIterator[dict[str, Any]]:
    """One run's protocol events, from its first, then how it ended (from the ledger)."""
    translator = RunTranslator(
        run_id=run.run_id, base=run_base(thread.created_at, run.created_at), graph_id=run.graph_id
    )
    async for item in run_streams.stream(rt, principal, run, None):
        for event in translator.feed(item.event, item.data):
            yield event
    async with rt.transaction(readonly=True) as uow:
        ended = await uow.store.runs.get(run.run_id, tenant_id=principal.tenant_id)
        now = await uow.store.threads.get(thread.thread_id, tenant_id=principal.tenant_id)
    status = ended.status if ended is not None else RunStatus.interrupted.value  # deleted
    waiting = bool(translator.interrupt_ids) or (
        now is not None and now.status == ThreadStatus.interrupted.value
    )
    error = ended.error if ended is not None else None
    for event in translator.finish(status, waiting, error):
        yield event
