"""The review index: keep it equal to what the checkpoints hold, and map resumes onto it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from service.domain.ids import uuid7
from service.domain.interrupts import (
    EDITS,
    InterruptKind,
    InterruptStatus,
    canonical_json,
    classify,
    expiry_from_payload,
    fallback_decision,
    payload_hash,
    review_decisions,
)
from service.domain.principal import Principal
from service.domain.runs import InterruptSnapshot
from service.domain.tenants import TenantSettings
from service.errors import AlreadyDecided, Forbidden, InvalidInput, NothingPending, StaleDecision
from service.models import Interrupt, Thread
from service.services import audit, webhooks
from service.services.runtime import Recent, Runtime, UnitOfWork
from service.store.store import Store


def inbox_stream(tenant_id: str) -> str:
    """The event stream a tenant's live inbox follows."""
    return f"inbox:{tenant_id}"


async def announce(uow: UnitOfWork, row: Interrupt, event: str, *, owner: str) -> None:
    """Tell live inboxes (after commit) and webhook subscribers (through the outbox, in
    this transaction) that an interrupt appeared in or left the inbox."""
    data = {
        "event": event,
        "id": row.id,
        "thread_id": row.thread_id,
        "owner": owner,
        "interrupt_id": row.interrupt_id,
        "type": row.type,
        "status": row.status,
    }
    uow.jobs.publish(inbox_stream(row.tenant_id), event, canonical_json(data).encode())
    await webhooks.interrupt_changed(uow, row, event)


async def tenant_settings(store: Store, tenant_id: str) -> TenantSettings:
    """The tenant's settings, read in the caller's transaction."""
    tenant = await store.tenants.get(tenant_id)
    return TenantSettings.model_validate(tenant.settings if tenant else {})


SETTINGS = "tenant_settings"


async def recent_tenant_settings(
    recent: Recent, tenant_id: str, store: Store | None = None, rt: Runtime | None = None
) -> TenantSettings:
    """The tenant's settings as this process read them at most a second ago.

    For read paths (inbox lists, counts, items, live events) and the expiry rule of a new
    interrupt: a settings change reaches them within a second, as a policy change does.
    Decisions read the settings in their own transaction (``resolve_for_resume``), so
    four-eyes is never enforced from a stale copy. Read in ``store``'s transaction when
    given, else in one of ``rt``'s.
    """

    async def load() -> TenantSettings:
        if store is not None:
            return await tenant_settings(store, tenant_id)
        assert rt is not None
        async with rt.transaction(readonly=True) as uow:
            return await tenant_settings(uow.store, tenant_id)

    return await recent.get(SETTINGS, tenant_id, load)


async def sync(
    uow: UnitOfWork,
    *,
    tenant_id: str,
    thread_id: str,
    run_id: str | None,
    graph_id: str,
    pending: Sequence[InterruptSnapshot],
    checkpoint_id: str | None,
    owner: str,
    queued: Sequence[str],
    now: datetime,
    resumed_by: str | None = None,
    none_pending: bool = False,
) -> list[Interrupt]:
    """Make the thread's pending rows equal to ``pending``; returns the rows created.

    A row still pending with the same interrupt id and payload stays as it is. An
    interrupt already decided whose resume run has not run yet is not offered again.
    Rows no longer pending in the checkpoint are closed as ``cancelled`` (the thread moved
    on without a decision: a new input, ``update_state``, a rollback). ``queued``: the
    thread's runs in flight, as the caller read them in this transaction. ``resumed_by``: the
    run that ended, when it carried a decision; a decision of its whose interrupt is still
    pending took no effect and is ``voided`` (the interrupt is offered again, found by R18).
    ``none_pending``: the caller read with the thread's lock that it has no pending rows.
    """
    store = uow.store
    if resumed_by is not None and pending:
        ids = [snap.interrupt_id for snap in pending]
        await store.interrupts.void_unconsumed(thread_id, resumed_by, ids, tenant_id=tenant_id)
    existing = (
        []
        if none_pending
        else await store.interrupts.pending_for_threads([thread_id], tenant_id=tenant_id)
    )
    wanted = {(snap.interrupt_id, payload_hash(snap.value)): snap for snap in pending}
    stale = [row for row in existing if (row.interrupt_id, row.payload_hash) not in wanted]
    await store.interrupts.close(
        [row.id for row in stale], tenant_id=tenant_id, status=InterruptStatus.cancelled, now=now
    )
    for row in stale:
        store.interrupts.mark(row, InterruptStatus.cancelled)
        await announce(uow, row, "interrupt.cancelled", owner=owner)
    await store.flush()
    decided = await store.interrupts.awaiting_resume(
        thread_id, [r for r in queued if r != run_id], tenant_id=tenant_id
    )
    skip = {(row.interrupt_id, row.payload_hash) for row in [*existing, *decided]}
    settings = (
        await recent_tenant_settings(uow.recent, tenant_id, store)
        if len(skip) < len(wanted)
        else None
    )
    created = []
    for key, snap in wanted.items():
        if key in skip:
            continue
        kind = classify(snap.value, snap.response_schema)
        expires_at, default = _expiry(snap.value, kind, settings, now)
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
            response_schema=snap.response_schema,
            payload_hash=key[1],
            graph_id=graph_id,
            checkpoint_id=checkpoint_id,
            default_decision=default,
            status=InterruptStatus.pending.value,
            created_at=now,
            expires_at=expires_at,
        )
        store.interrupts.add(row)
        created.append(row)
        await announce(uow, row, "interrupt.created", owner=owner)
    await store.flush()
    return created


