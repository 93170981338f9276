"""Runs: durable creation (then 202), multitask strategies, cancel, join, wait, stream."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import orjson

from service.domain.ids import new_thread_id, resolve_thread_id, uuid7
from service.domain.interrupts import payload_hash
from service.domain.principal import Principal
from service.domain.runs import (
    CancelAction,
    MultitaskStrategy,
    RunStatus,
    ThreadStatus,
    wait_answer,
    wait_output,
)
from service.errors import Conflict, InvalidInput, NotFound, ThreadBusy
from service.models import Assistant, IdempotencyKey, Run, Thread
from service.models.base import utcnow
from service.queue.port import RunEnd
from service.services import assistants, threads, webhook_dispatch, webhooks
from service.services import interrupts as interrupt_index
from service.services.runtime import Runtime, UnitOfWork
from service.store.store import Store

DEFAULT_STREAM_MODE = ("values",)
WAIT_POLL = 5.0  # seconds between ledger checks while waiting for a run
NO_OUTCOME: Any = object()  # a run ended without the worker's word on it


def run_not_found() -> NotFound:
    return NotFound("Run not found.")


@dataclass
class RunRequest:
    """A run as the client asked for it (LangGraph Server ``RunCreate`` fields)."""

    assistant_id: str
    input: Any = None
    command: dict[str, Any] | None = None
    config: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    stream_mode: list[str] = field(default_factory=lambda: list(DEFAULT_STREAM_MODE))
    stream_subgraphs: bool = False
    stream_resumable: bool = False
    interrupt_before: Any = None
    interrupt_after: Any = None
    checkpoint_id: str | None = None
    webhook: str | None = None
    multitask_strategy: MultitaskStrategy = MultitaskStrategy.enqueue
    if_not_exists: str = "reject"
    on_completion: str | None = None
    after_seconds: float | None = None
    durability: str | None = None
    feedback_keys: list[str] | None = None
    expected_hashes: dict[str, str] | None = None  # interrupt id -> payload hash the caller saw
    seen_hashes: frozenset[str] | None = None  # payload hashes the caller saw (If-Match)
    idempotency: tuple[str, str] | None = None  # (Idempotency-Key, hash of the request)
    run_id: str = field(default_factory=uuid7)  # chosen before it is durable (end watches)


async def _cancel_inflight(uow: UnitOfWork, inflight: list[Run], action: CancelAction) -> None:
    now = utcnow()
    for run in inflight:
        if action is CancelAction.rollback and await uow.store.runs.delete_pending(run.run_id):
            continue  # a rolled-back run that never started leaves nothing behind
        if await uow.store.runs.cancel_pending(run.run_id, now=now):
            await webhooks.run_completed(
                uow, run, status=RunStatus.interrupted.value, thread_status=None, error=None
            )
            continue
        if await uow.store.runs.request_cancel(run.run_id, action.value, now=now):
            uow.jobs.control(run.run_id, f"cancel:{action.value}")


def _permission(request: RunRequest) -> tuple[str, str]:
    """What starting this run needs: a resume is checked per interrupt, later."""
    command = request.command or {}
    if command.get("resume") is not None:
        return ("threads", "read")
    if command.get("update") is not None or command.get("goto") is not None:
        return ("state", "update")
    return ("runs", "create")


async def _thread_for_run(
    uow: UnitOfWork,
    rt: Runtime,
    principal: Principal,
    raw_thread_id: str | None,
    request: RunRequest,
) -> tuple[Thread, bool]:
    obj, act = _permission(request)
    if raw_thread_id is None:
        await rt.authz.require(principal, "threads", "create")
        thread = threads.new_thread(principal, new_thread_id(principal.tenant_id), {})
        uow.store.threads.add(thread)
        return thread, True
    thread_id = resolve_thread_id(principal.tenant_id, raw_thread_id)
    try:
        existing = await threads.load(
            uow.store, rt, principal, thread_id, obj=obj, act=act, lock=True
        )
    except NotFound:
        if request.if_not_exists != "create":
            raise
        found = await uow.store.threads.get(thread_id, tenant_id=principal.tenant_id)
        if found is not None:  # there, but not the caller's to see: the same 404
            raise
        await rt.authz.require(principal, "threads", "create")
        created = threads.new_thread(principal, thread_id, {}, rt.thread_ttl.default)
        uow.store.threads.add(created)
        return created, False
    return existing, False


async def create(
    rt: Runtime, principal: Principal, raw_thread_id: str | None, request: RunRequest
) -> Run:
    """Write the run durably and ring the bell; the caller answers 202 with it."""
    if request.command is not None and request.input is not None:
        raise InvalidInput("Send either input or command, not both.")
    if request.command is not None and not any(
        request.command.get(k) is not None for k in ("resume", "update", "goto")
    ):
        raise InvalidInput("command needs at least one of resume, update or goto.")
    if request.webhook is not None:  # resolves DNS: never inside a transaction
        await webhook_dispatch.check_run_webhook(request.webhook, rt.limits.webhook_allow)
    if request.checkpoint_id is not None:
        # only one of this thread's own checkpoints: never another thread's, nor a made-up one
        if raw_thread_id is None:
            raise InvalidInput("A run without a thread has no checkpoint to start from.")
        own = resolve_thread_id(principal.tenant_id, raw_thread_id)
        if not await rt.engine.has_checkpoint(own, request.checkpoint_id):
            raise NotFound("Checkpoint not found.")
    try:
        return await _create(rt, principal, raw_thread_id, request)
    except Conflict:
        # a retry that lost the race to its own first attempt gets that attempt's run
        if (run := await replay_after_conflict(rt, principal, request)) is not None:
            return run
        raise


async def _create(
    rt: Runtime, principal: Principal, raw_thread_id: str | None, request: RunRequest
) -> Run:
    async with rt.transaction() as uow:
        if request.idempotency is not None:
            replay = await _replay(uow, principal.tenant_id, *request.idempotency)
            if replay is not None:
                return replay
        assistant = await assistants.for_run(uow, rt, principal.tenant_id, request.assistant_id)
        thread, temporary = await _thread_for_run(uow, rt, principal, raw_thread_id, request)
        run = await enqueue(
            uow, rt, thread, assistant, request, principal=principal, temporary=temporary
        )
        if request.idempotency is not None:
            key, request_hash = request.idempotency
            uow.store.idempotency.add(
                IdempotencyKey(
                    tenant_id=principal.tenant_id,
                    key=key,
                    request_hash=request_hash,
                    status_code=202,
                    body={"run_id": run.run_id},
                    created_at=run.created_at,
                )
            )
    return run


def idempotency(key: str | None, request: Any) -> tuple[str, str] | None:
    """``(key, request hash)``: the same key and request replay the first run; another, 422."""
    if key is None:
        return None
    if not 1 <= len(key) <= 255:
        raise InvalidInput("Idempotency-Key must be 1-255 characters.")
    return key, payload_hash(request)


async def _replay(uow: UnitOfWork, tenant_id: str, key: str, request_hash: str) -> Run | None:
    """The run an earlier request with this ``Idempotency-Key`` created, if any."""
    record = await uow.store.idempotency.get(key, tenant_id=tenant_id)
    if record is None:
        return None
    if record.request_hash != request_hash:
        raise InvalidInput("This Idempotency-Key was used for a different request.")
    run = await uow.store.runs.get(str(record.body["run_id"]), tenant_id=tenant_id)
    if run is None:
        raise Conflict("The run created under this Idempotency-Key is gone.")
    return run


async def replay_after_conflict(
    rt: Runtime, principal: Principal, request: RunRequest
) -> Run | None:
    """After losing a race, the winner's run when it used the same ``Idempotency-Key``."""
    if request.idempotency is None:
        return None
    async with rt.transaction(readonly=True) as uow:
        return await _replay(uow, principal.tenant_id, *request.idempotency)


