from __future__ import annotations

from sqlalchemy import select

from service.models import Tenant
from service.models.base import utcnow
from service.store.base import Repository


def audit_head_key(tenant_id: str) -> tuple[str, str]:
    """Where a transaction keeps the audit chain head of a tenant row it has locked."""
    return ("audit_head", tenant_id)


class TenantRepository(Repository):
    async def get(self, tenant_id: str, *, lock: bool = False) -> Tenant | None:
        """The tenant; with ``lock``, its row stays locked until the transaction ends
        (the audit chain's head is then known without reading it again)."""
        if not lock:
            return await self.session.get(Tenant, tenant_id)
        stmt = select(Tenant).where(Tenant.tenant_id == tenant_id)
        if self.postgres:
            stmt = stmt.with_for_update()
        tenant = (await self.session.scalars(stmt)).one_or_none()
        if tenant is not None:
            self.session.info[audit_head_key(tenant_id)] = (tenant.audit_seq, tenant.audit_head)
        return tenant

    async def ensure(self, tenant_id: str, name: str | None = None) -> None:
        now = utcnow()
        await self.insert_ignore(
            Tenant.__table__,
            [
                {
                    "tenant_id": tenant_id,
                    "name": name or tenant_id,
                    "settings": {},
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        )

    async def list_all(self, *, limit: int = 100, offset: int = 0) -> list[Tenant]:
        stmt = select(Tenant).order_by(Tenant.tenant_id).limit(limit).offset(offset)
        return list((await self.session.scalars(stmt)).all())
