from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Select,
    bindparam,
    case,
    delete,
    func,
    literal_column,
    null,
    select,
    update,
)
from sqlalchemy.orm import aliased, load_only, undefer, with_expression

from service.domain.interrupts import InterruptStatus
from service.domain.runs import INFLIGHT, ThreadStatus
from service.models import Interrupt, Run, Thread
from service.models.base import utcnow
from service.store.base import Repository

_COLUMN_OF = {  # the table's columns (not query expressions such as ``inflight_runs``)
    attr.key: attr.columns[0]
    for attr in Thread.__mapper__.column_attrs
    if attr.columns[0].table is Thread.__table__
}
SORTABLE = {"thread_id", "status", "created_at", "updated_at", "state_updated_at"}


# hot statements are built once: building one costs more than running it
_GET = select(Thread).where(
    Thread.thread_id == bindparam("thread_id"), Thread.tenant_id == bindparam("tenant_id")
)
_GET_WITH_VIEW = _GET.options(undefer(Thread.state_view))
# A writer locks the row and reads the thread's runs in flight with it (``inflight_ids``):
# no run is added to a thread without the thread's lock and an update of its row (one that
# ends meanwhile may still be listed: callers treat the list as "maybe still in flight").
# On Postgres the list comes from the statement's snapshot, taken before the lock was
# granted: when the row changed in between (a writer held it), it is left out (NULL) and
# the caller reads the runs again, now after the lock.
_INFLIGHT_IDS = (
    select(func.coalesce(func.aggregate_strings(Run.run_id, ","), ""))
    .where(
        Run.thread_id == Thread.thread_id,
        Run.tenant_id == Thread.tenant_id,
        Run.status.in_(INFLIGHT),
    )
    .scalar_subquery()
)
_SEEN = aliased(Thread, name="seen")  # the row as the statement's snapshot has it
_UNCHANGED = literal_column("threads.xmin") == (
    select(literal_column("seen.xmin"))
    .where(_SEEN.thread_id == Thread.thread_id, _SEEN.tenant_id == Thread.tenant_id)
    .scalar_subquery()
)
_INFLIGHT_IDS_POSTGRES = case((_UNCHANGED, _INFLIGHT_IDS), else_=null())
_PENDING = (
    select(func.count())
    .where(
        Interrupt.thread_id == Thread.thread_id,
        Interrupt.tenant_id == Thread.tenant_id,
        Interrupt.status == InterruptStatus.pending.value,
    )
    .scalar_subquery()
)
_PENDING_POSTGRES = case((_UNCHANGED, _PENDING), else_=null())


def _locked(*columns: Any, postgres: bool) -> Select[Any]:
    options = [load_only(*columns)] if columns else []
    inflight = _INFLIGHT_IDS_POSTGRES if postgres else _INFLIGHT_IDS
    pending = _PENDING_POSTGRES if postgres else _PENDING
    stmt = _GET.options(
        *options,
        with_expression(Thread.inflight_runs, inflight),
        with_expression(Thread.pending_interrupts, pending),
    )
    stmt = stmt.execution_options(populate_existing=True)
    # SQLite's writer holds the whole database
    return stmt.with_for_update(of=Thread) if postgres else stmt


_GET_LOCKED = {pg: _locked(postgres=pg) for pg in (True, False)}
# the lock a run's finalize takes: the row's JSON (values, metadata, config) is not decoded
_LOCK = {
    pg: _locked(Thread.thread_id, Thread.tenant_id, Thread.owner, Thread.status, postgres=pg)
    for pg in (True, False)
}
_COLUMNS = Thread.__table__.c
_SET_STATUS = (
    update(Thread)
    .where(Thread.thread_id == bindparam("b_thread_id"), Thread.tenant_id == bindparam("b_tenant"))
    .values(status=bindparam("b_status"), updated_at=bindparam("b_updated_at"))
    .execution_options(synchronize_session=False)
)
_SET_STATE = _SET_STATUS.values(
    values=bindparam("b_values", type_=_COLUMNS["values"].type),
    error=bindparam("b_error", type_=_COLUMNS.error.type),
    state_view=bindparam("b_view", type_=_COLUMNS.state_view.type),
    state_updated_at=bindparam("b_state_updated_at"),
)
_SET_STATUS_STATE_UNKNOWN = _SET_STATUS.values(state_view=None)


