"""The run ledger: create, claim with a lease and a fencing token, renew, finish, reap."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, or_, select, text, tuple_, update

from service.domain.runs import INFLIGHT, RunStatus
from service.models import Run, Thread
from service.store.base import Repository


@dataclass(frozen=True, slots=True)
class Lease:
    run_id: str
    fence: int


@dataclass(frozen=True, slots=True)
class Renewal:
    run_id: str
    cancel_requested: str | None


_RUN_COLUMNS = [column.name for column in Run.__table__.columns]
_RUN_ATTRS = {c.name: attr.key for attr in Run.__mapper__.column_attrs for c in attr.columns}


def run_from_row(row: Any) -> Run:
    """A ``Run`` from a ``RETURNING``/``SELECT`` row of every column (no ORM query)."""
    return Run(**{_RUN_ATTRS[name]: row[name] for name in _RUN_COLUMNS})


# A run is claimable when it is pending and due, its thread runs nothing, and it is the
# oldest pending run of its thread.
_CLAIMABLE = """
      r.status = 'pending' AND r.available_at <= :now{crashed}
      AND NOT EXISTS (SELECT 1 FROM runs x WHERE x.thread_id = r.thread_id AND x.status = 'running')
      AND NOT EXISTS (
        SELECT 1 FROM runs o WHERE o.thread_id = r.thread_id AND o.status = 'pending'
          AND (o.created_at < r.created_at
               OR (o.created_at = r.created_at AND o.run_id < r.run_id)))
"""
# Fair across tenants (R17): a tenant's n-th oldest claimable run has turn n plus the number
# of its runs running now, and turns go lowest first (then oldest): a tenant that floods the
# queue takes the slots others leave, never the next one another tenant's run is waiting for.
# Postgres: each tenant's oldest candidates are locked SKIP LOCKED as they are found, so
# workers claiming at once never wait for each other nor all pick the same rows.
_FAIR_POSTGRES = """
    SELECT c.run_id FROM (
      SELECT DISTINCT tenant_id FROM runs WHERE status = 'pending' AND available_at <= :now
    ) t
    CROSS JOIN LATERAL (
      SELECT r.run_id, r.available_at, r.created_at FROM runs r
      WHERE r.tenant_id = t.tenant_id AND {claimable}
      ORDER BY r.available_at, r.created_at LIMIT :limit FOR UPDATE SKIP LOCKED
    ) c
    LEFT JOIN (
      SELECT tenant_id, count(*) AS n FROM runs WHERE status = 'running' GROUP BY tenant_id
    ) b ON b.tenant_id = t.tenant_id
    ORDER BY coalesce(b.n, 0)
      + row_number() OVER (PARTITION BY t.tenant_id ORDER BY c.available_at, c.created_at),
      c.available_at, c.created_at
    LIMIT :limit
"""
_FAIR_SQLITE = """
    SELECT run_id FROM (
      SELECT r.run_id, r.available_at, r.created_at,
        (SELECT count(*) FROM runs b WHERE b.tenant_id = r.tenant_id AND b.status = 'running')
        + row_number() OVER (PARTITION BY r.tenant_id ORDER BY r.available_at, r.created_at)
        AS turn
      FROM runs r WHERE {claimable}
    ) ORDER BY turn, available_at, created_at LIMIT :limit
"""
_CLAIM = """
    UPDATE runs SET status = 'running', attempt = attempt + 1, fence = fence + 1,
      lease_owner = :worker, lease_expires_at = :expires, started_at = {started},
      updated_at = {started}
    WHERE run_id IN ({candidate}) AND status = 'pending'
    RETURNING {columns}
