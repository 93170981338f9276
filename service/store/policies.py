"""Policy versions and the change feed every process polls."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from service.models import PolicyChange, Tenant
from service.store.base import Repository


class PolicyRepository(Repository):
    async def lock_version(self, tenant_id: str) -> int:
        """The tenant's policy version, locked so concurrent edits apply one after another."""
        stmt = select(Tenant.policy_version).where(Tenant.tenant_id == tenant_id)
        if self.postgres:
            stmt = stmt.with_for_update()
        value = (await self.session.execute(stmt)).scalar_one_or_none()
        return int(value or 0)

    async def version(self, tenant_id: str) -> int:
        stmt = select(Tenant.policy_version).where(Tenant.tenant_id == tenant_id)
        return int((await self.session.execute(stmt)).scalar_one_or_none() or 0)

    async def record(self, change: PolicyChange) -> None:
        self.session.add(change)
        await self.session.execute(
            update(Tenant)
            .where(Tenant.tenant_id == change.tenant_id)
            .values(policy_version=change.version)
            .execution_options(synchronize_session=False)
        )
        await self.session.flush()

    async def history(
        self, tenant_id: str, *, limit: int, before_version: int | None
    ) -> list[PolicyChange]:
        stmt = select(PolicyChange).where(PolicyChange.tenant_id == tenant_id)
        if before_version is not None:
            stmt = stmt.where(PolicyChange.version < before_version)
        stmt = stmt.order_by(PolicyChange.version.desc()).limit(limit)
        return list((await self.session.scalars(stmt)).all())

    async def at_version(self, tenant_id: str, version: int) -> PolicyChange | None:
        stmt = select(PolicyChange).where(
            PolicyChange.tenant_id == tenant_id, PolicyChange.version == version
        )
        return (await self.session.scalars(stmt)).one_or_none()

    async def changed_since(self, since: datetime) -> list[tuple[int, str]]:
        """(change id, tenant) committed at or after ``since`` (the poller dedupes by id)."""
        stmt = (
            select(PolicyChange.id, PolicyChange.tenant_id)
            .where(PolicyChange.created_at >= since)
            .order_by(PolicyChange.id)
        )
        return [(int(row[0]), str(row[1])) for row in (await self.session.execute(stmt)).all()]
