"""Audit events: appended with the tenant's chain head locked, never updated."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, insert, select, update

from service.domain.audit import AuditQuery
from service.models import AuditEvent, Tenant
from service.models.base import utcnow
from service.store.base import Repository

_COLUMNS = [c.name for c in AuditEvent.__table__.columns]
# one event and the head moved, as one statement (Postgres), with its values as parameters
_APPEND_ONE = (
    update(Tenant)
    .where(Tenant.tenant_id == bindparam("h_tenant"))
    .values(
        audit_seq=bindparam("h_seq"), audit_head=bindparam("h_hash"), updated_at=bindparam("h_at")
    )
    .add_cte(
        insert(AuditEvent)
        .values(
            {
                name: bindparam(f"e_{name}", type_=AuditEvent.__table__.c[name].type)
                for name in _COLUMNS
            }
        )
        .cte()
    )
)


class AuditRepository(Repository):
    async def lock_head(self, tenant_id: str) -> tuple[int, str]:
        """The tenant's last sequence number and hash, locked until the transaction ends."""
        stmt = select(Tenant.audit_seq, Tenant.audit_head).where(Tenant.tenant_id == tenant_id)
        if self.postgres:
            stmt = stmt.with_for_update()
        row = (await self.session.execute(stmt)).one()
        return int(row[0]), str(row[1])

    async def append(self, tenant_id: str, rows: list[dict[str, Any]]) -> None:
        """Add events chained onto the head ``lock_head`` returned, and move the head (one
        statement on Postgres: the head stays locked one round trip less)."""
        head = (
            update(Tenant)
            .where(Tenant.tenant_id == tenant_id)
            .values(audit_seq=rows[-1]["seq"], audit_head=rows[-1]["hash"], updated_at=utcnow())
        )
        if self.postgres and len(rows) == 1:  # the usual case: compiled once
            moved = {"h_tenant": tenant_id, "h_seq": rows[0]["seq"], "h_hash": rows[0]["hash"]}
            event = {f"e_{name}": value for name, value in rows[0].items()}
            await self.session.execute(_APPEND_ONE, {**event, **moved, "h_at": utcnow()})
        elif self.postgres:
            await self.session.execute(head.add_cte(insert(AuditEvent).values(rows).cte()))
        else:
            await self.session.execute(insert(AuditEvent), rows)
            await self.session.execute(head)

    async def list_events(self, *, tenant_id: str, query: AuditQuery) -> list[AuditEvent]:
        stmt = select(AuditEvent).where(
            AuditEvent.tenant_id == tenant_id, AuditEvent.seq > query.after_seq
        )
        if query.target_type:
            stmt = stmt.where(AuditEvent.target_type == query.target_type)
        if query.target_id:
            stmt = stmt.where(AuditEvent.target_id == query.target_id)
        if query.action:
            stmt = stmt.where(AuditEvent.action == query.action)
        if query.actor:
            stmt = stmt.where(AuditEvent.actor == query.actor)
        if query.since is not None:
            stmt = stmt.where(AuditEvent.created_at >= query.since)
        if query.until is not None:
            stmt = stmt.where(AuditEvent.created_at < query.until)
        stmt = stmt.order_by(AuditEvent.seq).limit(query.limit)
        return list((await self.session.scalars(stmt)).all())

    async def chain(self, *, tenant_id: str, after_seq: int, limit: int) -> list[AuditEvent]:
        stmt = (
            select(AuditEvent)
            .where(AuditEvent.tenant_id == tenant_id, AuditEvent.seq > after_seq)
            .order_by(AuditEvent.seq)
            .limit(limit)
        )
        return list((await self.session.scalars(stmt)).all())

    async def head(self, tenant_id: str) -> tuple[int, str]:
        stmt = select(Tenant.audit_seq, Tenant.audit_head).where(Tenant.tenant_id == tenant_id)
        row = (await self.session.execute(stmt)).one()
        return int(row[0]), str(row[1])