def _expiry(
    value: Any, kind: InterruptKind, settings: TenantSettings | None, now: datetime
) -> tuple[datetime | None, Any]:
    """When an interrupt expires and what it is then resolved with, if ever (never when
    nothing is safe to answer with)."""
    expires_at, expires_in, default = expiry_from_payload(value)
    rule = settings.interrupt_expiry.get(kind.type) if settings else None
    if expires_at is None and expires_in is not None:
        expires_at = now + timedelta(seconds=expires_in)
    if expires_at is None and rule is not None:
        expires_at = now + timedelta(seconds=rule.after_seconds)
    if expires_at is None:
        return None, None
    if default is None and rule is not None:
        default = rule.default_decision
    if default is None:
        default = fallback_decision(kind)
    return (expires_at, default) if default is not None else (None, None)


def kind_of(row: Interrupt) -> InterruptKind:
    """How a stored interrupt is reviewed (from its value: the same every time)."""
    return classify(row.value, row.response_schema)


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
    expected_hashes: dict[str, str] | None = None,
    seen_hashes: frozenset[str] | None = None,
) -> dict[str, Any]:
    """Resolve the interrupts a resume answers, exactly once each; ``{interrupt_id: value}``.

    For each answered interrupt: it must still be pending (and, given ``expected_hashes`` or
    ``seen_hashes``, carry a payload the caller saw), the value must be a decision it allows,
    and the caller must hold ``decide`` (and ``edit`` for edits) on each of its types, given
    who owns the thread. The ``status = 'pending'`` guard makes one answer win under any
    concurrency; every resolution is audited with the payload hash it answered.
    """
    pending = await uow.store.interrupts.pending_for_threads(
        [thread.thread_id], tenant_id=principal.tenant_id
    )
    by_id = {row.interrupt_id: row for row in pending}
    if expected_hashes and not set(expected_hashes) <= set(by_id):
        raise AlreadyDecided()  # a decision on a named interrupt lost the race
    answers = map_resume(resume, pending)
    settings = await tenant_settings(uow.store, principal.tenant_id)
    for interrupt_id, value in answers.items():
        row = by_id[interrupt_id]
        expected = (expected_hashes or {}).get(interrupt_id)
        if expected is not None and expected != row.payload_hash:
            raise StaleDecision()
        if seen_hashes is not None and row.payload_hash not in seen_hashes:
            raise StaleDecision()  # the request changed since the caller saw it
        decisions = review_decisions(value, kind_of(row), row.response_schema)
        if settings.four_eyes and thread.owner == principal.subject:
            raise Forbidden("Four-eyes rule: you may not decide on a thread you started.")
        for action_type, decision in decisions:  # every action of a batch, by its own type
            await rt.authz.require_decision(principal, action_type, "decide", owner=thread.owner)
            if decision in EDITS:
                await rt.authz.require_decision(principal, action_type, "edit", owner=thread.owner)
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
        uow.store.interrupts.mark(row, InterruptStatus.resolved)
        await announce(uow, row, "interrupt.resolved", owner=thread.owner)
        for index, (action_type, decision) in enumerate(decisions):  # audited per action
            await audit.record_for(
                uow,
                principal,
                "interrupt.resolve",
                "interrupt",
                row.id,
                detail={
                    "thread_id": thread.thread_id,
                    "interrupt_id": interrupt_id,
                    "type": action_type,
                    "decision": decision,
                    "decision_hash": payload_hash(value),
                    "run_id": run_id,
                    **({"action": index, "actions": len(decisions)} if len(decisions) > 1 else {}),
                },
                payload_hash=row.payload_hash,
            )
    return answers
