"""R7 (Postgres connections killed).

``slow_steps`` runs of 0.05 s start at 10 per second on new threads (alternating API
processes) while every 2 s ``pg_terminate_backend`` ends every connection of the cluster's
database except the killer's own: the APIs' and workers' SQLAlchemy pools, their checkpoint
pools, the policy loaders and listeners. The fault lasts 30 s in CI and 60 s under
``HITL_FULL=1``. Pass: every answer is a 202 or a 503 with ``Retry-After``, 503s are at most
5 % of the requests and there is no 500; every accepted run succeeds (none lost); requests
made from 5 s after the fault ends all succeed (the pools recovered); the invariants hold.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter

import psycopg
import pytest

from tests.reliability.harness import (
    FULL,
    T_REC,
    Answer,
    Cluster,
    Driver,
    check_invariants,
    log,
    timeout,
)

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(timeout(300, 600))]

RATE = 10.0
KILL_EVERY = 2.0
FAULT_SECONDS = 60.0 if FULL else 30.0
RECOVERY = 5.0


def _summary(answers: list[Answer]) -> str:
    codes = Counter(a.status for a in answers)
    bare = sum(1 for a in answers if a.status == 503 and a.retry_after is None)
    return f"{dict(codes)} ({bare} 503 without Retry-After)"


async def _kill_connections(cluster: Cluster, stop: asyncio.Event) -> int:
    killed = 0
    async with await psycopg.AsyncConnection.connect(cluster.dsn, autocommit=True) as conn:
        while not stop.is_set():
            cursor = await conn.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            row = await cursor.fetchone()
            killed += int(row[0]) if row else 0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), KILL_EVERY)
    return killed


async def test_r7_postgres_connections_killed(cluster: Cluster, driver: Driver) -> None:
    stop = asyncio.Event()
    killer = asyncio.create_task(_kill_connections(cluster, stop))
    try:
        during = await driver.paced_runs(RATE, FAULT_SECONDS, "r7")
    finally:
        stop.set()
        killed = await killer
    await asyncio.sleep(RECOVERY)
    after = await driver.paced_runs(RATE, 5.0, "r7")
    log(
        f"R7: {FAULT_SECONDS:.0f}s of kills every {KILL_EVERY:.0f}s ({killed} connections "
        f"ended); during: {_summary(during)}; from {RECOVERY:.0f}s after: {_summary(after)}"
    )
    codes = Counter(a.status for a in during)
    assert set(codes) <= {202, 503}, codes
    assert all(a.retry_after is not None for a in during if a.status == 503), _summary(during)
    assert codes[503] <= 0.05 * len(during), codes
    assert killed >= FAULT_SECONDS / KILL_EVERY, killed  # the fault did hit the pools
    assert all(a.status == 202 for a in after), _summary(after)

    accepted = [a.run_id for a in during + after if a.run_id is not None]

    async def all_done() -> bool:
        rows = await cluster.asql(
            "SELECT count(*) FROM runs WHERE run_id = ANY(%s) "
            "AND status NOT IN ('pending', 'running')",
            (accepted,),
        )
        return int(rows[0][0]) == len(accepted)

    await driver.wait_for("every accepted run ended", all_done, timeout=60 + 3 * T_REC)
    statuses = dict(
        await cluster.asql(
            "SELECT status, count(*) FROM runs WHERE run_id = ANY(%s) GROUP BY 1", (accepted,)
        )
    )
    log(f"R7: {len(accepted)} accepted runs ended {statuses}")
    assert statuses == {"success": len(accepted)}, statuses
    await check_invariants(cluster)
