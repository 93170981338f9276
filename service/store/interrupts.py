"""The pending-interrupt index (the reviewer's inbox reads this, never checkpoints)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from service.domain.interrupts import InterruptStatus
from service.models import Interrupt
from service.store.base import Repository

PENDING = InterruptStatus.pending.value


class InterruptRepository(Repository):
    def add(self, row: Interrupt) -> None:
        self.session.add(row)

    async def pending_for_threads(
        self, thread_ids: Sequence[str], *, tenant_id: str
    ) -> list[Interrupt]:
        if not thread_ids:
            return []
        stmt = (
            select(Interrupt)
            .where(
                Interrupt.tenant_id == tenant_id,
                Interrupt.thread_id.in_(list(thread_ids)),
                Interrupt.status == PENDING,
            )
            .order_by(Interrupt.created_at, Interrupt.id)
        )
        return list((await self.session.scalars(stmt)).all())

    async def close(
        self,
        ids: Sequence[str],
        *,
        tenant_id: str,
        status: InterruptStatus,
        now: datetime,
        by: str | None = None,
        decision: Any = None,
        resume_run_id: str | None = None,
    ) -> int:
        """Move pending rows to a final status; returns how many were still pending.

        The ``status = 'pending'`` guard is what makes one decision win under any
        concurrency: a second writer updates zero rows.
        """
        if not ids:
            return 0
        stmt = (
            update(Interrupt)
            .where(
                Interrupt.id.in_(list(ids)),
                Interrupt.tenant_id == tenant_id,
                Interrupt.status == PENDING,
            )
            .values(
                status=status.value,
                resolved_at=now,
                resolved_by=by,
                decision=decision,
                resume_run_id=resume_run_id,
            )
            .execution_options(synchronize_session=False)
        )
        result = await self.session.execute(stmt)
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def close_for_thread(
        self, thread_id: str, *, tenant_id: str, status: InterruptStatus, now: datetime
    ) -> int:
        stmt = (
            update(Interrupt)
            .where(
                Interrupt.thread_id == thread_id,
                Interrupt.tenant_id == tenant_id,
                Interrupt.status == PENDING,
            )
            .values(status=status.value, resolved_at=now)
            .execution_options(synchronize_session=False)
        )
        result = await self.session.execute(stmt)
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def get(self, row_id: str, *, tenant_id: str) -> Interrupt | None:
        stmt = select(Interrupt).where(Interrupt.id == row_id, Interrupt.tenant_id == tenant_id)
        return (await self.session.scalars(stmt)).one_or_none()
