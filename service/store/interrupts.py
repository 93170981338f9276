"""The pending-interrupt index (the reviewer's inbox reads this, never checkpoints)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, and_, bindparam, func, or_, select, tuple_, update
from sqlalchemy.orm.attributes import set_committed_value

from service.domain.interrupts import TYPE_JOIN, InboxEntry, InterruptStatus
from service.models import Interrupt, Thread
from service.store.base import Repository

PENDING = InterruptStatus.pending.value
AnySelect = TypeVar("AnySelect", bound=Select[*tuple[Any, ...]])


_PENDING_FOR_THREADS = (
    select(Interrupt)
    .where(
        Interrupt.tenant_id == bindparam("tenant_id"),
        Interrupt.thread_id.in_(bindparam("thread_ids", expanding=True)),
        Interrupt.status == PENDING,
    )
    .order_by(Interrupt.created_at, Interrupt.id)
)


class InterruptRepository(Repository):
    def add(self, row: Interrupt) -> None:
        self.session.add(row)

    async def pending_for_threads(
        self, thread_ids: Sequence[str], *, tenant_id: str
    ) -> list[Interrupt]:
        if not thread_ids:
            return []
        params = {"tenant_id": tenant_id, "thread_ids": list(thread_ids)}
        return list((await self.session.scalars(_PENDING_FOR_THREADS, params)).all())

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

    @staticmethod
    def mark(row: Interrupt, status: InterruptStatus) -> None:
        """Show ``row`` with the status ``close`` gave it, without another UPDATE."""
        set_committed_value(row, "status", status.value)

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

    async def inbox_history(self, thread_id: str, *, tenant_id: str) -> list[Interrupt]:
        """Every review item a thread ever had, oldest first."""
        stmt = (
            select(Interrupt)
            .where(Interrupt.tenant_id == tenant_id, Interrupt.thread_id == thread_id)
            .order_by(Interrupt.created_at, Interrupt.id)
        )
        return list((await self.session.scalars(stmt)).all())

    async def awaiting_resume(
        self, thread_id: str, run_ids: Sequence[str], *, tenant_id: str
    ) -> list[Interrupt]:
        """Resolved rows whose resume run has not run yet: the checkpoint still shows them."""
        if not run_ids:
            return []
        stmt = select(Interrupt).where(
            Interrupt.tenant_id == tenant_id,
            Interrupt.thread_id == thread_id,
            Interrupt.status == InterruptStatus.resolved.value,
            Interrupt.resume_run_id.in_(list(run_ids)),
        )
        return list((await self.session.scalars(stmt)).all())

    async def void_unconsumed(
        self, thread_id: str, run_id: str, interrupt_ids: Sequence[str], *, tenant_id: str
    ) -> int:
        """Decisions carried by ``run_id`` whose interrupts the checkpoint still shows pending
        (the run ended before acting on them) become ``voided``; returns how many."""
        stmt = (
            update(Interrupt)
            .where(
                Interrupt.tenant_id == tenant_id,
                Interrupt.thread_id == thread_id,
                Interrupt.status == InterruptStatus.resolved.value,
                Interrupt.resume_run_id == run_id,
                Interrupt.interrupt_id.in_(list(interrupt_ids)),
            )
            .values(status=InterruptStatus.voided.value)
            .execution_options(synchronize_session=False)
        )
        result = await self.session.execute(stmt)
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def pending_batch_types(self, tenant_id: str) -> list[str]:
        """Types of pending batches of several tools (``a+b``): a filter on one tool, or on
        what a reviewer may decide, is widened to the batches it covers."""
        stmt = (
            select(Interrupt.type)
            .distinct()
            .where(
                Interrupt.tenant_id == tenant_id,
                Interrupt.status == "pending",
                Interrupt.type.like(f"%{TYPE_JOIN}%"),
            )
        )
        return list((await self.session.scalars(stmt)).all())

    async def inbox(self, query: InboxQuery) -> list[InboxEntry]:
        """One page of a tenant's pending interrupts, filtered and ordered in SQL.

        Plain rows, not ORM objects: a page of 50 is read in about a millisecond.
        """
        columns = [
            Interrupt.id,
            Interrupt.thread_id,
            Interrupt.interrupt_id,
            Interrupt.task_id,
            Interrupt.node,
            Interrupt.run_id,
            Interrupt.graph_id,
            Interrupt.type,
            Interrupt.status,
            Interrupt.description,
            Interrupt.value,
            Interrupt.agent_inbox,
            Interrupt.allowed,
            Interrupt.payload_hash,
            Interrupt.checkpoint_id,
            Interrupt.created_at,
            Interrupt.expires_at,
            Thread.owner,
            Thread.status,
            Thread.metadata_,
        ]
        stmt = (
            select(*columns)
            .join(Thread, Thread.thread_id == Interrupt.thread_id)
            .where(Interrupt.tenant_id == query.tenant_id, Interrupt.status == PENDING)
        )
        stmt = self._inbox_filters(stmt, query)
        if query.after is not None:  # keyset pagination on (created_at, id)
            key, after = tuple_(Interrupt.created_at, Interrupt.id), tuple_(*query.after)
            stmt = stmt.where(key < after if query.descending else key > after)
        if query.descending:
            stmt = stmt.order_by(Interrupt.created_at.desc(), Interrupt.id.desc())
        else:
            stmt = stmt.order_by(Interrupt.created_at.asc(), Interrupt.id.asc())
        rows = (await self.session.execute(stmt.limit(query.limit))).all()
        return [InboxEntry(*row) for row in rows]

    def _inbox_filters(self, stmt: AnySelect, query: InboxQuery) -> AnySelect:
        if query.types is not None:
            stmt = stmt.where(Interrupt.type.in_(sorted(query.types)))
        if query.graph_id:
            stmt = stmt.where(Interrupt.graph_id == query.graph_id)
        if query.thread_owner is not None:
            stmt = stmt.where(Thread.owner == query.thread_owner)
        if query.not_owner is not None:
            stmt = stmt.where(Thread.owner != query.not_owner)
        if query.decidable is not None:
            any_types, own_types, me = query.decidable
            if any_types is not None:  # None: every type, on any thread
                mine = Thread.owner == me
                own_clause = (
                    mine if own_types is None else and_(Interrupt.type.in_(sorted(own_types)), mine)
                )
                stmt = stmt.where(or_(Interrupt.type.in_(sorted(any_types)), own_clause))
        if query.metadata:
            stmt = stmt.where(self.json_contains(Thread.metadata_, query.metadata))
        if query.created_before is not None:
            stmt = stmt.where(Interrupt.created_at < query.created_before)
        if query.created_after is not None:
            stmt = stmt.where(Interrupt.created_at > query.created_after)
        return stmt

    async def counts(self, query: InboxQuery) -> dict[str, int]:
        stmt = (
            select(Interrupt.type, func.count())
            .join(Thread, Thread.thread_id == Interrupt.thread_id)
            .where(Interrupt.tenant_id == query.tenant_id, Interrupt.status == PENDING)
        )
        stmt = self._inbox_filters(stmt, query).group_by(Interrupt.type)
        return {str(row[0]): int(row[1]) for row in (await self.session.execute(stmt)).all()}

    async def expiring(self, *, now: datetime, limit: int = 100) -> list[Interrupt]:
        """Pending interrupts past their expiry (read without locks; closing is guarded)."""
        stmt = (
            select(Interrupt)
            .where(
                Interrupt.status == PENDING,
                Interrupt.expires_at.is_not(None),
                Interrupt.expires_at <= now,
            )
            .order_by(Interrupt.expires_at)
            .limit(limit)
        )
        return list((await self.session.scalars(stmt)).all())

    async def pending_count(self) -> dict[tuple[str, str], tuple[int, datetime | None]]:
        """(tenant, type) -> (pending count, oldest created_at), for metrics."""
        stmt = (
            select(
                Interrupt.tenant_id, Interrupt.type, func.count(), func.min(Interrupt.created_at)
            )
            .where(Interrupt.status == PENDING)
            .group_by(Interrupt.tenant_id, Interrupt.type)
        )
        return {
            (str(r[0]), str(r[1])): (int(r[2]), r[3])
            for r in (await self.session.execute(stmt)).all()
        }


@dataclass(frozen=True)
class InboxQuery:
    tenant_id: str
    limit: int = 50
    descending: bool = False
    after: tuple[datetime, str] | None = None
    types: frozenset[str] | None = None
    graph_id: str | None = None
    metadata: dict[str, Any] | None = None
    created_before: datetime | None = None
    created_after: datetime | None = None
    thread_owner: str | None = None  # callers who may read only their own threads
    not_owner: str | None = None  # four-eyes: never offer a reviewer their own threads
    # (types on any thread, types on own threads, the caller); None in either: every type
    decidable: tuple[frozenset[str] | None, frozenset[str] | None, str] | None = None