async def enqueue(
    uow: UnitOfWork,
    rt: Runtime,
    thread: Thread,
    assistant: Assistant,
    request: RunRequest,
    *,
    principal: Principal | None,
    temporary: bool = False,
) -> Run:
    """Apply the multitask strategy, resolve answered interrupts, insert the run as pending.

    ``principal`` None means the service itself (expiry), which needs no permission.
    """
    now = utcnow()
    run_id = request.run_id
    inflight = (
        []
        if temporary or thread.inflight_ids == []  # read with the thread's lock: none
        else await uow.store.runs.inflight(thread.thread_id, tenant_id=thread.tenant_id)
    )
    strategy = request.multitask_strategy
    if inflight and strategy is MultitaskStrategy.reject:
        raise ThreadBusy()
    if inflight and strategy in (MultitaskStrategy.interrupt, MultitaskStrategy.rollback):
        rollback = strategy is MultitaskStrategy.rollback
        action = CancelAction.rollback if rollback else CancelAction.interrupt
        await _cancel_inflight(uow, inflight, action)
    command = request.command
    if command is not None and command.get("resume") is not None and principal is not None:
        ahead = [r for r in inflight if not r.carries_decision()]  # it moves the thread on
        if ahead and strategy is not MultitaskStrategy.rollback:  # before the answer (R18)
            raise ThreadBusy("A run is in flight; decide once the thread stops at its interrupt.")
        answers = await interrupt_index.resolve_for_resume(
            uow,
            rt,
            principal,
            thread,
            command["resume"],
            run_id=run_id,
            now=now,
            expected_hashes=request.expected_hashes,
            seen_hashes=request.seen_hashes,
        )
        command = {**command, "resume": answers}
    metadata = {
        **request.metadata,
        "graph_id": assistant.graph_id,
        "assistant_id": assistant.assistant_id,
    }
    run = Run(
        run_id=run_id,
        tenant_id=thread.tenant_id,
        thread_id=thread.thread_id,
        assistant_id=assistant.assistant_id,
        graph_id=assistant.graph_id,
        created_by=principal.subject if principal else "system",
        status=RunStatus.pending.value,
        multitask_strategy=strategy.value,
        kwargs={
            "input": request.input,
            "command": command,
            "config": _merge_config(assistant.config, request.config),
            "context": {**(assistant.context or {}), **(request.context or {})} or None,
            "stream_mode": list(request.stream_mode or DEFAULT_STREAM_MODE),
            "subgraphs": request.stream_subgraphs,
            "resumable": request.stream_resumable,
            "interrupt_before": request.interrupt_before,
            "interrupt_after": request.interrupt_after,
            "checkpoint_id": request.checkpoint_id,
            "durability": request.durability,
            "feedback_keys": request.feedback_keys,
            "webhook": request.webhook,
            "temporary": temporary,
        },
        metadata_=metadata,
        temporary=temporary,
        on_completion=request.on_completion or ("delete" if temporary else "keep"),
        webhook=request.webhook,
        attempt=0,
        fence=0,
        available_at=now + timedelta(seconds=request.after_seconds or 0),
        created_at=now,
        updated_at=now,
    )
    uow.store.runs.add(run)
    thread.status = ThreadStatus.busy.value
    threads.touch(thread, now)  # a run: the thread's time to live starts again
    if thread.metadata_.get("graph_id") != assistant.graph_id:
        thread.metadata_ = {
            **thread.metadata_,
            "graph_id": assistant.graph_id,
            "assistant_id": assistant.assistant_id,
        }
    await uow.store.flush()
    uow.jobs.ring()
    return run


