"""The worker's cron scheduler: each tick fires the due crons, each exactly once across
every worker process.

One transaction per firing: it takes the earliest due cron (Postgres ``FOR UPDATE SKIP
LOCKED``: a cron another worker is firing is passed over; SQLite's ``BEGIN IMMEDIATE``
serializes writers), creates the run through the runs use case (``runs.enqueue``: the
multitask strategy, webhooks and the bell as for ``POST /threads/{id}/runs``), acting for
the cron's tenant and owner (who must still be allowed to start it), and moves
``next_run_date`` on, or disables a cron past its end. Missed firings (every worker down)
are not caught up: one run, then the next time from now. A cron whose assistant or thread
is gone, or whose owner lost the right to start its run, is disabled and logged.
"""

from __future__ import annotations

import logging

from service.domain.ids import new_thread_id
from service.domain.principal import Principal
from service.errors import ServiceError, ThreadBusy, Unavailable
from service.models import Cron, Run
from service.models.base import utcnow
from service.services import assistants, runs, threads
from service.services.crons import run_request, schedule_next
from service.services.runtime import Runtime, UnitOfWork, every

log = logging.getLogger(__name__)

PER_TICK = 50  # firings per tick at most; the rest wait for the next tick


async def _start_run(uow: UnitOfWork, rt: Runtime, cron: Cron) -> Run:
    """The firing's run, created for the cron's owner if they may still start it (as
    ``POST /threads/{id}/runs`` or a stateless run checks them); else Forbidden."""
    owner = Principal(
        tenant_id=cron.tenant_id,
        subject=cron.user_id,
        token_roles=frozenset(cron.owner_roles or ()),
    )
    request = run_request(cron)
    assistant = await assistants.resolve(uow.store, rt, cron.tenant_id, cron.assistant_id)
    if cron.thread_id is None:
        await rt.authz.require(owner, "threads", "create")
        thread = threads.new_thread(owner, new_thread_id(cron.tenant_id), {})
        uow.store.threads.add(thread)
        return await runs.enqueue(
            uow, rt, thread, assistant, request, principal=owner, temporary=True
        )
    found = await uow.store.threads.get(cron.thread_id, tenant_id=cron.tenant_id, lock=True)
    if found is None:
        raise threads.not_found()
    await rt.authz.require(owner, "runs", "create", owner=found.owner)
    return await runs.enqueue(uow, rt, found, assistant, request, principal=owner)


async def fire_one(rt: Runtime) -> bool:
    """Fire the earliest due cron, if any; whether there was one."""
    now = utcnow()
    taken: str | None = None
    try:
        async with rt.transaction() as uow:
            cron = await uow.store.crons.claim_due(now)
            if cron is None:
                return False
            taken = cron.cron_id
            due = cron.next_run_date
            expired = cron.end_time is not None and due is not None and due > cron.end_time
            cron.updated_at = now
            if expired:  # its end came before this firing
                cron.enabled, cron.next_run_date = False, None
                log.info("cron %s ended", cron.cron_id)
                return True
            try:
                schedule_next(cron, now)
                run = await _start_run(uow, rt, cron)
            except ThreadBusy:
                log.info("cron %s skipped a firing: its thread is busy", cron.cron_id)
            except Unavailable:
                raise
            except ServiceError as exc:  # its assistant or thread is gone, or it cannot run
                cron.enabled = False
                log.warning("cron %s disabled: %s", cron.cron_id, exc)
            else:
                log.info("cron %s fired run %s", cron.cron_id, run.run_id)
            await uow.store.flush()
    except Unavailable:
        raise
    except Exception:  # never a cron that fails every tick ahead of the others
        if taken is None:
            raise
        log.exception("cron %s disabled: its run could not be created", taken)
        await _disable(rt, taken)
    return True


async def _disable(rt: Runtime, cron_id: str) -> None:
    """Disable a cron in a transaction of its own: the firing's rolled back with its error."""
    async with rt.transaction() as uow:
        await uow.store.crons.disable(cron_id, now=utcnow())


async def fire_due(rt: Runtime, limit: int = PER_TICK) -> int:
    """Fire due crons until none is left (or ``limit``); how many were taken."""
    async with rt.transaction(readonly=True) as uow:  # no write lock when nothing is due
        if not await uow.store.crons.any_due(utcnow()):
            return 0
    taken = 0
    while taken < limit and await fire_one(rt):
        taken += 1
    return taken


async def run_scheduler(rt: Runtime, seconds: float) -> None:
    """The worker's loop: a tick every ``seconds``; a failed tick is logged, never fatal."""
    await every(seconds, lambda: fire_due(rt), "cron tick")
