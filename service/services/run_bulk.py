"""Runs in bulk, as LangGraph Server offers them: a batch of stateless runs created in one
request, and cancelling several runs at once (by thread and run ids, or every run of the
tenant in a status). Each run goes through the one-run use cases (``services/runs.py``), so
authorization, multitask strategies, webhooks and the end of a cancelled run are theirs."""

from __future__ import annotations

from service.domain.principal import Principal
from service.domain.runs import CancelAction, RunStatus
from service.errors import Forbidden, InvalidInput, NotFound
from service.models import Run
from service.services import runs, threads
from service.services.runtime import Runtime

BATCH_CAP = 100  # runs one batch request may create
BULK_STATUSES: dict[str, tuple[str, ...]] = {
    "pending": (RunStatus.pending.value,),
    "running": (RunStatus.running.value,),
    "all": (RunStatus.pending.value, RunStatus.running.value),
}


async def create_batch(
    rt: Runtime, principal: Principal, requests: list[runs.RunRequest]
) -> list[Run]:
    """One stateless run per request, in order. Each is durable when it is answered; a request
    that fails stops the batch there (the runs before it stand, as separate POSTs would)."""
    if not requests:
        raise InvalidInput("A batch needs at least one run.")
    if len(requests) > BATCH_CAP:
        raise InvalidInput(f"A batch holds at most {BATCH_CAP} runs.")
    return [await runs.create(rt, principal, None, request) for request in requests]


async def cancel_many(
    rt: Runtime,
    principal: Principal,
    *,
    thread_id: str | None,
    run_ids: list[str] | None,
    status: str | None,
    action: CancelAction,
) -> int:
    """Cancel the named runs of one thread (every one must be the caller's to cancel: else
    404/403 and none is cancelled), or every run in ``status`` the caller may cancel (the
    others are left alone, unmentioned). Answers how many were asked to stop."""
    if status is not None:
        if thread_id is not None or run_ids:
            raise InvalidInput("Send either status, or thread_id with run_ids.")
        return await _cancel_by_status(rt, principal, status, action)
    if thread_id is None or not run_ids:
        raise InvalidInput("Send thread_id with run_ids, or a status.")
    if len(run_ids) > rt.limits.list_cap:
        raise InvalidInput(f"At most {rt.limits.list_cap} runs at once.")
    named = list(dict.fromkeys(run_ids))
    async with rt.transaction(readonly=True) as uow:  # all or none: refuse before stopping any
        thread = await threads.load(uow.store, rt, principal, thread_id, obj="runs", act="cancel")
        for run_id in named:
            tenant_id = principal.tenant_id
            if await uow.store.runs.get(run_id, tenant_id=tenant_id, thread_id=thread.thread_id):
                continue
            raise runs.run_not_found()
    for run_id in named:
        await runs.cancel(rt, principal, thread_id, run_id, action=action, wait=False)
    return len(named)


async def _cancel_by_status(
    rt: Runtime, principal: Principal, status: str, action: CancelAction
) -> int:
    statuses = BULK_STATUSES.get(status)
    if statuses is None:
        raise InvalidInput(f"status must be one of {', '.join(BULK_STATUSES)}.")
    async with rt.transaction(readonly=True) as uow:
        found = await uow.store.runs.inflight_for_tenant(
            tenant_id=principal.tenant_id, statuses=statuses, limit=rt.limits.list_cap
        )
    cancelled = 0
    for run in found:
        try:
            await runs.cancel(rt, principal, run.thread_id, run.run_id, action=action, wait=False)
        except (NotFound, Forbidden):
            continue  # not the caller's to cancel (or gone meanwhile)
        cancelled += 1
    return cancelled