def _merge_config(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = {**base, **extra}
    configurable = {**(base.get("configurable") or {}), **(extra.get("configurable") or {})}
    for key in ("thread_id", "checkpoint_id", "checkpoint_ns", "run_id"):
        configurable.pop(key, None)  # the server decides these, never the body
    merged.pop("configurable", None)
    if configurable:
        merged["configurable"] = configurable
    return merged


async def _load(
    store: Store,
    rt: Runtime,
    principal: Principal,
    raw_thread_id: str,
    run_id: str,
    act: str = "read",
) -> Run:
    thread = await threads.load(store, rt, principal, raw_thread_id, obj="runs", act=act)
    run = await store.runs.get(run_id, tenant_id=principal.tenant_id, thread_id=thread.thread_id)
    if run is None:
        raise run_not_found()
    return run


async def get(rt: Runtime, principal: Principal, raw_thread_id: str, run_id: str) -> Run:
    async with rt.transaction(readonly=True) as uow:
        return await _load(uow.store, rt, principal, raw_thread_id, run_id)


async def list_runs(
    rt: Runtime,
    principal: Principal,
    raw_thread_id: str,
    *,
    limit: int,
    offset: int,
    status: str | None,
) -> list[Run]:
    async with rt.transaction(readonly=True) as uow:
        thread = await threads.load(uow.store, rt, principal, raw_thread_id, obj="runs")
        return await uow.store.runs.list_for_thread(
            thread.thread_id,
            tenant_id=principal.tenant_id,
            limit=min(limit, rt.limits.list_cap),
            offset=offset,
            status=status,
        )


async def cancel(
    rt: Runtime,
    principal: Principal,
    raw_thread_id: str,
    run_id: str,
    *,
    action: CancelAction,
    wait: bool,
) -> Run:
    async with rt.transaction() as uow:
        run = await _load(uow.store, rt, principal, raw_thread_id, run_id, act="cancel")
        if not RunStatus(run.status).terminal:
            await _cancel_inflight(uow, [run], action)
        cancelled_pending = run.status == RunStatus.pending.value
    if cancelled_pending:
        await _settle_cancelled_pending(rt, principal, run)
    try:
        if wait:
            await wait_until_done(rt, principal, run)
        return await get(rt, principal, raw_thread_id, run_id)
    except NotFound:
        if action is not CancelAction.rollback:
            raise
        # rolled back: the run and what it wrote are gone; answer with it as it ended
        run.status = RunStatus.interrupted.value
        return run


async def _settle_cancelled_pending(rt: Runtime, principal: Principal, run: Run) -> None:
    """A pending run cancelled before a worker took it: the thread and its review index go
    back to the checkpoints (a resume that never ran voids its decision, reopens its interrupt)."""
    current = await rt.engine.current(run.thread_id, run.graph_id, RunStatus.interrupted)
    async with rt.transaction() as uow:
        thread = await uow.store.threads.get(
            run.thread_id, tenant_id=principal.tenant_id, lock=True
        )
        if thread is not None:
            await threads.apply_result(
                uow,
                thread,
                current,
                run_id=None,
                graph_id=run.graph_id,
                queued=await uow.store.runs.inflight_ids(thread),
                resumed_by=run.run_id if run.carries_decision() else None,
            )
    await rt.bus.finish(run.run_id)


async def delete(rt: Runtime, principal: Principal, raw_thread_id: str, run_id: str) -> None:
    async with rt.transaction() as uow:
        run = await _load(uow.store, rt, principal, raw_thread_id, run_id, act="delete")
        if not RunStatus(run.status).terminal:
            raise Conflict("Run is still in flight; cancel it first.")
        await uow.store.runs.delete(run.run_id, tenant_id=principal.tenant_id)


async def _reread(rt: Runtime, principal: Principal, run: Run) -> Run:
    async with rt.transaction(readonly=True) as uow:
        found = await uow.store.runs.get(run.run_id, tenant_id=principal.tenant_id)
    if found is None:
        raise run_not_found()
    return found


async def wait_until_done(
    rt: Runtime, principal: Principal, run: Run, *, ended: RunEnd | None = None
) -> Run:
    """Block until ``run`` ends; the run as the ledger has it then."""
    done, _ = await _ended(rt, principal, run, ended)
    if not RunStatus(done.status).terminal:  # the worker's word came first: read it back
        done = await _reread(rt, principal, done)
    return done


async def _ended(
    rt: Runtime, principal: Principal, run: Run, ended: RunEnd | None
) -> tuple[Run, Any]:
    """The run once ended, and the worker's outcome (``NO_OUTCOME``: none came). Woken by
    ``watch_end``, never by polling; without an outcome the ledger decides (re-read every
    ``WAIT_POLL`` s). ``ended``: a watch put in place before ``run`` was written; else one is
    put in place here and the ledger read once more, so an end in between is not missed."""
    if ended is None:
        with rt.bus.watch_end(run.run_id) as watch:
            current = run if RunStatus(run.status).terminal else await _reread(rt, principal, run)
            return await _until_ended(rt, principal, current, watch)
    return await _until_ended(rt, principal, run, ended)


async def _until_ended(
    rt: Runtime, principal: Principal, run: Run, ended: RunEnd
) -> tuple[Run, Any]:
    current = run
    while not RunStatus(current.status).terminal:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ended.wait(), timeout=WAIT_POLL)
        if ended.outcome is not None:  # sent after the end was committed: as good as the ledger
            return current, orjson.loads(ended.outcome)
        ended.clear()
        current = await _reread(rt, principal, current)
    return current, NO_OUTCOME


