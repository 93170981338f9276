"""The audit trail: append-only, hash-chained per tenant, listable and verifiable."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from service.domain.audit import GENESIS, AuditQuery, chain_hash
from service.domain.ids import uuid7
from service.domain.principal import Principal
from service.models import AuditEvent
from service.models.base import utcnow
from service.services.runtime import Runtime, UnitOfWork

SYSTEM_ACTOR = "system"


async def record(
    uow: UnitOfWork,
    *,
    tenant_id: str,
    actor: str,
    action: str,
    target_type: str,
    target_id: str,
    detail: dict[str, Any] | None = None,
    payload_hash: str | None = None,
    request_id: str | None = None,
) -> None:
    """Append one event to the tenant's chain, inside the caller's transaction.

    The events of a transaction are chained and written just before it commits: the
    tenant's chain head stays locked only for those last statements, not while the rest
    of the transaction works (every decision of a tenant passes through that lock).
    """
    queued: list[dict[str, Any]] | None = uow.memo.get(_QUEUED)
    if queued is None:
        queued = uow.memo[_QUEUED] = []
        uow.before_commit.append(lambda: _append_queued(uow))
    queued.append(
        {
            "id": uuid7(),
            "tenant_id": tenant_id,
            "actor": actor,
            "action": action,
            "target_type": target_type,
            "target_id": target_id,
            "detail": detail or {},
            "payload_hash": payload_hash,
            "request_id": request_id,
            "created_at": utcnow(),
        }
    )


_QUEUED = "audit.queued"


async def _append_queued(uow: UnitOfWork) -> None:
    queued: list[dict[str, Any]] = uow.memo.pop(_QUEUED, [])
    for tenant_id in dict.fromkeys(fields["tenant_id"] for fields in queued):
        seq, head = await uow.store.audit.lock_head(tenant_id)
        rows = []
        for fields in (f for f in queued if f["tenant_id"] == tenant_id):
            seq += 1
            hashed = {**fields, "seq": seq, "created_at": fields["created_at"].isoformat()}
            rows.append({**fields, "seq": seq, "prev_hash": head, "hash": chain_hash(head, hashed)})
            head = rows[-1]["hash"]
        await uow.store.audit.append(tenant_id, rows)


async def record_for(
    uow: UnitOfWork,
    principal: Principal,
    action: str,
    target_type: str,
    target_id: str,
    detail: dict[str, Any] | None = None,
    payload_hash: str | None = None,
) -> None:
    await record(
        uow,
        tenant_id=principal.tenant_id,
        actor=principal.subject,
        action=action,
        target_type=target_type,
        target_id=target_id,
        detail=detail,
        payload_hash=payload_hash,
        request_id=principal.request_id,
    )


def fields_of(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "tenant_id": event.tenant_id,
        "seq": event.seq,
        "actor": event.actor,
        "action": event.action,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "detail": event.detail,
        "payload_hash": event.payload_hash,
        "request_id": event.request_id,
        "created_at": event.created_at.isoformat(),
    }


async def list_events(rt: Runtime, principal: Principal, query: AuditQuery) -> list[AuditEvent]:
    await rt.authz.require(principal, "audit", "read")
    async with rt.transaction() as uow:
        return await uow.store.audit.list_events(
            tenant_id=principal.tenant_id,
            query=dataclasses.replace(query, limit=min(query.limit, rt.limits.list_cap)),
        )


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    head_seq: int
    first_bad_seq: int | None = None
    reason: str | None = None


async def verify_chain(rt: Runtime, tenant_id: str, *, batch: int = 1000) -> ChainReport:
    """Walk the tenant's chain: sequence without gaps, each hash recomputed, head matches."""
    expected_prev, expected_seq, checked = GENESIS, 1, 0
    async with rt.transaction() as uow:
        head_seq, head_hash = await uow.store.audit.head(tenant_id)
        after = 0
        while True:
            events = await uow.store.audit.chain(tenant_id=tenant_id, after_seq=after, limit=batch)
            if not events:
                break
            for event in events:
                if event.seq != expected_seq:
                    return ChainReport(False, checked, head_seq, expected_seq, "sequence gap")
                if event.prev_hash != expected_prev:
                    return ChainReport(False, checked, head_seq, event.seq, "broken link")
                if chain_hash(event.prev_hash, fields_of(event)) != event.hash:
                    return ChainReport(False, checked, head_seq, event.seq, "hash mismatch")
                expected_prev, expected_seq, checked = event.hash, event.seq + 1, checked + 1
            after = events[-1].seq
    if checked != head_seq or (checked and expected_prev != head_hash):
        return ChainReport(False, checked, head_seq, expected_seq, "head does not match the chain")
    return ChainReport(True, checked, head_seq)


async def verify(rt: Runtime, principal: Principal) -> ChainReport:
    await rt.authz.require(principal, "audit", "read")
    return await verify_chain(rt, principal.tenant_id)
