"""Threads: the service row (tenant, owner, status, values) plus state from the engine."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from service.domain.ids import new_session_id_from_client, new_thread_id, resolve_thread_id
from service.domain.interrupts import InterruptStatus, payload_hash
from service.domain.principal import Principal
from service.domain.runs import RunResult, RunStatus, ThreadStatus
from service.domain.thread_ttl import ThreadTtl
from service.errors import Conflict, Forbidden, NotFound
from service.models import Interrupt, Thread
from service.models.base import utcnow
from service.services import audit
from service.services import interrupts as interrupt_index
from service.services.runtime import Runtime, UnitOfWork
from service.store.store import Store


@dataclass(frozen=True)
class ThreadView:
    thread: Thread
    pending: list[Interrupt]

    @property
    def interrupts(self) -> dict[str, list[dict[str, Any]]]:
        grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in self.pending:
            grouped[row.task_id].append({"id": row.interrupt_id, "value": row.value})
        return dict(grouped)


def not_found() -> NotFound:
    return NotFound("Thread not found.")


async def load(
    store: Store,
    rt: Runtime,
    principal: Principal,
    raw_id: str,
    *,
    obj: str = "threads",
    act: str = "read",
    lock: bool = False,
    with_view: bool = False,
) -> Thread:
    """The caller's thread, visible to them and open to ``act`` on ``obj``.

    The tenant prefix is checked before any query. A thread the caller may not read is
    answered exactly like an unknown one (404); one they may read but not act on is 403.
    """
    thread_id = resolve_thread_id(principal.tenant_id, raw_id)
    thread = await store.threads.get(
        thread_id, tenant_id=principal.tenant_id, lock=lock, with_view=with_view
    )
    if thread is None:
        raise not_found()
    if not (await rt.authz.check(principal, "threads", "read", owner=thread.owner)).allowed:
        raise not_found()
    if (obj, act) != ("threads", "read"):
        await rt.authz.require(principal, obj, act, owner=thread.owner)
    return thread


async def views(store: Store, tenant_id: str, threads: list[Thread]) -> list[ThreadView]:
    waiting = [t.thread_id for t in threads if t.status == ThreadStatus.interrupted.value]
    rows = await store.interrupts.pending_for_threads(waiting, tenant_id=tenant_id)
    by_thread: dict[str, list[Interrupt]] = defaultdict(list)
    for row in rows:
        by_thread[row.thread_id].append(row)
    return [ThreadView(t, by_thread.get(t.thread_id, [])) for t in threads]


def new_thread(
    principal: Principal, thread_id: str, metadata: dict[str, Any], ttl: ThreadTtl | None = None
) -> Thread:
    now = utcnow()
    thread = Thread(
        thread_id=thread_id,
        tenant_id=principal.tenant_id,
        owner=principal.subject,
        status=ThreadStatus.idle.value,
        metadata_={**metadata, "owner": principal.subject},
        values=None,
        config={},
        error=None,
        created_at=now,
        updated_at=now,
        state_updated_at=now,
    )
    set_ttl(thread, ttl, now)
    return thread


def set_ttl(thread: Thread, ttl: ThreadTtl | None, now: datetime) -> None:
    """The thread's time to live from ``now`` on (None: it never expires)."""
    thread.ttl_strategy = ttl.strategy if ttl else None
    thread.ttl_minutes = ttl.minutes if ttl else None
    thread.expires_at = ttl.expires(now) if ttl else None


def touch(thread: Thread, now: datetime) -> None:
    """Something happened on the thread (an update, a run): its time to live starts again."""
    thread.updated_at = now
    if thread.ttl_minutes is not None:
        thread.expires_at = now + timedelta(minutes=thread.ttl_minutes)


async def create(
    rt: Runtime,
    principal: Principal,
    *,
    thread_id: str | None,
    metadata: dict[str, Any],
    if_exists: str,
    ttl: ThreadTtl | None = None,
) -> ThreadView:
    """A new thread; without ``ttl``, ``langgraph.json``'s default TTL applies (if any)."""
    await rt.authz.require(principal, "threads", "create")
    full_id = (
        new_session_id_from_client(principal.tenant_id, thread_id)
        if thread_id
        else new_thread_id(principal.tenant_id)
    )
    thread = new_thread(principal, full_id, metadata, ttl or rt.thread_ttl.default)
    async with rt.transaction(single_statement=True) as uow:
        if await uow.store.threads.add_new(thread):
            return ThreadView(thread, [])
        existing = await uow.store.threads.get(full_id, tenant_id=principal.tenant_id)
        if existing is None:  # deleted in between: as if it had just been created
            raise Conflict("The request conflicts with a concurrent change; retry.")
        if if_exists == "do_nothing":
            return (await views(uow.store, principal.tenant_id, [existing]))[0]
        raise Conflict("Thread already exists.")


