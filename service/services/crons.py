"""Crons: a run body fired on a schedule, on one thread or on a new thread each time
(stateless). The worker's scheduler (``cron_scheduler``) creates the runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from service.domain.ids import resolve_thread_id, uuid7
from service.domain.principal import Principal
from service.domain.runs import MultitaskStrategy
from service.errors import Forbidden, NotFound
from service.models import Cron
from service.models.base import utcnow
from service.services import assistants, threads, webhook_dispatch
from service.services.cron_schedule import check_schedule, next_due, zone
from service.services.runs import RunRequest
from service.services.runtime import Runtime
from service.services.tenants import default_assistant_id
from service.store.store import Store

UNSET: Any = object()  # an update that leaves the field as it is

# what a cron's payload may carry: the body of the runs it creates
PAYLOAD_FIELDS = (
    "input",
    "config",
    "context",
    "metadata",
    "webhook",
    "interrupt_before",
    "interrupt_after",
    "multitask_strategy",
    "stream_mode",
    "stream_subgraphs",
    "stream_resumable",
    "durability",
)


def not_found() -> NotFound:
    return NotFound("Cron not found.")


@dataclass
class CronRequest:
    """A cron as the client asked for it (LangGraph Server ``CronCreate`` fields)."""

    assistant_id: str
    schedule: str
    payload: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    timezone: str | None = None
    end_time: datetime | None = None
    enabled: bool = True
    on_run_completed: str | None = None


def run_request(cron: Cron) -> RunRequest:
    """The run a firing of ``cron`` creates, as if its payload had been posted."""
    body = cron.payload or {}
    modes = body.get("stream_mode") or ["values"]
    return RunRequest(
        assistant_id=cron.assistant_id,
        input=body.get("input"),
        config=body.get("config") or {},
        context=body.get("context"),
        metadata={**(body.get("metadata") or {}), "cron_id": cron.cron_id},
        stream_mode=[modes] if isinstance(modes, str) else list(modes),
        stream_subgraphs=bool(body.get("stream_subgraphs")),
        stream_resumable=bool(body.get("stream_resumable")),
        interrupt_before=body.get("interrupt_before"),
        interrupt_after=body.get("interrupt_after"),
        webhook=body.get("webhook"),
        multitask_strategy=MultitaskStrategy(body.get("multitask_strategy") or "enqueue"),
        durability=body.get("durability"),
        on_completion=None if cron.thread_id else (cron.on_run_completed or "delete"),
    )


def schedule_next(cron: Cron, now: datetime) -> None:
    """The next firing from ``now``; a cron with none left (past its end) is disabled."""
    cron.next_run_date = next_due(cron.schedule, cron.timezone, now, cron.end_time)
    if cron.next_run_date is None:
        cron.enabled = False


async def create(
    rt: Runtime, principal: Principal, raw_thread_id: str | None, request: CronRequest
) -> Cron:
    await rt.authz.require(principal, "crons", "write", owner=principal.subject)  # its owner
    schedule = check_schedule(request.schedule)
    zone(request.timezone)
    await webhook_dispatch.check_run_webhook(
        request.payload.get("webhook"), rt.limits.webhook_allow
    )
    now = utcnow()
    async with rt.transaction() as uow:
        assistant = await assistants.resolve(
            uow.store, rt, principal.tenant_id, request.assistant_id
        )
        thread_id = None
        if raw_thread_id is None:  # each firing makes a thread, as a stateless run does
            await rt.authz.require(principal, "threads", "create")
        else:
            thread = await threads.load(
                uow.store, rt, principal, raw_thread_id, obj="runs", act="create"
            )
            thread_id = thread.thread_id
        cron = Cron(
            tenant_id=principal.tenant_id,
            cron_id=uuid7(),
            assistant_id=assistant.assistant_id,
            thread_id=thread_id,
            user_id=principal.subject,
            owner_roles=sorted(principal.token_roles),
            schedule=schedule,
            timezone=request.timezone,
            payload={**request.payload, "metadata": request.metadata},
            metadata_=request.metadata,
            end_time=request.end_time,
            on_run_completed=None if thread_id else (request.on_run_completed or "delete"),
            enabled=request.enabled,
            created_at=now,
            updated_at=now,
        )
        schedule_next(cron, now)
        uow.store.crons.add(cron)
        await uow.store.flush()
    return cron


async def _load(store: Store, rt: Runtime, principal: Principal, cron_id: str) -> Cron:
    """The caller's cron, open to them to change: unseen ones are unknown (404)."""
    cron = await store.crons.get(cron_id, tenant_id=principal.tenant_id, lock=True)
    if cron is None:
        raise not_found()
    if not (await rt.authz.check(principal, "crons", "read", owner=cron.user_id)).allowed:
        raise not_found()
    await rt.authz.require(principal, "crons", "write", owner=cron.user_id)
    return cron