async def create_and_wait(
    rt: Runtime, principal: Principal, raw_thread_id: str | None, request: RunRequest
) -> tuple[Run, Any]:
    """``/runs/wait``: create the run, wait for its end (watched before it is durable)."""
    with rt.bus.watch_end(request.run_id) as watch:
        run = await create(rt, principal, raw_thread_id, request)
        mine = run.run_id == request.run_id  # not a run replayed by its Idempotency-Key
        done, outcome = await _ended(rt, principal, run, watch if mine else None)
    return run, await _answer(rt, principal, done, outcome)


async def _answer(rt: Runtime, principal: Principal, run: Run, outcome: Any) -> Any:
    """What ``/wait`` and ``/join`` return: the worker's outcome, else from the ledger."""
    if outcome is not NO_OUTCOME:
        return outcome
    if run.temporary or (run.status == RunStatus.error.value and run.error):
        return wait_answer(run.status, run.error, run.output, [])
    async with rt.transaction(readonly=True) as uow:
        thread = await uow.store.threads.get(run.thread_id, tenant_id=principal.tenant_id)
        if thread is None:
            return run.output
        view = (await threads.views(uow.store, principal.tenant_id, [thread]))[0]
    pending = [{"id": r.interrupt_id, "value": r.value} for r in view.pending]
    return wait_output(thread.values, pending)


async def join(rt: Runtime, principal: Principal, raw_thread_id: str, run_id: str) -> Any:
    with rt.bus.watch_end(run_id) as watch:
        run = await get(rt, principal, raw_thread_id, run_id)  # read once the watch is in place
        done, outcome = await _ended(rt, principal, run, watch)
    return await _answer(rt, principal, done, outcome)
