"""The reaper: runs whose lease ran out go back to the queue, or fail at the attempt cap.

The runs a worker process held when it died are reaped at once by its successor
(``expire_crashed``): each counts a crash, and a run with a crash is claimed afterwards only
by a quarantine process, alone, so a run that kills its process (R11) takes nothing else
down with it and ends ``error`` at the attempt cap like any other.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from service.domain.runs import ThreadStatus
from service.models.base import utcnow
from service.observability import REQUEUED
from service.services import webhooks
from service.services.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass
class Reaped:
    requeued: int = 0
    failed: list[str] = field(default_factory=list)  # the runs ended at the attempt cap


async def reap(rt: Runtime, *, max_attempts: int) -> Reaped:
    """Give runs with expired leases back to the queue, or fail them at the cap.

    One transaction per run, taking the thread's lock first (the order every writer uses);
    the fenced update makes a run that moved on meanwhile a no-op.
    """
    now = utcnow()
    reaped = Reaped()
    async with rt.transaction(readonly=True) as uow:
        expired = await uow.store.runs.expired(now=now)
    for run in expired:
        async with rt.transaction() as uow:
            await uow.store.threads.lock(run.thread_id, tenant_id=run.tenant_id)
            if run.attempt < max_attempts:
                if await uow.store.runs.requeue(run, now=now):
                    reaped.requeued += 1
                    REQUEUED.inc()
                    uow.jobs.ring()
                continue
            error = {
                "error": "MaxAttemptsExceeded",
                "message": f"run failed {run.attempt} attempts",
            }
            if run.crashes:
                error["message"] += f"; its worker process died {run.crashes} times"
            if not await uow.store.runs.fail(run, error=error, now=now):
                continue
            await webhooks.run_completed(
                uow, run, status="error", thread_status="error", error=error
            )
            await uow.store.threads.set_state(
                run.thread_id,
                tenant_id=run.tenant_id,
                status=ThreadStatus.error.value,
                set_values=False,
                now=now,
            )
            reaped.failed.append(run.run_id)
    return reaped


async def expire_crashed(rt: Runtime, worker_id: str) -> int:
    """End now the leases a dead process of ``worker_id`` held, counting a crash on each;
    the next ``reap`` hands them on. A process calls it for its own id before it claims."""
    async with rt.transaction() as uow:
        count = await uow.store.runs.expire_crashed(worker_id, now=utcnow())
    if count:
        log.warning("%d run(s) were in flight when worker %s died: quarantined", count, worker_id)
    return count


async def crashed_waiting(rt: Runtime) -> bool:
    async with rt.transaction(readonly=True) as uow:
        return await uow.store.runs.crashed_waiting()