async def get(rt: Runtime, principal: Principal, thread_id: str) -> ThreadView:
    async with rt.transaction(readonly=True) as uow:
        thread = await load(uow.store, rt, principal, thread_id)
        return (await views(uow.store, principal.tenant_id, [thread]))[0]


async def update(
    rt: Runtime,
    principal: Principal,
    thread_id: str,
    *,
    metadata: dict[str, Any],
    ttl: ThreadTtl | None = None,
) -> ThreadView:
    """Merge ``metadata`` in; a ``ttl`` replaces the thread's (counted from now)."""
    now = utcnow()
    async with rt.transaction() as uow:
        thread = await load(uow.store, rt, principal, thread_id, act="update", lock=True)
        thread.metadata_ = {**thread.metadata_, **metadata, "owner": thread.owner}
        if ttl is not None:
            set_ttl(thread, ttl, now)
        touch(thread, now)
        await uow.store.flush()
        return (await views(uow.store, principal.tenant_id, [thread]))[0]


async def delete(rt: Runtime, principal: Principal, thread_id: str) -> None:
    """Delete the thread, its runs (cancelling those in flight), crons and checkpoints."""
    async with rt.transaction() as uow:
        thread = await load(uow.store, rt, principal, thread_id, act="delete", lock=True)
        await remove(uow, thread, utcnow())
    await rt.engine.delete_thread(thread.thread_id)


async def remove(uow: UnitOfWork, thread: Thread, now: datetime) -> None:
    """The rows of a thread locked in ``uow``, gone (its checkpoints go after the commit:
    ``engine.delete_thread``): runs in flight cancelled, interrupts closed, crons deleted."""
    tenant_id = thread.tenant_id
    for run in await uow.store.runs.inflight(thread.thread_id, tenant_id=tenant_id):
        if not await uow.store.runs.cancel_pending(run.run_id, now=now):
            await uow.store.runs.request_cancel(run.run_id, "interrupt", now=now)
            uow.jobs.control(run.run_id, "cancel:interrupt")
    await uow.store.interrupts.close_for_thread(
        thread.thread_id, tenant_id=tenant_id, status=InterruptStatus.cancelled, now=now
    )
    await uow.store.runs.delete_for_thread(thread.thread_id, tenant_id=tenant_id)
    await uow.store.crons.delete_for_thread(thread.thread_id, tenant_id=tenant_id)
    await uow.store.threads.delete(thread.thread_id, tenant_id=tenant_id)


async def search(
    rt: Runtime,
    principal: Principal,
    *,
    ids: list[str] | None,
    metadata: dict[str, Any] | None,
    values: dict[str, Any] | None,
    status: str | None,
    limit: int,
    offset: int,
    sort_by: str,
    descending: bool,
) -> list[ThreadView]:
    owner = await _list_scope(rt, principal)
    full_ids = None
    if ids is not None:
        full_ids = []
        for raw in ids:
            try:
                full_ids.append(resolve_thread_id(principal.tenant_id, raw))
            except NotFound:
                continue  # a foreign or malformed id matches nothing
    async with rt.transaction(readonly=True) as uow:
        threads = await uow.store.threads.search(
            tenant_id=principal.tenant_id,
            ids=full_ids,
            owner=owner,
            status=status,
            metadata=metadata,
            values=values,
            limit=min(limit, rt.limits.list_cap),
            offset=offset,
            sort_by=sort_by,
            descending=descending,
        )
        return await views(uow.store, principal.tenant_id, threads)


async def count(
    rt: Runtime,
    principal: Principal,
    *,
    metadata: dict[str, Any] | None,
    values: dict[str, Any] | None,
    status: str | None,
) -> int:
    owner = await _list_scope(rt, principal)
    async with rt.transaction(readonly=True) as uow:
        return await uow.store.threads.count(
            tenant_id=principal.tenant_id,
            owner=owner,
            status=status,
            metadata=metadata,
            values=values,
        )


async def _list_scope(rt: Runtime, principal: Principal) -> str | None:
    """None to list every thread of the tenant, or the caller's subject for own threads only."""
    scope = await rt.authz.scope(principal, "threads", "read")
    if scope is None:
        raise Forbidden("Not allowed to read threads.")
    return None if scope == "any" else principal.subject


def graph_of(thread: Thread) -> str | None:
    graph_id = thread.metadata_.get("graph_id")
    return graph_id if isinstance(graph_id, str) else None


def empty_state(thread_id: str) -> dict[str, Any]:
    return {
        "values": {},
        "next": [],
        "tasks": [],
        "metadata": {},
        "created_at": None,
        "checkpoint": {"thread_id": thread_id, "checkpoint_ns": "", "checkpoint_id": None},
        "parent_checkpoint": None,
        "interrupts": [],
        "checkpoint_id": None,
        "parent_checkpoint_id": None,
    }


