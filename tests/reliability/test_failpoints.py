"""R2 (worker crash inside the resume, at exact failpoints) and R13 (outbox atomicity).

R2: for each failpoint (``after_effect_before_checkpoint``, ``after_checkpoint_before_finalize``,
``after_finalize_before_ack``, ``mid_graph``) a thread waits at its interrupt; worker 0 is
restarted with ``HITL_FAILPOINTS=<point>=exit:137`` while worker 1 is ``SIGSTOP``ped, so
the resume can only run where the failpoint is armed. The decision is accepted (202), the
armed worker exits with 137 at the point, it is restarted without failpoints and worker 1
gets ``SIGCONT``. Pass: the resume run ends ``success``; exactly one ledger row per
(thread, interrupt); at most 2 sink calls per key, all with the same ``Idempotency-Key``.

R13: 100 threads (200 under HITL_FULL) run to their interrupt and are resumed (200 runs)
while a chaos loop kills workers with ``kill -9`` or restarts one armed with a random
failpoint (``exit:137``), restarting the dead ones. Pass: INV-7 (every finished run has its
``run.completed`` outbox event) and the other invariants.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from typing import Any

import pytest

from tests.reliability.harness import (
    FAILPOINTS,
    MAX_ATTEMPTS,
    T_REC,
    Cluster,
    Driver,
    check_invariants,
    iterations,
    log,
    timeout,
)

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(timeout(900, 2400))]

R2_POINTS = (
    "after_effect_before_checkpoint",
    "after_checkpoint_before_finalize",
    "after_finalize_before_ack",
    "mid_graph",
)


async def _crash_resume(
    cluster: Cluster, driver: Driver, thread_id: str, pending: dict[str, Any], point: str
) -> dict[str, Any]:
    armed = await cluster.arestart_worker(0, f"{point}=exit:137")
    cluster.stop_worker(1)
    try:
        reply = await driver.decide(
            pending["id"], pending["payload_hash"], key=f"r2-{pending['id']}", api=1
        )
        assert reply.status_code == 202, reply.text
        run_id = reply.json()["run"]["run_id"]
        # worker 1 is stopped and may have taken the bell's token: ring again
        cluster.redis_cli("LPUSH", "countersign:bell", "r2", "r2")
        started = time.monotonic()
        code = await asyncio.to_thread(armed.popen.wait, 30)
        crashed = time.monotonic()
    finally:
        cluster.cont_worker(1)
    assert code == 137, f"{point}: the armed worker exited with {code}:\n{armed.log_tail()}"
    await cluster.arestart_worker(0)
    row = await driver.wait_run(run_id, ["success", "error"], timeout=T_REC + 15)
    done = time.monotonic()
    return {
        "point": point,
        "thread_id": thread_id,
        "run_id": run_id,
        "status": row["status"],
        "attempt": row["attempt"],
        "crash_after": crashed - started,
        "recovered_after": done - crashed,
        "key": f"{thread_id}:{pending['interrupt_id']}",
    }


async def test_r2_crash_inside_the_resume(cluster: Cluster, driver: Driver) -> None:
    per_point = iterations(2, 5)
    plan = [point for _ in range(per_point) for point in R2_POINTS]
    started = await asyncio.gather(*(driver.start_pipeline(api=i) for i in range(len(plan))))
    threads = [thread_id for thread_id, _ in started]
    pending = await driver.wait_all_interrupted(threads, timeout=60)
    results = []
    for point, thread_id in zip(plan, threads, strict=True):
        result = await _crash_resume(cluster, driver, thread_id, pending[thread_id], point)
        log(
            "R2 {point}: crashed {crash_after:.1f}s after the decision, run {status} after "
            "{recovered_after:.1f}s more, attempts {attempt}".format(**result)
        )
        results.append(result)
    ledger = dict(cluster.sql("SELECT key, count(*) FROM side_effects GROUP BY key"))
    calls = Counter(r.headers.get("idempotency-key") for r in cluster.sink.requests("/effect"))
    for result in results:
        result["ledger"] = ledger.get(result["key"], 0)
        result["sink_calls"] = calls.get(result["key"], 0)
    summary = Counter((r["point"], r["status"], r["ledger"], r["sink_calls"]) for r in results)
    log(f"R2 (point, status, ledger rows, sink calls): {dict(summary)}")
    assert all(r["status"] == "success" for r in results), results
    assert all(r["ledger"] == 1 for r in results), results
    assert all(1 <= r["sink_calls"] <= 2 for r in results), results
    for r in results:
        expected_attempts = 1 if r["point"] == "after_finalize_before_ack" else 2
        assert r["attempt"] == expected_attempts, r
    await check_invariants(cluster, max_sink_calls=2)


# ---- R13 ---------------------------------------------------------------------------------


class Chaos:
    """Every 1.5-3 s: ``kill -9`` a worker, or restart one armed at the next failpoint.

    The failpoints are cycled (shuffled) so each fires; dead workers are restarted
    without failpoints by ``revive`` (also run every 0.5 s by the test).
    """

    def __init__(self, cluster: Cluster, rng: random.Random, events: int) -> None:
        self.cluster = cluster
        self.rng = rng
        self.events = events
        self.done = asyncio.Event()
        self.log: list[str] = []
        self.exits: Counter[str] = Counter()
        self.lock = asyncio.Lock()

    def _note(self, proc: Any) -> None:
        if not proc.alive() and proc.popen.returncode == 137 and proc.failpoints:
            self.exits[proc.failpoints.split("=")[0]] += 1

    async def run(self) -> None:
        points: list[str] = []
        for fired in range(self.events):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.done.wait(), self.rng.uniform(1.5, 3.0))
            if self.done.is_set():
                break
            async with self.lock:
                await self._revive()
                unarmed = [i for i, p in enumerate(self.cluster.workers) if not p.failpoints]
                index = self.rng.choice(unarmed or range(len(self.cluster.workers)))
                if fired % 4 == 3 or not unarmed:
                    self.cluster.kill_worker(index)
                    self.log.append(f"kill -9 worker {index}")
                    self.exits["kill -9"] += 1
                    continue
                if not points:
                    points = list(FAILPOINTS)
                    self.rng.shuffle(points)
                point = points.pop()
                self._note(self.cluster.workers[index])
                await self.cluster.arestart_worker(index, f"{point}=exit:137")
                self.log.append(f"worker {index} armed at {point}")

    async def _revive(self) -> None:
        for index, proc in enumerate(list(self.cluster.workers)):
            if not proc.alive():
                self._note(proc)
                await self.cluster.arestart_worker(index)

    async def revive(self) -> None:
        async with self.lock:
            await self._revive()

    async def disarm(self) -> None:
        async with self.lock:
            for index, proc in enumerate(list(self.cluster.workers)):
                if not proc.alive() or proc.failpoints:
                    self._note(proc)
                    await self.cluster.arestart_worker(index)


async def test_r13_outbox_under_random_failpoints(cluster: Cluster, driver: Driver) -> None:
    threads_count = iterations(100, 200)  # runs to the interrupt + as many resumes
    rng = random.Random(13)
    chaos = Chaos(cluster, rng, events=iterations(12, 30))
    stop = asyncio.Event()
    threads: list[str] = []
    resumed: dict[str, str] = {}

    async def reviver() -> None:
        while not stop.is_set():
            await chaos.revive()
            await asyncio.sleep(0.5)

    async def submitter() -> None:
        for batch in range(0, threads_count, 5):  # about 5 new threads a second
            started = await asyncio.gather(
                *(driver.start_pipeline(api=i) for i in range(batch, batch + 5))
            )
            threads.extend(t for t, _ in started)
            await asyncio.sleep(1.0)

    async def resumer() -> None:
        while not stop.is_set():
            rows = await cluster.asql(
                "SELECT i.thread_id, i.id, i.payload_hash FROM interrupts i "
                "JOIN threads t ON t.thread_id = i.thread_id "
                "WHERE i.status = 'pending' AND t.status = 'interrupted'"
            )
            todo = [r for r in rows if r[0] not in resumed]
            replies = await asyncio.gather(
                *(driver.decide(r[1], r[2], key=f"r13-{r[1]}", api=n) for n, r in enumerate(todo))
            )
            for row, reply in zip(todo, replies, strict=True):
                assert reply.status_code == 202, reply.text
                resumed[row[0]] = reply.json()["run"]["run_id"]
            # a thread whose first run failed for good (3 crashed attempts) is not resumed
            for (thread_id,) in await cluster.asql(
                "SELECT DISTINCT thread_id FROM runs WHERE status = 'error'"
            ):
                resumed.setdefault(thread_id, "")
            await asyncio.sleep(0.3)

    started_at = time.monotonic()
    tasks = [asyncio.create_task(job()) for job in (chaos.run, reviver, resumer)]
    try:
        await submitter()
        await driver.wait_for(
            "every thread resumed",
            lambda: _true(len(resumed) >= threads_count),
            timeout=300,
            every=0.5,
        )
        await driver.wait_for(
            "all resumes finished",
            lambda: _all_finished(cluster, [r for r in resumed.values() if r]),
            timeout=300,
            every=0.5,
        )
    finally:
        chaos.done.set()
        stop.set()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await chaos.disarm()
    elapsed = time.monotonic() - started_at
    statuses = dict(await cluster.asql("SELECT status, count(*) FROM runs GROUP BY 1"))
    attempts = dict(await cluster.asql("SELECT attempt, count(*) FROM runs GROUP BY 1"))
    log(f"R13 chaos: {chaos.log}")
    log(f"R13 worker exits: {dict(chaos.exits)}")
    log(f"R13 {sum(statuses.values())} runs in {elapsed:.0f}s: {statuses}, attempts {attempts}")
    # a run only fails when chaos crashed all three of its attempts
    errors = await cluster.asql("SELECT attempt FROM runs WHERE status = 'error'")
    assert all(a == MAX_ATTEMPTS for (a,) in errors), errors
    await check_invariants(cluster)


async def _true(value: bool) -> bool:
    return value


async def _all_finished(cluster: Cluster, run_ids: list[str]) -> bool:
    rows = await cluster.asql(
        "SELECT count(*) FROM runs WHERE run_id = ANY(%s) AND status IN ('success', 'error')",
        (run_ids,),
    )
    return int(rows[0][0]) == len(run_ids)
