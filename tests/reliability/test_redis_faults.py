"""R5 (Redis loses everything), R20 (the queue-depth gauge comes from Postgres) and R6
(Redis stalls).

R5: 8 resumes are running (``act`` sleeps 10 s) and 200 new runs are pending when the
cluster's own Redis is shut down with ``SHUTDOWN NOSAVE`` and started again empty (second
variant: ``FLUSHALL``). The bell is only a hint, workers poll the ledger, so everything
completes. Pass: 200/200 reach their interrupt and 8/8 resumes succeed with exactly one
effect each; drain time (from the fault to the last run's end) <= the unfaulted baseline
(same scenario, no fault) + 2 x the reaper interval + 2 s of scheduling slack.

R20: ``countersign_runs_pending_total`` (each API's ``/metrics``) is scraped every second
under a load that builds a queue of a few dozen runs and drains it, with a ``FLUSHALL``
half way. Method: a poller counts ``SELECT count(*) FROM runs WHERE status = 'pending' AND
available_at <= now()`` every 100 ms. The API samples its gauge once a second, so a scrape
at time t shows a count taken some time in (t - 1 s - one sampling query, t]; the scrape
passes when the gauge is within 1 of the range of the SQL counts taken in [t - 1.5 s, t] and
the last one before (the count moves between two polls, and a poll can come late under load:
a value the queue passed through between two samples is one it really had); scrapes earlier
than 1.5 s after the poller's first count are not judged. Pass: every scrape
passes, including those after the ``FLUSHALL``.

R6: see ``test_r6_redis_stalls``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest

from tests.reliability.harness import (
    REAPER_INTERVAL,
    T_REC,
    TENANT,
    Cluster,
    Driver,
    check_invariants,
    log,
    metric_sum,
    timeout,
)

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(timeout(600, 1200))]

RUNNING = 8
PENDING = 200
ACT_SECONDS = 10.0


async def _scenario(cluster: Cluster, driver: Driver, fault: str | None) -> dict[str, Any]:
    # 8 threads at their interrupt whose resume will sit in ``act`` for ACT_SECONDS
    started = await asyncio.gather(
        *(driver.start_pipeline(api=i, act_seconds=ACT_SECONDS) for i in range(RUNNING))
    )
    held = [t for t, _ in started]
    pending = await driver.wait_all_interrupted(held, timeout=60)
    replies = await asyncio.gather(
        *(
            driver.decide(p["id"], p["payload_hash"], key=f"r5-{p['id']}", api=n)
            for n, p in enumerate(pending.values())
        )
    )
    resumes = [r.json()["run"]["run_id"] for r in replies]
    assert all(r.status_code == 202 for r in replies)

    async def running_count() -> bool:
        rows = await cluster.asql(
            "SELECT count(*) FROM runs WHERE run_id = ANY(%s) AND status = 'running'", (resumes,)
        )
        return int(rows[0][0]) == RUNNING

    await driver.wait_for("8 resumes running", running_count, timeout=20, every=0.05)

    # 200 new runs, each on a new thread (created by the run: if_not_exists=create)
    async def submit(n: int) -> str:
        thread_id = f"{TENANT}:r5-{uuid.uuid4().hex}"
        reply = await driver.start_run(
            thread_id,
            "hitl_pipeline",
            {"request": {"tool_calls": 1}},
            api=n,
            if_not_exists="create",
        )
        return str(reply.json()["run_id"])

    fresh: list[str] = []
    for batch in range(0, PENDING, 50):
        fresh += await asyncio.gather(*(submit(n) for n in range(batch, batch + 50)))
    counts = dict(
        await cluster.asql(
            "SELECT status, count(*) FROM runs WHERE run_id = ANY(%s) GROUP BY 1",
            (fresh + resumes,),
        )
    )
    fault_at = time.monotonic()
    if fault == "shutdown":
        await asyncio.to_thread(cluster.redis_restart)
    elif fault == "flushall":
        await asyncio.to_thread(cluster.flushall)
    everything = fresh + resumes

    async def all_done() -> bool:
        rows = await cluster.asql(
            "SELECT count(*) FROM runs WHERE run_id = ANY(%s) AND status IN "
            "('success', 'error', 'timeout', 'interrupted')",
            (everything,),
        )
        return int(rows[0][0]) == len(everything)

    await driver.wait_for("all 208 runs done", all_done, timeout=120 + T_REC, every=0.1)
    drained = time.monotonic() - fault_at
    statuses = dict(
        await cluster.asql(
            "SELECT status, count(*) FROM runs WHERE run_id = ANY(%s) GROUP BY 1", (everything,)
        )
    )
    interrupted = await cluster.asql(
        "SELECT count(*) FROM runs r JOIN threads t ON t.thread_id = r.thread_id "
        "WHERE r.run_id = ANY(%s) AND r.status = 'success' AND t.status = 'interrupted'",
        (fresh,),
    )
    resumed_ok = await cluster.asql(
        "SELECT count(*) FROM runs WHERE run_id = ANY(%s) AND status = 'success'", (resumes,)
    )
    return {
        "fault": fault or "none",
        "at_fault": counts,
        "drain": drained,
        "statuses": statuses,
        "interrupted": int(interrupted[0][0]),
        "resumed": int(resumed_ok[0][0]),
    }


async def test_r5_redis_loses_everything(cluster: Cluster, driver: Driver) -> None:
    baseline = await _scenario(cluster, driver, None)
    log(f"R5 baseline: {baseline}")
    results = []
    for fault in ("shutdown", "flushall"):
        result = await _scenario(cluster, driver, fault)
        log(f"R5 {fault}: {result}")
        results.append(result)
    for result in (baseline, *results):
        assert result["at_fault"].get("running") == RUNNING, result
        assert result["at_fault"].get("pending", 0) >= PENDING - 8, result
        assert result["interrupted"] == PENDING, result
        assert result["resumed"] == RUNNING, result
    for result in results:
        limit = baseline["drain"] + 2 * REAPER_INTERVAL + 2.0
        assert result["drain"] <= limit, (
            f"{result['fault']}: drained in {result['drain']:.1f}s, baseline "
            f"{baseline['drain']:.1f}s"
        )
    await check_invariants(cluster, max_sink_calls=1)


# ---- R20 ---------------------------------------------------------------------------------


async def test_r20_queue_depth_gauge_tracks_postgres(cluster: Cluster, driver: Driver) -> None:
    sql_samples: list[tuple[float, int]] = []
    scrapes: list[tuple[float, int, float]] = []  # (time, api index, gauge)
    stop = asyncio.Event()

    async def poll_sql() -> None:
        import psycopg

        async with await psycopg.AsyncConnection.connect(cluster.dsn, autocommit=True) as conn:
            while not stop.is_set():
                cursor = await conn.execute(
                    "SELECT count(*) FROM runs WHERE status = 'pending' AND available_at <= now()"
                )
                row = await cursor.fetchone()
                assert row is not None
                sql_samples.append((time.monotonic(), int(row[0])))
                await asyncio.sleep(0.1)

    async def scrape() -> None:
        while not stop.is_set():
            for index in range(len(cluster.apis)):
                reply = await driver.api(index).get("/metrics")
                value = metric_sum(reply.text, "countersign_runs_pending_total")
                scrapes.append((time.monotonic(), index, value))
            await asyncio.sleep(1.0)

    async def load(seconds: float, rate: float) -> None:
        # 6 threads of 0.8 s runs drain at most 7.5 runs/s (one running run per thread);
        # runs start at ``rate`` whatever the API's latency, so a queue builds on any machine
        thread_ids = [await driver.create_thread(api=i) for i in range(6)]
        deadline = time.monotonic() + seconds
        started: list[asyncio.Task[httpx.Response]] = []
        n = 0
        while time.monotonic() < deadline:
            started.append(
                asyncio.create_task(
                    driver.start_run(
                        thread_ids[n % len(thread_ids)],
                        "slow_steps",
                        {"steps": 1, "seconds": 0.8, "ticks": 0},
                        api=n,
                    )
                )
            )
            n += 1
            await asyncio.sleep(1.0 / rate)
        await asyncio.gather(*started)

    tasks = [asyncio.create_task(poll_sql()), asyncio.create_task(scrape())]
    try:
        await asyncio.sleep(2.0)
        loader = asyncio.create_task(load(seconds=20, rate=14))
        await asyncio.sleep(11)
        flushed_at = time.monotonic()
        await asyncio.to_thread(cluster.flushall)
        log("R20: FLUSHALL")
        await loader

        async def drained() -> bool:
            return bool(sql_samples) and sql_samples[-1][1] == 0

        await driver.wait_for("queue drained", drained, timeout=120, every=0.5)
        await asyncio.sleep(3.0)
    finally:
        stop.set()
        for task in tasks:
            await task
    bad = []
    first_sql = sql_samples[0][0]
    for at, index, gauge in scrapes:
        if at - 1.5 < first_sql:
            continue  # the gauge may predate the poller (the previous test's queue)
        # the gauge read the count at some moment in [at - 1.5, at]; the count moves between
        # two polls, and a poll's timestamp (taken when its answer arrived) may lag its
        # snapshot under load, so the window is bracketed by the last sample before it and
        # the first sample after it
        before = [n for t, n in sql_samples if t < at - 1.5][-1:]
        after_it = [n for t, n in sql_samples if t > at][:1]
        window = before + [n for t, n in sql_samples if at - 1.5 <= t <= at] + after_it
        if not min(window) - 1 <= gauge <= max(window) + 1:
            bad.append((round(at - flushed_at, 1), index, gauge, min(window), max(window)))
    peak = max(n for _, n in sql_samples)
    after = [s for s in scrapes if s[0] > flushed_at]
    log(
        f"R20: {len(scrapes)} scrapes ({len(after)} after FLUSHALL), queue peak {peak}, "
        f"{len(bad)} outside the SQL counts around them +-1: {bad[:10]}"
    )
    assert peak >= 10, "the load did not build a queue"
    assert len(after) >= 10
    assert not bad
    await check_invariants(cluster)


# ---- R6 ----------------------------------------------------------------------------------


async def test_r6_redis_stalls(cluster: Cluster, driver: Driver) -> None:
    """10 runs/s for 20 s on new threads; 5 s in, ``CLIENT PAUSE 10000 ALL`` stalls Redis for
    10 s. Pass: ``POST /runs`` p99 <= 2 s (it answers after the Postgres commit; ringing the
    bell waits at most 200 ms), no 5xx, and every accepted run completes after the stall."""

    async def stall() -> None:
        await asyncio.sleep(5.0)
        await asyncio.to_thread(cluster.redis_cli, "CLIENT", "PAUSE", "10000", "ALL")
        log("R6: CLIENT PAUSE 10000 ALL")

    stalling = asyncio.create_task(stall())
    replies = await driver.paced_runs(10.0, 20.0, "r6")
    await stalling
    accepted = [a.run_id for a in replies if a.run_id is not None]

    async def all_done() -> bool:
        rows = await cluster.asql(
            "SELECT count(*) FROM runs WHERE run_id = ANY(%s) AND status = 'success'", (accepted,)
        )
        return int(rows[0][0]) == len(accepted)

    await driver.wait_for("every accepted run done", all_done, timeout=60 + T_REC, every=0.2)
    latencies = sorted(a.seconds for a in replies)
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    codes = Counter(a.status for a in replies)
    log(
        f"R6: {len(replies)} POST /runs, answers {codes}, p50 "
        f"{latencies[len(latencies) // 2] * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max "
        f"{latencies[-1] * 1000:.0f} ms; {len(accepted)} accepted, all completed"
    )
    assert codes == Counter({202: len(replies)}), codes
    assert p99 <= 2.0, p99
    await check_invariants(cluster)
