"""R9 (multitask strategies under 50 concurrent run requests) and R10 (racing resumes).

R9 uses ``slow_steps`` (no interrupt), one thread per strategy, requests spread over both
API processes:

* ``reject``: 50 concurrent ``POST /runs`` on an idle thread: one 202, 49 x 409.
* ``enqueue``: 50 concurrent requests, all 202, executed one after another in creation
  order (no two ``[started_at, ended_at]`` intervals overlap), checkpoints a linear chain.
* ``interrupt``: a first run is working (2 steps done) when 49 concurrent requests
  arrive: the first run ends ``interrupted`` and its checkpoints and values (its progress)
  stay; the last request's run succeeds; runs in between end ``interrupted`` (or
  ``success`` when one ran to its end before the next request came in).
* ``rollback``: the same with ``rollback``: the first run and its checkpoints are deleted.

R10: 50 parallel decisions on one pending interrupt (45 through ``POST
/inbox/{id}/decision`` with distinct ``Idempotency-Key``s, 5 through ``POST
/threads/{id}/runs`` with ``command.resume``), alternating between the two API processes,
20 repetitions. Pass: exactly one 202 per repetition, every other answer 409, and exactly
20 effects (one per interrupt).
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from typing import Any

import pytest

from tests.reliability.harness import (
    Cluster,
    Driver,
    check_invariants,
    iterations,
    log,
    timeout,
)

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(timeout(600, 1200))]

CONCURRENT = 50


async def _burst(
    driver: Driver, thread_id: str, strategy: str, run_input: dict[str, Any], count: int
) -> list[Any]:
    return list(
        await asyncio.gather(
            *(
                driver.start_run(
                    thread_id,
                    "slow_steps",
                    run_input,
                    api=n,
                    expect=None,
                    multitask_strategy=strategy,
                )
                for n in range(count)
            )
        )
    )


async def _runs_of(cluster: Cluster, thread_id: str) -> list[dict[str, Any]]:
    rows = await cluster.asql(
        "SELECT run_id, status, started_at, ended_at, created_at FROM runs "
        "WHERE thread_id = %s ORDER BY created_at, run_id",
        (thread_id,),
    )
    keys = ("run_id", "status", "started_at", "ended_at", "created_at")
    return [dict(zip(keys, row, strict=True)) for row in rows]


async def _checkpoints_of(cluster: Cluster, thread_id: str, run_id: str) -> int:
    rows = await cluster.asql(
        "SELECT count(*) FROM checkpoints WHERE thread_id = %s AND metadata->>'run_id' = %s",
        (thread_id, run_id),
    )
    return int(rows[0][0])


async def _settled(cluster: Cluster, thread_id: str) -> bool:
    rows = await cluster.asql(
        "SELECT count(*) FROM runs WHERE thread_id = %s AND status IN ('pending', 'running')",
        (thread_id,),
    )
    return int(rows[0][0]) == 0


async def _first_run_working(driver: Driver, thread_id: str) -> str:
    """Start a 5 s run and wait until it has written at least 2 checkpoints."""
    reply = await driver.start_run(
        thread_id, "slow_steps", {"steps": 20, "seconds": 0.25, "ticks": 0}
    )
    first = str(reply.json()["run_id"])
    await driver.wait_run(first, ["running"], timeout=20)

    async def progressed() -> bool:
        # the input checkpoint, the first loop step, then one per finished tick
        return await _checkpoints_of(driver.cluster, thread_id, first) >= 4

    await driver.wait_for("the first run's progress", progressed, timeout=20, every=0.05)
    return first


QUICK = {"steps": 2, "seconds": 0.05, "ticks": 0}
SECOND_LONG = {"steps": 2, "seconds": 0.5, "ticks": 0}


async def _r9_reject(cluster: Cluster, driver: Driver) -> None:
    thread_id = await driver.create_thread()
    replies = await _burst(
        driver, thread_id, "reject", {"steps": 10, "seconds": 0.5, "ticks": 0}, CONCURRENT
    )
    codes = Counter(r.status_code for r in replies)
    log(f"R9 reject: {dict(codes)}")
    assert codes == {202: 1, 409: CONCURRENT - 1}, codes
    await driver.wait_for("reject run done", lambda: _settled(cluster, thread_id), timeout=30)


async def _r9_enqueue(cluster: Cluster, driver: Driver) -> None:
    thread_id = await driver.create_thread()
    replies = await _burst(driver, thread_id, "enqueue", QUICK, CONCURRENT)
    codes = Counter(r.status_code for r in replies)
    assert codes == {202: CONCURRENT}, codes
    await driver.wait_for("enqueued runs done", lambda: _settled(cluster, thread_id), timeout=120)
    runs = await _runs_of(cluster, thread_id)
    assert [r["status"] for r in runs] == ["success"] * CONCURRENT, runs
    by_start = sorted(runs, key=lambda r: r["started_at"])
    overlaps = [
        (a["run_id"], b["run_id"])
        for a, b in itertools.pairwise(by_start)
        if b["started_at"] < a["ended_at"]
    ]
    in_order = [r["run_id"] for r in by_start] == [r["run_id"] for r in runs]
    span = (by_start[-1]["ended_at"] - by_start[0]["started_at"]).total_seconds()
    log(f"R9 enqueue: 50 runs one after another in {span:.1f}s, creation order kept: {in_order}")
    assert not overlaps, overlaps
    assert in_order
    values = (await driver.api().get(f"/threads/{thread_id}")).json()["values"]
    assert len(values["done"]) == 2 * CONCURRENT


async def _r9_interrupt(cluster: Cluster, driver: Driver) -> None:
    thread_id = await driver.create_thread()
    first = await _first_run_working(driver, thread_id)
    replies = await _burst(driver, thread_id, "interrupt", QUICK, CONCURRENT - 1)
    codes = Counter(r.status_code for r in replies)
    await driver.wait_for("interrupt runs done", lambda: _settled(cluster, thread_id), timeout=60)
    runs = await _runs_of(cluster, thread_id)
    statuses = Counter(r["status"] for r in runs)
    kept = await _checkpoints_of(cluster, thread_id, first)
    values = (await driver.api().get(f"/threads/{thread_id}")).json()["values"]
    first_steps = sum(1 for d in values["done"] if d["run_id"] == first)
    log(
        f"R9 interrupt: answers {dict(codes)}, runs {dict(statuses)}; first run "
        f"{runs[0]['status']} with {kept} checkpoints kept and {first_steps} steps in the "
        "thread's values"
    )
    assert codes == {202: CONCURRENT - 1}, codes
    assert runs[0]["run_id"] == first, runs[0]
    assert runs[0]["status"] == "interrupted", runs[0]
    assert runs[-1]["status"] == "success", runs[-1]
    # a run in between is interrupted, unless it ran to its end before the next request
    assert set(statuses) <= {"interrupted", "success"}, statuses
    assert kept >= 4
    assert first_steps >= 2


async def _r9_rollback(cluster: Cluster, driver: Driver) -> None:
    thread_id = await driver.create_thread()
    first = await _first_run_working(driver, thread_id)
    # runs of 1 s: each is still in flight when the next request comes, so only the
    # last survives (one that ended before the next request would rightly stay)
    replies = await _burst(driver, thread_id, "rollback", SECOND_LONG, CONCURRENT - 1)
    codes = Counter(r.status_code for r in replies)
    await driver.wait_for("rollback runs done", lambda: _settled(cluster, thread_id), timeout=60)
    runs = await _runs_of(cluster, thread_id)
    left = await _checkpoints_of(cluster, thread_id, first)
    gone = await driver.api().get(f"/threads/{thread_id}/runs/{first}")
    values = (await driver.api().get(f"/threads/{thread_id}")).json()["values"]
    log(
        f"R9 rollback: answers {dict(codes)}, runs left {[r['status'] for r in runs]}, "
        f"first run -> {gone.status_code}, its checkpoints left: {left}"
    )
    assert codes == {202: CONCURRENT - 1}, codes
    assert gone.status_code == 404
    assert left == 0
    assert [r["status"] for r in runs] == ["success"], runs
    assert all(d["run_id"] != first for d in values["done"]), values


@pytest.mark.parametrize("strategy", ["reject", "enqueue", "interrupt", "rollback"])
async def test_r9_multitask_strategies(cluster: Cluster, driver: Driver, strategy: str) -> None:
    scenario = {
        "reject": _r9_reject,
        "enqueue": _r9_enqueue,
        "interrupt": _r9_interrupt,
        "rollback": _r9_rollback,
    }[strategy]
    await scenario(cluster, driver)
    await check_invariants(cluster)


async def test_r10_racing_resumes(cluster: Cluster, driver: Driver) -> None:
    repetitions = iterations(20, 20)
    started = await asyncio.gather(*(driver.start_pipeline(api=i) for i in range(repetitions)))
    threads = [t for t, _ in started]
    pending = await driver.wait_all_interrupted(threads, timeout=60)
    accepted: dict[str, int] = {}
    winners: list[str] = []
    tallies: Counter[int] = Counter()
    for rep, thread_id in enumerate(threads):
        item = pending[thread_id]

        async def one(
            n: int, item: dict[str, Any] = item, rep: int = rep, thread_id: str = thread_id
        ) -> Any:
            if n % 10 == 9:  # 5 of 50 through the LangGraph runs route
                return await driver.resume(thread_id, api=n, expect=None)
            return await driver.decide(
                item["id"], item["payload_hash"], key=f"r10-{rep}-{n}", api=n
            )

        replies = await asyncio.gather(*(one(n) for n in range(CONCURRENT)))
        codes = Counter(r.status_code for r in replies)
        tallies.update(codes)
        assert codes == {202: 1, 409: CONCURRENT - 1}, (rep, codes, [r.text for r in replies][:3])
        accepted[item["id"]] = codes[202]
        winner = next(r for r in replies if r.status_code == 202).json()
        winners.append(winner["run"]["run_id"] if "run" in winner else winner["run_id"])
    for run_id in winners:
        row = await driver.wait_run(run_id, ["success", "error"], timeout=60)
        assert row["status"] == "success", row
    keys = {f"{t}:{pending[t]['interrupt_id']}" for t in threads}
    effects = await cluster.asql("SELECT key FROM side_effects WHERE key = ANY(%s)", (list(keys),))
    sink = Counter(
        r.headers.get("idempotency-key")
        for r in cluster.sink.requests("/effect")
        if r.headers.get("idempotency-key") in keys
    )
    log(
        f"R10: {repetitions} x {CONCURRENT} decisions -> {dict(tallies)}; effects "
        f"{len(effects)}, sink calls {sum(sink.values())}"
    )
    assert len(effects) == repetitions
    assert sum(sink.values()) == repetitions
    await check_invariants(cluster, accepted=accepted, max_sink_calls=1)
