from __future__ import annotations

from sqlalchemy import select

from service.models import Tenant
from service.models.base import utcnow
from service.store.base import Repository


class TenantRepository(Repository):
    async def get(self, tenant_id: str) -> Tenant | None:
        return await self.session.get(Tenant, tenant_id)

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