class ThreadRepository(Repository):
    async def get(
        self, thread_id: str, *, tenant_id: str, lock: bool = False, with_view: bool = False
    ) -> Thread | None:
        """The thread; ``with_view`` also loads ``state_view`` (only get_state needs it)."""
        stmt = _GET_LOCKED[self.postgres] if lock else (_GET_WITH_VIEW if with_view else _GET)
        params = {"thread_id": thread_id, "tenant_id": tenant_id}
        return (await self.session.scalars(stmt, params)).one_or_none()

    async def lock(self, thread_id: str, *, tenant_id: str) -> Thread | None:
        """Lock the thread's row (Postgres; SQLite's writer holds the database) and load only
        its ids, owner, status and runs in flight: for writers that replace the rest."""
        stmt = _LOCK[self.postgres]
        params = {"thread_id": thread_id, "tenant_id": tenant_id}
        return (await self.session.scalars(stmt, params)).one_or_none()

    async def get_many(self, thread_ids: list[str], *, tenant_id: str) -> list[Thread]:
        if not thread_ids:
            return []
        stmt = select(Thread).where(Thread.thread_id.in_(thread_ids), Thread.tenant_id == tenant_id)
        return list((await self.session.scalars(stmt)).all())

    def add(self, thread: Thread) -> None:
        self.session.add(thread)

    async def add_new(self, thread: Thread) -> bool:
        """Insert ``thread`` unless its id exists (one statement); False when it did."""
        values = {c.name: getattr(thread, attr) for attr, c in _COLUMN_OF.items()}
        return await self.insert_ignore(Thread.__table__, [values]) == 1

    def _filtered(
        self,
        stmt: Select[Any],
        *,
        tenant_id: str,
        ids: list[str] | None,
        owner: str | None,
        status: str | None,
        metadata: dict[str, Any] | None,
        values: dict[str, Any] | None,
    ) -> Select[Any]:
        stmt = stmt.where(Thread.tenant_id == tenant_id)
        if owner is not None:
            stmt = stmt.where(Thread.owner == owner)
        if ids is not None:
            stmt = stmt.where(Thread.thread_id.in_(ids))
        if status:
            stmt = stmt.where(Thread.status == status)
        if metadata:
            stmt = stmt.where(self.json_contains(Thread.metadata_, metadata))
        if values:
            stmt = stmt.where(self.json_contains(Thread.values, values))
        return stmt

    async def search(
        self,
        *,
        tenant_id: str,
        ids: list[str] | None = None,
        owner: str | None = None,
        status: str | None = None,
        metadata: dict[str, Any] | None = None,
        values: dict[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
        sort_by: str = "created_at",
        descending: bool = True,
    ) -> list[Thread]:
        column = getattr(Thread, sort_by if sort_by in SORTABLE else "created_at")
        stmt = self._filtered(
            select(Thread),
            tenant_id=tenant_id,
            ids=ids,
            owner=owner,
            status=status,
            metadata=metadata,
            values=values,
        )
        order = column.desc() if descending else column.asc()
        stmt = stmt.order_by(order, Thread.thread_id).limit(limit).offset(offset)
        return list((await self.session.scalars(stmt)).all())

    async def count(
        self,
        *,
        tenant_id: str,
        owner: str | None = None,
        status: str | None = None,
        metadata: dict[str, Any] | None = None,
        values: dict[str, Any] | None = None,
    ) -> int:
        stmt = self._filtered(
            select(func.count()).select_from(Thread),
            tenant_id=tenant_id,
            ids=None,
            owner=owner,
            status=status,
            metadata=metadata,
            values=values,
        )
        return int((await self.session.execute(stmt)).scalar_one())

    async def set_state(
        self,
        thread_id: str,
        *,
        tenant_id: str,
        status: str,
        values: Any = None,
        error: Any = None,
        view: dict[str, Any] | None = None,
        set_values: bool = True,
        now: datetime | None = None,
    ) -> None:
        """The thread's status and, with ``set_values``, the state its checkpoints now hold
        (``view``: as get_state answers it, None when not known); without, the state is no
        longer known here (get_state reads the checkpoints)."""
        now = now or utcnow()
        params: dict[str, Any] = {
            "b_thread_id": thread_id,
            "b_tenant": tenant_id,
            "b_status": status,
            "b_updated_at": now,
        }
        if set_values:
            params.update(b_values=values, b_error=error, b_view=view, b_state_updated_at=now)
        stmt = _SET_STATE if set_values else _SET_STATUS_STATE_UNKNOWN
        await self.session.execute(stmt, params)

    async def delete(self, thread_id: str, *, tenant_id: str) -> bool:
        stmt = delete(Thread).where(Thread.thread_id == thread_id, Thread.tenant_id == tenant_id)
        result = await self.session.execute(stmt)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def claim_expired(self, now: datetime, limit: int) -> list[Thread]:
        """Threads of every tenant whose time to live is over and that are not running,
        oldest expiry first, locked for this transaction (Postgres: skipping those another
        worker holds; SQLite's writer holds the database)."""
        stmt = (
            select(Thread)
            .where(Thread.expires_at <= now, Thread.status != ThreadStatus.busy.value)
            .order_by(Thread.expires_at)
            .limit(limit)
        )
        if self.postgres:
            stmt = stmt.with_for_update(skip_locked=True)
        return list((await self.session.scalars(stmt)).all())

    async def with_metadata(
        self, metadata: dict[str, Any], *, tenant_id: str
    ) -> list[tuple[str, str]]:
        """(thread id, owner) of every tenant thread whose metadata contains ``metadata``."""
        columns = cast(Select[Any], select(Thread.thread_id, Thread.owner))
        stmt = self._filtered(
            columns,
            tenant_id=tenant_id,
            ids=None,
            owner=None,
            status=None,
            metadata=metadata,
            values=None,
        ).order_by(Thread.thread_id)
        return [(row.thread_id, row.owner) for row in await self.session.execute(stmt)]
