"""The review index: keep it equal to what the checkpoints hold, and map resumes onto it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from service.domain.ids import uuid7
from service.domain.interrupts import (
    DecisionType,
    InterruptStatus,
    classify,
    decision_of,
    payload_hash,
)
from service.domain.principal import Principal
from service.domain.runs import InterruptSnapshot
from service.errors import AlreadyDecided, InvalidInput, NothingPending
from service.models import Interrupt, Thread
from service.services import audit
from service.services.runtime import Runtime, UnitOfWork
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


async def resolve_for_resume(
    uow: UnitOfWork,
    rt: Runtime,
    principal: Principal,
    thread: Thread,
    resume: Any,
    *,
    run_id: str,
    now: datetime,
) -> dict[str, Any]:
    """Resolve the interrupts a resume answers, exactly once each; ``{interrupt_id: value}``.

    For each answered interrupt: it must still be pending, the value must be a decision it
    allows, and the caller must hold ``decide`` (and ``edit`` for edits) on its type, given
    who owns the thread. The ``status = 'pending'`` guard makes one answer win under any
    concurrency; every resolution is audited with the payload hash it answered.
    """
    pending = await uow.store.interrupts.pending_for_threads(
        [thread.thread_id], tenant_id=principal.tenant_id
    )
    answers = map_resume(resume, pending)
    by_id = {row.interrupt_id: row for row in pending}
    for interrupt_id, value in answers.items():
        row = by_id[interrupt_id]
        decision = decision_of(value, agent_inbox=row.agent_inbox, allowed=row.allowed)
        await rt.authz.require_decision(principal, row.type, "decide", owner=thread.owner)
        if decision is DecisionType.edit:
            await rt.authz.require_decision(principal, row.type, "edit", owner=thread.owner)
        closed = await uow.store.interrupts.close(
            [row.id],
            tenant_id=principal.tenant_id,
            status=InterruptStatus.resolved,
            now=now,
            by=principal.subject,
            decision=value,
            resume_run_id=run_id,
        )
        if closed != 1:
            raise AlreadyDecided()
        await audit.record_for(
            uow,
            principal,
            "interrupt.resolve",
            "interrupt",
            row.id,
            detail={
                "thread_id": thread.thread_id,
                "interrupt_id": interrupt_id,
                "type": row.type,
                "decision": decision.value,
                "decision_hash": payload_hash(value),
                "run_id": run_id,
            },
            payload_hash=row.payload_hash,
        )
    return answers