async def update(
    rt: Runtime,
    principal: Principal,
    cron_id: str,
    *,
    changes: dict[str, Any],
) -> Cron:
    """Apply ``changes`` (CronUpdate fields; ``end_time`` None clears it)."""
    schedule = changes.get("schedule")
    if schedule is not None:
        changes["schedule"] = check_schedule(schedule)
    if changes.get("timezone") is not None:
        zone(changes["timezone"])
    if changes.get("webhook") is not None:
        await webhook_dispatch.check_run_webhook(changes["webhook"], rt.limits.webhook_allow)
    now = utcnow()
    async with rt.transaction() as uow:
        cron = await _load(uow.store, rt, principal, cron_id)
        for key in ("schedule", "timezone", "end_time", "enabled"):
            if key in changes:
                setattr(cron, key, changes[key])
        if changes.get("on_run_completed") is not None and cron.thread_id is None:
            cron.on_run_completed = changes["on_run_completed"]
        payload = dict(cron.payload or {})
        for key in PAYLOAD_FIELDS:
            if changes.get(key) is not None:
                payload[key] = changes[key]
        if changes.get("metadata") is not None:
            cron.metadata_ = changes["metadata"]
        cron.payload = payload
        if cron.enabled and any(
            k in changes for k in ("schedule", "timezone", "end_time", "enabled")
        ):
            schedule_next(cron, now)
        cron.updated_at = now
        await uow.store.flush()
    return cron


async def delete(rt: Runtime, principal: Principal, cron_id: str) -> None:
    async with rt.transaction() as uow:
        cron = await _load(uow.store, rt, principal, cron_id)
        await uow.store.crons.delete(cron.cron_id, tenant_id=principal.tenant_id)


async def _filters(
    rt: Runtime, principal: Principal, assistant_id: str | None, raw_thread_id: str | None
) -> dict[str, Any] | None:
    """The search filters the caller may see through; None: nothing can match."""
    scope = await rt.authz.scope(principal, "crons", "read")
    if scope is None:
        raise Forbidden("Not allowed to read crons.")
    if assistant_id is not None and assistant_id in rt.engine.graph_ids:
        assistant_id = default_assistant_id(principal.tenant_id, assistant_id)
    thread_id = None
    if raw_thread_id is not None:
        try:
            thread_id = resolve_thread_id(principal.tenant_id, raw_thread_id)
        except NotFound:
            return None  # not an id of this tenant's: none of its crons run there
    return {
        "tenant_id": principal.tenant_id,
        "user_id": principal.subject if scope == "own" else None,
        "assistant_id": assistant_id,
        "thread_id": thread_id,
    }


async def search(
    rt: Runtime,
    principal: Principal,
    *,
    assistant_id: str | None,
    thread_id: str | None,
    enabled: bool | None,
    metadata: dict[str, Any] | None,
    limit: int,
    offset: int,
    sort_by: str,
    descending: bool,
) -> list[Cron]:
    filters = await _filters(rt, principal, assistant_id, thread_id)
    if filters is None:
        return []
    async with rt.transaction(readonly=True) as uow:
        return await uow.store.crons.search(
            **filters,
            enabled=enabled,
            metadata=metadata,
            limit=min(limit, rt.limits.list_cap),
            offset=offset,
            sort_by=sort_by,
            descending=descending,
        )


async def count(
    rt: Runtime,
    principal: Principal,
    *,
    assistant_id: str | None,
    thread_id: str | None,
    metadata: dict[str, Any] | None,
) -> int:
    filters = await _filters(rt, principal, assistant_id, thread_id)
    if filters is None:
        return 0
    async with rt.transaction(readonly=True) as uow:
        return await uow.store.crons.count(**filters, metadata=metadata)