"""


# Which runs a worker process claims (``WorkerConfig.claims``): a supervised worker's main
# process never takes a run that crashed a process; its quarantine process takes only those.
_CRASHED = {"any": "", "clean": " AND r.crashes = 0", "crashed": " AND r.crashes > 0"}


def _claim_statement(*, postgres: bool, claims: str) -> Any:
    columns = ", ".join(f'"{name}"' for name in _RUN_COLUMNS)
    claimable = _CLAIMABLE.format(crashed=_CRASHED[claims])
    candidate = (_FAIR_POSTGRES if postgres else _FAIR_SQLITE).format(claimable=claimable)
    started = "clock_timestamp()" if postgres else ":now"
    sql = _CLAIM.format(started=started, candidate=candidate, columns=columns)
    table = Run.__table__.c
    return (
        text(sql)
        .bindparams(
            bindparam("now", type_=table.available_at.type),
            bindparam("expires", type_=table.lease_expires_at.type),
            bindparam("limit"),
        )
        .columns(*Run.__table__.columns)
    )


_CLAIMS = {
    (postgres, claims): _claim_statement(postgres=postgres, claims=claims)
    for postgres in (True, False)
    for claims in _CRASHED
}


_GET = select(Run).where(Run.run_id == bindparam("run_id"), Run.tenant_id == bindparam("tenant_id"))
_GET_OF_THREAD = _GET.where(Run.thread_id == bindparam("thread_id"))
_INFLIGHT = (
    select(Run)
    .where(
        Run.thread_id == bindparam("thread_id"),
        Run.tenant_id == bindparam("tenant_id"),
        Run.status.in_(INFLIGHT),
    )
    .order_by(Run.created_at, Run.run_id)
)


_FINISH = (
    update(Run)
    .where(
        Run.run_id == bindparam("b_run_id"),
        Run.fence == bindparam("b_fence"),
        Run.status == RunStatus.running.value,
    )
    .values(
        status=bindparam("b_status"),
        error=bindparam("b_error", type_=Run.__table__.c.error.type),
        output=bindparam("b_output", type_=Run.__table__.c.output.type),
        ended_at=bindparam("b_now"),
        updated_at=bindparam("b_now"),
        lease_owner=None,
        lease_expires_at=None,
    )
    .execution_options(synchronize_session=False)
)
_FINISH_UNLESS_ROLLBACK = _FINISH.where(
    or_(Run.cancel_requested.is_(None), Run.cancel_requested != "rollback")
)


class RunRepository(Repository):
    def add(self, run: Run) -> None:
        self.session.add(run)

    async def get(self, run_id: str, *, tenant_id: str, thread_id: str | None = None) -> Run | None:
        params = {"run_id": run_id, "tenant_id": tenant_id}
        if thread_id is None:
            return (await self.session.scalars(_GET, params)).one_or_none()
        params["thread_id"] = thread_id
        return (await self.session.scalars(_GET_OF_THREAD, params)).one_or_none()

    async def get_by_id(self, run_id: str) -> Run | None:
        """Worker-side read: the worker acts for whichever tenant owns the run it claimed."""
        return await self.session.get(Run, run_id)

    async def cancel_requested(self, run_id: str) -> str | None:
        """The cancel action asked of a run (``interrupt``/``rollback``), if any."""
        stmt = select(Run.cancel_requested).where(Run.run_id == run_id)
        return (await self.session.scalars(stmt)).one_or_none()

    async def list_for_thread(
        self,
        thread_id: str,
        *,
        tenant_id: str,
        limit: int = 10,
        offset: int = 0,
        status: str | None = None,
    ) -> list[Run]:
        stmt = select(Run).where(Run.thread_id == thread_id, Run.tenant_id == tenant_id)
        if status:
            stmt = stmt.where(Run.status == status)
        stmt = stmt.order_by(Run.created_at.desc(), Run.run_id.desc()).limit(limit).offset(offset)
        return list((await self.session.scalars(stmt)).all())

    async def inflight(self, thread_id: str, *, tenant_id: str) -> list[Run]:
        params = {"thread_id": thread_id, "tenant_id": tenant_id}
        return list((await self.session.scalars(_INFLIGHT, params)).all())

    async def inflight_for_tenant(
        self, *, tenant_id: str, statuses: tuple[str, ...], limit: int
    ) -> list[Run]:
        """The tenant's runs in ``statuses`` (a bulk cancel), oldest first."""
        stmt = (
            select(Run)
            .where(Run.tenant_id == tenant_id, Run.status.in_(statuses))
            .order_by(Run.created_at, Run.run_id)
            .limit(limit)
        )
        return list((await self.session.scalars(stmt)).all())

    async def inflight_ids(self, thread: Thread) -> list[str]:
        """The ids of the thread's runs in flight: as read with the thread's lock when they
        were (``Thread.inflight_ids``), else read now."""
        if thread.inflight_ids is not None:
            return thread.inflight_ids
        return [r.run_id for r in await self.inflight(thread.thread_id, tenant_id=thread.tenant_id)]

    async def claim(
        self,
        worker_id: str,
        *,
        now: datetime,
        lease_ttl: float,
        limit: int = 1,
        claims: str = "any",
    ) -> list[Run]:
        """Take up to ``limit`` claimable runs (pending, due, first in their thread, thread
        not running: no two share a thread), fairly across tenants, then oldest first.

        One prebuilt statement (the hot path of every run): on Postgres the candidate rows are
        locked ``SKIP LOCKED`` and ``started_at`` is the time the claim ran, not the time the
        worker asked, so a run claimed right after its thread's previous run committed never
        appears to overlap it. Fewer than ``limit`` runs means none more was claimable.
        ``claims``: ``any`` run, only ``clean`` ones (no crash) or only ``crashed`` ones.
        """
        stmt = _CLAIMS[(self.postgres, claims)]
        params = {
            "worker": worker_id,
            "now": now,
            "expires": now + timedelta(seconds=lease_ttl),
            "limit": limit,
        }
        rows = (await self.session.execute(stmt, params)).mappings().all()
        runs = [run_from_row(row) for row in rows]
        runs.sort(key=lambda run: (run.available_at, run.created_at))
        return runs

    async def renew(
        self, worker_id: str, leases: list[Lease], *, now: datetime, lease_ttl: float
    ) -> list[Renewal]:
        """Extend the leases this worker still holds; the ones missing were taken over."""
        if not leases:
            return []
        stmt = (
            update(Run)
            .where(
                tuple_(Run.run_id, Run.fence).in_(
                    [(lease.run_id, lease.fence) for lease in leases]
                ),
                Run.lease_owner == worker_id,
                Run.status == RunStatus.running.value,
            )
            .values(lease_expires_at=now + timedelta(seconds=lease_ttl))
            .returning(Run.run_id, Run.cancel_requested)
            .execution_options(synchronize_session=False)
        )
        rows = (await self.session.execute(stmt)).all()
        return [Renewal(run_id=row[0], cancel_requested=row[1]) for row in rows]

    async def _end_lease(self, run_id: str, fence: int, *, now: datetime, **values: Any) -> bool:
        """End the lease of the attempt holding ``fence``; False when fenced out.

        Every write that ends an attempt goes through here (or ``finish``, the same update
        built once), guarded by the fencing token and ``status = 'running'``: a stale
        attempt, or one already reaped, changes nothing.
        """
        stmt = (
            update(Run)
            .where(Run.run_id == run_id, Run.fence == fence, Run.status == RunStatus.running.value)
            .values(lease_owner=None, lease_expires_at=None, updated_at=now, **values)
            .execution_options(synchronize_session=False)
        )
        result = await self.session.execute(stmt)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def finish(
        self,
        lease: Lease,
        *,
        status: RunStatus,
        error: Any,
        now: datetime,
        output: Any = None,
        unless_rollback: bool = False,
    ) -> bool:
        """Record the end of the attempt holding ``lease``; False when fenced out (or, with
        ``unless_rollback``, when a rollback was requested: ``cancel_requested`` tells)."""
        params = {
            "b_run_id": lease.run_id,
            "b_fence": lease.fence,
            "b_status": status.value,
            "b_error": error,
            "b_output": output,
            "b_now": now,
        }
        stmt = _FINISH_UNLESS_ROLLBACK if unless_rollback else _FINISH
        result = await self.session.execute(stmt, params)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def release(self, lease: Lease, *, now: datetime) -> bool:
        """Give a run back to the queue (graceful shutdown); the attempt does not count."""
        return await self._end_lease(
            lease.run_id,
            lease.fence,
            now=now,
            status=RunStatus.pending.value,
            attempt=Run.attempt - 1,
            available_at=now,
        )

    async def expire_crashed(self, worker_id: str, *, now: datetime) -> int:
        """The runs a dead process of ``worker_id`` held: count the crash and end the lease
        now, so the reaper hands them on at once (or fails them at the attempt cap)."""
        stmt = (
            update(Run)
            .where(Run.lease_owner == worker_id, Run.status == RunStatus.running.value)
            .values(lease_expires_at=now, crashes=Run.crashes + 1)
            .execution_options(synchronize_session=False)
        )
        result = await self.session.execute(stmt)
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def crashed_waiting(self) -> bool:
        """Whether a crashed run waits for a quarantine process."""
        stmt = (
            select(Run.run_id)
            .where(Run.status == RunStatus.pending.value, Run.crashes > 0)
            .limit(1)
        )
        return (await self.session.scalars(stmt)).first() is not None

    async def expired(self, *, now: datetime, limit: int = 100) -> list[Run]:
        """Running runs whose lease ran out (read without locks: every change is fenced)."""
        stmt = (
            select(Run)
            .where(Run.status == RunStatus.running.value, Run.lease_expires_at < now)
            .order_by(Run.lease_expires_at)
            .limit(limit)
        )
        return list((await self.session.scalars(stmt)).all())

    async def requeue(self, run: Run, *, now: datetime) -> bool:
        """The reaper gives an expired run back to the queue (its next claim bumps the fence)."""
        return await self._end_lease(
            run.run_id, run.fence, now=now, status=RunStatus.pending.value, available_at=now
        )

    async def fail(self, run: Run, *, error: Any, now: datetime) -> bool:
        """The reaper ends a run that used up its attempts."""
        return await self._end_lease(
            run.run_id, run.fence, now=now, status=RunStatus.error.value, error=error, ended_at=now
        )

    async def cancel_pending(self, run_id: str, *, now: datetime) -> bool:
        stmt = (
            update(Run)
            .where(Run.run_id == run_id, Run.status == RunStatus.pending.value)
            .values(status=RunStatus.interrupted.value, ended_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        result = await self.session.execute(stmt)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def delete_pending(self, run_id: str) -> bool:
        stmt = delete(Run).where(Run.run_id == run_id, Run.status == RunStatus.pending.value)
        result = await self.session.execute(stmt)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def request_cancel(self, run_id: str, action: str, *, now: datetime) -> bool:
        stmt = (
            update(Run)
            .where(Run.run_id == run_id, Run.status == RunStatus.running.value)
            .values(cancel_requested=action, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        result = await self.session.execute(stmt)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def delete(self, run_id: str, *, tenant_id: str) -> bool:
        stmt = delete(Run).where(Run.run_id == run_id, Run.tenant_id == tenant_id)
        result = await self.session.execute(stmt)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def delete_for_thread(self, thread_id: str, *, tenant_id: str) -> None:
        stmt = delete(Run).where(Run.thread_id == thread_id, Run.tenant_id == tenant_id)
        await self.session.execute(stmt)

    async def count_by_status(self, *, now: datetime) -> dict[tuple[str, str], int]:
        """(tenant, status) -> runs in flight; ``pending`` counts only runs already due."""
        due = or_(Run.status == RunStatus.running.value, Run.available_at <= now)
        stmt = (
            select(Run.tenant_id, Run.status, func.count())
            .where(Run.status.in_(INFLIGHT), due)
            .group_by(Run.tenant_id, Run.status)
        )
        return {(row[0], row[1]): int(row[2]) for row in (await self.session.execute(stmt)).all()}
