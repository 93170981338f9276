"""The review index: keep it equal to what the checkpoints hold, and map resumes onto it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from service.domain.ids import uuid7
from service.domain.interrupts import InterruptStatus, classify, payload_hash
from service.domain.runs import InterruptSnapshot
from service.errors import AlreadyDecided, InvalidInput, NothingPending
from service.models import Interrupt
from service.store.store import Store


async def sync(
    store: Store,
    *,
    tenant_id: str,
    thread_id: str,
    run_id: str | None,
    graph_id: str,
    pending: Sequence[InterruptSnapshot],
    now: datetime,
) -> list[Interrupt]:
    """Make the thread's pending rows equal to ``pending``; returns the rows created.

    A row that is still pending with the same interrupt id and payload stays as it is.
    Rows no longer pending in the checkpoint are closed as ``cancelled`` (the thread
    moved on without a decision, e.g. through ``update_state``).
    """
    existing = await store.interrupts.pending_for_threads([thread_id], tenant_id=tenant_id)
    wanted = {(snap.interrupt_id, payload_hash(snap.value)): snap for snap in pending}
    keep = {
        (row.interrupt_id, row.payload_hash)
        for row in existing
        if (row.interrupt_id, row.payload_hash) in wanted
    }
    stale = [row.id for row in existing if (row.interrupt_id, row.payload_hash) not in wanted]
    await store.interrupts.close(
        stale, tenant_id=tenant_id, status=InterruptStatus.cancelled, now=now
    )
    await store.flush()
    created = []
    for key, snap in wanted.items():
        if key in keep:
            continue
        kind = classify(snap.value)
        row = Interrupt(
            id=uuid7(),
            tenant_id=tenant_id,
            thread_id=thread_id,
            run_id=run_id,
            interrupt_id=snap.interrupt_id,
            task_id=snap.task_id,
            node=snap.node,
            type=kind.type,
            allowed=list(kind.allowed),
            agent_inbox=kind.agent_inbox,
            description=kind.description,
            value=snap.value,
            payload_hash=key[1],
            graph_id=graph_id,
            status=InterruptStatus.pending.value,
            created_at=now,
        )
        store.interrupts.add(row)
        created.append(row)
    await store.flush()
    return created


def map_resume(resume: Any, pending: Sequence[Interrupt]) -> dict[str, Any]:
    """Which pending interrupt each part of a ``Command(resume=...)`` answers.

    ``{interrupt_id: value, ...}`` answers those interrupts; any other value answers the
    single pending interrupt. With several pending, the map form is required.
    """
    if not pending:
        raise NothingPending()
    by_id = {row.interrupt_id: row for row in pending}
    if isinstance(resume, dict) and resume and all(key in by_id for key in resume):
        return dict(resume)
    if len(pending) == 1:
        return {pending[0].interrupt_id: resume}
    raise InvalidInput("Several interrupts are pending; resume with a map {interrupt_id: value}.")


async def claim_for_resume(
    store: Store,
    *,
    tenant_id: str,
    thread_id: str,
    resume: Any,
    by: str,
    run_id: str,
    now: datetime,
) -> dict[str, Any]:
    """Resolve the interrupts a resume answers, exactly once; returns ``{interrupt_id: value}``."""
    pending = await store.interrupts.pending_for_threads([thread_id], tenant_id=tenant_id)
    answers = map_resume(resume, pending)
    by_id = {row.interrupt_id: row for row in pending}
    closed = 0
    for interrupt_id, value in answers.items():
        closed += await store.interrupts.close(
            [by_id[interrupt_id].id],
            tenant_id=tenant_id,
            status=InterruptStatus.resolved,
            now=now,
            by=by,
            decision=value,
            resume_run_id=run_id,
        )
    if closed != len(answers):
        raise AlreadyDecided()
    return answers