async def get_state(
    rt: Runtime,
    principal: Principal,
    thread_id: str,
    *,
    checkpoint_id: str | None = None,
    subgraphs: bool = False,
    checkpoint_ns: str = "",
) -> dict[str, Any]:
    """The thread's state (``checkpoint_ns``: a subgraph's; ``subgraphs``: with each subgraph
    task's own state)."""
    latest = checkpoint_id is None and not subgraphs and not checkpoint_ns
    async with rt.transaction(readonly=True) as uow:
        thread = await load(uow.store, rt, principal, thread_id, with_view=latest)
    graph_id = graph_of(thread)
    if graph_id is None:
        if checkpoint_id:
            raise NotFound("Checkpoint not found.")
        return empty_state(thread.thread_id)
    if latest and thread.state_view is not None and thread.status != ThreadStatus.busy.value:
        # what the last change of its checkpoints left (none runs now): no checkpoint read
        return {"values": thread.values, **thread.state_view}
    return await rt.engine.get_state(
        thread.thread_id,
        graph_id,
        checkpoint_id=checkpoint_id,
        checkpoint_ns=checkpoint_ns,
        subgraphs=subgraphs,
    )


async def history(
    rt: Runtime,
    principal: Principal,
    thread_id: str,
    *,
    limit: int,
    before: str | None,
    metadata: dict[str, Any] | None,
    checkpoint_id: str | None,
    checkpoint_ns: str = "",
) -> list[dict[str, Any]]:
    async with rt.transaction(readonly=True) as uow:
        thread = await load(uow.store, rt, principal, thread_id)
    graph_id = graph_of(thread)
    if graph_id is None:
        return []
    return await rt.engine.history(
        thread.thread_id,
        graph_id,
        limit=min(limit, rt.limits.list_cap),
        before=before,
        metadata=metadata,
        checkpoint_id=checkpoint_id,
        checkpoint_ns=checkpoint_ns,
    )


async def update_state(
    rt: Runtime,
    principal: Principal,
    thread_id: str,
    *,
    values: Any,
    as_node: str | None,
    checkpoint_id: str | None,
    graph_id: str | None = None,
) -> dict[str, Any]:
    """Write state as if ``as_node`` produced it; the review index follows the new state.

    Pending interrupts that the update moves past are closed without a decision, so the
    caller also needs the right to decide each of them; the update is audited.
    """
    async with rt.transaction() as uow:
        thread = await load(
            uow.store, rt, principal, thread_id, obj="state", act="update", lock=True
        )
        if await uow.store.runs.inflight_ids(thread):
            raise Conflict("Thread has a run in flight; update its state when it is done.")
        pending = await uow.store.interrupts.pending_for_threads(
            [thread.thread_id], tenant_id=principal.tenant_id
        )
        for row in pending:
            for action_type in interrupt_index.kind_of(row).types:
                await rt.authz.require_decision(
                    principal, action_type, "decide", owner=thread.owner
                )
        graph = graph_of(thread) or graph_id
        if graph is None:
            raise Conflict("Thread has no graph yet; start a run or pass a graph.")
        ref, result = await rt.engine.update_state(
            thread.thread_id, graph, values=values, as_node=as_node, checkpoint_id=checkpoint_id
        )
        await apply_result(uow, thread, result, run_id=None, graph_id=graph)
        if graph_of(thread) is None:
            thread.metadata_ = {**thread.metadata_, "graph_id": graph}
        await audit.record_for(
            uow,
            principal,
            "state.update",
            "thread",
            thread.thread_id,
            detail={
                "as_node": as_node,
                "checkpoint_id": ref.get("checkpoint_id"),
                "bypassed_interrupts": [row.interrupt_id for row in pending],
            },
            payload_hash=payload_hash(values),
        )
    return {"checkpoint": ref, "configurable": ref, "checkpoint_id": ref.get("checkpoint_id")}


async def apply_result(
    uow: UnitOfWork,
    thread: Thread,
    result: RunResult,
    *,
    run_id: str | None,
    graph_id: str,
    queued: Sequence[str] = (),
    resumed_by: str | None = None,
) -> None:
    """Bring the thread row and the review index in line with the engine's state.

    ``queued``: the thread's runs still in flight (read under the thread's lock by the
    caller); the thread stays busy while there are any. ``resumed_by``: the run that ended,
    if it carried a decision (``interrupt_index.sync``).
    """
    now = utcnow()
    status = ThreadStatus.busy if queued else result.thread_status
    await uow.store.threads.set_state(
        thread.thread_id,
        tenant_id=thread.tenant_id,
        status=status.value,
        values=result.values,
        error=result.error if result.status is RunStatus.error else None,
        view=result.view,
        now=now,
    )
    await interrupt_index.sync(
        uow,
        tenant_id=thread.tenant_id,
        thread_id=thread.thread_id,
        run_id=run_id,
        graph_id=graph_id,
        pending=result.interrupts,
        checkpoint_id=result.checkpoint_id,
        owner=thread.owner,
        queued=queued,
        now=now,
        resumed_by=resumed_by,
        none_pending=thread.pending_interrupts == 0,
    )
