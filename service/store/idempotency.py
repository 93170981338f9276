from __future__ import annotations

from sqlalchemy import select

from service.models import IdempotencyKey
from service.store.base import Repository


class IdempotencyRepository(Repository):
    async def get(self, key: str, *, tenant_id: str) -> IdempotencyKey | None:
        stmt = select(IdempotencyKey).where(
            IdempotencyKey.tenant_id == tenant_id, IdempotencyKey.key == key
        )
        return (await self.session.scalars(stmt)).one_or_none()

    def add(self, record: IdempotencyKey) -> None:
        self.session.add(record)
