"""The worker's thread sweeper: threads whose time to live is over (``Thread.expires_at``,
set from ``ttl`` at creation or update, or ``langgraph.json``'s ``checkpointer.ttl``, and
moved on by every update and run) are deleted as ``DELETE /threads/{id}`` deletes them
(``delete``), or keep only their latest checkpoint (``keep_latest``), every
``sweep_interval_minutes``. A running thread is left for a later sweep (its run moved its
expiry on anyway); each thread is taken by one worker (``FOR UPDATE SKIP LOCKED``)."""

from __future__ import annotations

import logging

from service.models.base import utcnow
from service.services import thread_copy, threads
from service.services.runtime import Runtime, every

log = logging.getLogger(__name__)

PER_SWEEP = 100  # threads per transaction; a sweep goes on while it finds a full batch


async def sweep_once(rt: Runtime, limit: int = PER_SWEEP) -> int:
    """Act on up to ``limit`` expired threads in one transaction; how many."""
    now = utcnow()
    deleted: list[str] = []
    async with rt.transaction() as uow:
        expired = await uow.store.threads.claim_expired(now, limit)
        for thread in expired:
            if thread.ttl_strategy == "keep_latest":
                await thread_copy.keep_latest(uow, rt, thread)
                thread.expires_at = None  # until something happens on it again
            else:
                await threads.remove(uow, thread, now)
                deleted.append(thread.thread_id)
        await uow.store.flush()
    for thread_id in deleted:  # the rows are gone: their checkpoints follow
        await rt.engine.delete_thread(thread_id)
    if expired:
        log.info("thread ttl: %d deleted, %d pruned", len(deleted), len(expired) - len(deleted))
    return len(expired)


async def sweep(rt: Runtime) -> int:
    """Every expired thread, a batch at a time; how many."""
    total = 0
    while (done := await sweep_once(rt)) > 0:
        total += done
        if done < PER_SWEEP:
            break
    return total


async def run_sweeper(rt: Runtime) -> None:
    """The worker's loop, every ``sweep_interval_minutes``; a failed sweep is logged."""
    await every(rt.thread_ttl.sweep_minutes * 60, lambda: sweep(rt), "thread ttl sweep")
