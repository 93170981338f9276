"""R4 (graceful shutdown).

Ten ``slow_steps`` runs of 4 s (8 ticks of 0.5 s) on ten threads fill the cluster's 8 worker
slots (2 workers x 4) and leave 2 pending. When the worker holding the most runs is busy,
it gets SIGTERM (its grace is 30 s). While it drains, the test polls the ledger every
50 ms for runs it claims after the signal. Pass: it claims nothing later than 1 s after
the signal, exits with 0 within 30 s, the 10 runs all succeed (each tick written once, by
attempt 1: no duplicate effect), and the invariants hold.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import pytest

from tests.reliability.harness import Cluster, Driver, check_invariants, log, timeout

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(timeout(300, 600))]

RUNS = 10
STEPS, SECONDS = 8, 0.5
GRACE = 30.0


async def _inflight(cluster: Cluster, run_ids: list[str]) -> list[tuple[Any, ...]]:
    return await cluster.asql(
        "SELECT run_id, status, lease_owner, started_at FROM runs WHERE run_id = ANY(%s)",
        (run_ids,),
    )


async def test_r4_graceful_shutdown(cluster: Cluster, driver: Driver) -> None:
    run_ids: list[str] = []
    for n in range(RUNS):
        thread_id = await driver.create_thread(api=n)
        reply = await driver.start_run(
            thread_id, "slow_steps", {"steps": STEPS, "seconds": SECONDS, "ticks": 0}, api=n
        )
        run_ids.append(str(reply.json()["run_id"]))

    slots = cluster.worker_count * cluster.concurrency

    async def slots_full() -> bool:
        rows = await _inflight(cluster, run_ids)
        return sum(1 for r in rows if r[1] == "running") >= min(slots, RUNS)

    await driver.wait_for("every worker slot busy", slots_full, timeout=30, every=0.05)
    rows = await _inflight(cluster, run_ids)
    holders = Counter(cluster.holder(r[2]) for r in rows if r[1] == "running")
    holders.pop(None, None)
    index = holders.most_common(1)[0][0]
    proc = cluster.workers[index]
    owner_suffix = f"-{proc.pid}"
    (signalled_at,) = (await cluster.asql("SELECT clock_timestamp()"))[0]
    signalled = time.monotonic()
    cluster.term_worker(index)

    late_claims: set[str] = set()
    exit_code: int | None = None
    while time.monotonic() - signalled < GRACE + 5:
        for run_id, status, owner, started_at in await _inflight(cluster, run_ids):
            if (
                status == "running"
                and (owner or "").endswith(owner_suffix)
                and (started_at - signalled_at).total_seconds() > 1.0
            ):
                late_claims.add(run_id)
        exit_code = proc.popen.poll()
        if exit_code is not None:
            break
        await asyncio.sleep(0.05)
    exited_after = time.monotonic() - signalled
    log(
        f"R4: SIGTERM to worker {index} holding {holders[index]} runs; exited with {exit_code} "
        f"after {exited_after:.1f}s; runs it claimed more than 1 s after the signal: "
        f"{len(late_claims)}"
    )
    try:
        assert exit_code == 0, f"worker still running or failed ({exit_code}):\n{proc.log_tail()}"
        assert exited_after <= GRACE
        assert not late_claims, late_claims

        for run_id in run_ids:
            row = await driver.wait_run(run_id, ["success", "error"], timeout=60)
            assert row["status"] == "success", row
            assert row["attempt"] == 1, row
        for run_id in run_ids:
            (thread_id,) = (
                await cluster.asql("SELECT thread_id FROM runs WHERE run_id = %s", (run_id,))
            )[0]
            values = (await driver.api().get(f"/threads/{thread_id}")).json()["values"]
            ticks = [d for d in values["done"] if d["run_id"] == run_id]
            assert len(ticks) == STEPS, ticks  # every tick once: nothing ran twice
            assert {d["attempt"] for d in ticks} == {1}, ticks
    finally:
        await cluster.arestart_worker(index)
    await check_invariants(cluster)
