"""Crons: the tenant's scheduled runs, and the scheduler's claim of the due ones."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, delete, func, select, update

from service.models import Cron
from service.store.base import Repository

SORTABLE = {"cron_id", "assistant_id", "thread_id", "created_at", "updated_at", "next_run_date"}
SORTABLE |= {"end_time"}

_GET = select(Cron).where(
    Cron.tenant_id == bindparam("tenant_id"), Cron.cron_id == bindparam("cron_id")
)
# the earliest due cron nobody else holds: one transaction fires it and moves it on
_DUE = (
    select(Cron)
    .where(Cron.enabled.is_(True), Cron.next_run_date <= bindparam("now"))
    .order_by(Cron.next_run_date)
    .limit(1)
)
_DUE_LOCKED = _DUE.with_for_update(skip_locked=True)


class CronRepository(Repository):
    def add(self, cron: Cron) -> None:
        self.session.add(cron)

    async def get(self, cron_id: str, *, tenant_id: str, lock: bool = False) -> Cron | None:
        stmt = _GET.with_for_update() if lock and self.postgres else _GET
        params = {"tenant_id": tenant_id, "cron_id": cron_id}
        return (await self.session.scalars(stmt, params)).one_or_none()

    def _filtered(
        self,
        stmt: Select[Any],
        *,
        tenant_id: str,
        user_id: str | None,
        assistant_id: str | None,
        thread_id: str | None,
        enabled: bool | None,
        metadata: dict[str, Any] | None,
    ) -> Select[Any]:
        stmt = stmt.where(Cron.tenant_id == tenant_id)
        if user_id is not None:
            stmt = stmt.where(Cron.user_id == user_id)
        if assistant_id is not None:
            stmt = stmt.where(Cron.assistant_id == assistant_id)
        if thread_id is not None:
            stmt = stmt.where(Cron.thread_id == thread_id)
        if enabled is not None:
            stmt = stmt.where(Cron.enabled.is_(enabled))
        if metadata:
            stmt = stmt.where(self.json_contains(Cron.metadata_, metadata))
        return stmt

    async def search(
        self,
        *,
        tenant_id: str,
        user_id: str | None = None,
        assistant_id: str | None = None,
        thread_id: str | None = None,
        enabled: bool | None = None,
        metadata: dict[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
        sort_by: str = "created_at",
        descending: bool = True,
    ) -> list[Cron]:
        column = getattr(Cron, sort_by if sort_by in SORTABLE else "created_at")
        stmt = self._filtered(
            select(Cron),
            tenant_id=tenant_id,
            user_id=user_id,
            assistant_id=assistant_id,
            thread_id=thread_id,
            enabled=enabled,
            metadata=metadata,
        )
        order = column.desc() if descending else column.asc()
        stmt = stmt.order_by(order, Cron.cron_id).limit(limit).offset(offset)
        return list((await self.session.scalars(stmt)).all())

    async def count(
        self,
        *,
        tenant_id: str,
        user_id: str | None = None,
        assistant_id: str | None = None,
        thread_id: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> int:
        stmt = self._filtered(
            select(func.count()).select_from(Cron),
            tenant_id=tenant_id,
            user_id=user_id,
            assistant_id=assistant_id,
            thread_id=thread_id,
            enabled=None,
            metadata=metadata,
        )
        return int((await self.session.execute(stmt)).scalar_one())

    async def delete(self, cron_id: str, *, tenant_id: str) -> bool:
        stmt = delete(Cron).where(Cron.tenant_id == tenant_id, Cron.cron_id == cron_id)
        result = await self.session.execute(stmt)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def delete_for_thread(self, thread_id: str, *, tenant_id: str) -> None:
        """A thread's crons go with it (as LangGraph Server's cascade)."""
        stmt = delete(Cron).where(Cron.tenant_id == tenant_id, Cron.thread_id == thread_id)
        await self.session.execute(stmt)

    async def any_due(self, now: datetime) -> bool:
        """Whether some enabled cron is due (a read: most ticks find none)."""
        stmt = select(_DUE.with_only_columns(Cron.cron_id).exists())
        return bool((await self.session.execute(stmt, {"now": now})).scalar())

    async def claim_due(self, now: datetime) -> Cron | None:
        """The earliest due enabled cron, locked for this transaction: on Postgres skipping
        those another worker holds (``SKIP LOCKED``); SQLite's writer holds the database."""
        stmt = _DUE_LOCKED if self.postgres else _DUE
        return (await self.session.scalars(stmt, {"now": now})).one_or_none()

    async def disable(self, cron_id: str, *, now: datetime) -> None:
        """The scheduler's stop for a cron that cannot fire (any tenant's: it acts for all)."""
        stmt = (
            update(Cron)
            .where(Cron.cron_id == cron_id)
            .values(enabled=False, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        await self.session.execute(stmt)
