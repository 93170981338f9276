"""R11, the poison run: a node that ends its process (``os._exit(1)``) on every attempt.

Under a steady load of short ``slow_steps`` runs on other threads (a new thread each, both
API processes), one ``poison`` run is started. Pass: it ends ``error`` after exactly 3
attempts (``MaxAttemptsExceeded``, 3 crashes counted) within 3 x ``T_REC`` of its start;
the other threads' throughput (runs finished per second) over the poison's lifetime is at
least 90 % of the same span just before it; every other run succeeds, in at most 2 attempts
(the ones that shared the first crashed process are retried in quarantine); the next run on
the poison's thread is accepted and succeeds. Then, made certain with one worker stopped:
three runs that shared the poison's process when it first crashed are retried in
quarantine and succeed at their second attempt. The invariants hold.

Why it holds (``service/supervisor.py``): each worker's graphs run in a child process of a
supervisor; after the first crash its successor quarantines the runs that were in flight,
and a quarantine process runs those one at a time, so the poison's next two crashes take
nothing else down.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta

import pytest

from tests.reliability.harness import (
    T_REC,
    Cluster,
    Driver,
    check_invariants,
    log,
    timeout,
)

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(timeout(300, 600))]

RATE = 8.0  # other runs started per second, alternating API processes
WARMUP = 5.0  # seconds of load before the baseline span may begin
SETTLE = 5.0  # the poison's span runs this long past its end


def _finished_in(ends: list[datetime], begin: datetime, end: datetime) -> int:
    return sum(1 for at in ends if begin <= at < end)


async def test_r11_poison_run(cluster: Cluster, driver: Driver) -> None:
    cluster.ensure_workers()
    label = f"r11-{uuid.uuid4().hex[:8]}"
    stop = asyncio.Event()
    loader = asyncio.create_task(driver.paced_runs(RATE, 3600, label, stop=stop))
    await asyncio.sleep(WARMUP + T_REC)  # the baseline span needs load before the poison

    poison_thread = await driver.create_thread()
    reply = await driver.start_run(poison_thread, "poison", {"crash": True})
    poison_id = str(reply.json()["run_id"])
    poison = await driver.wait_run(poison_id, ["error", "success"], timeout=3 * T_REC + 30)
    await asyncio.sleep(SETTLE)
    stop.set()
    answers = await loader
    assert all(a.status == 202 for a in answers), [a for a in answers if a.status != 202][:5]
    others = [a.run_id for a in answers]

    (row,) = await cluster.asql(
        "SELECT status, attempt, crashes, error, created_at, ended_at FROM runs WHERE run_id = %s",
        (poison_id,),
    )
    status, attempts, crashes, error, created_at, ended_at = row
    lifetime = (ended_at - created_at).total_seconds()
    log(f"R11: poison {status} after {attempts} attempts, {crashes} crashes, {lifetime:.1f} s")
    assert poison["status"] == "error", poison
    assert attempts == 3, f"the poison run made {attempts} attempts"
    assert crashes == 3, f"the poison run crashed {crashes} worker processes"
    assert error["error"] == "MaxAttemptsExceeded", error
    assert lifetime <= 3 * T_REC, f"the poison run took {lifetime:.1f} s to end"

    # every other run finishes, in at most 2 attempts
    async def all_done() -> list[tuple[str, int, int, datetime]] | None:
        rows = await cluster.asql(
            "SELECT status, attempt, crashes, ended_at FROM runs WHERE run_id = ANY(%s)",
            (others,),
        )
        done = [r for r in rows if r[0] not in ("pending", "running")]
        return done if len(done) == len(others) else None

    rows = await driver.wait_for("the other runs finished", all_done, timeout=2 * T_REC)
    failed = [r for r in rows if r[0] != "success"]
    assert not failed, f"{len(failed)} other runs did not succeed: {failed[:5]}"
    assert max(r[1] for r in rows) <= 2
    victims = sum(1 for r in rows if r[2])

    # throughput over the poison's lifetime (and SETTLE) against the same span before it
    span = (ended_at - created_at) + timedelta(seconds=SETTLE)
    ends = [r[3] for r in rows]
    before = _finished_in(ends, created_at - span, created_at)
    during = _finished_in(ends, created_at, created_at + span)
    ratio = during / before
    log(
        f"R11: {len(others)} other runs ({victims} quarantined after sharing a crashed "
        f"process); finished in {span.total_seconds():.1f} s before: {before}, during: "
        f"{during} ({ratio:.0%})"
    )
    assert before >= RATE * span.total_seconds() * 0.8, "the baseline span had too little load"
    assert ratio >= 0.9, f"other threads' throughput fell to {ratio:.0%}"

    # the next run on the poison's thread is accepted, and runs
    reply = await driver.start_run(poison_thread, "poison", {"crash": False})
    after = await driver.wait_run(str(reply.json()["run_id"]), ["success", "error"], timeout=30)
    assert after["status"] == "success", after

    await _victims_are_quarantined(cluster, driver)
    await check_invariants(cluster)


async def _victims_are_quarantined(cluster: Cluster, driver: Driver) -> None:
    """Made certain: one worker holds three 3 s runs when a poison run crashes it. The three
    are retried in quarantine (attempt 2, one crash each) and succeed; the poison ends
    ``error`` after 3 attempts all the same."""
    cluster.term_worker(1)
    await asyncio.to_thread(cluster.workers[1].popen.wait, 60)
    victims = []
    for _ in range(3):
        thread_id = await driver.create_thread()
        reply = await driver.start_run(thread_id, "slow_steps", {"steps": 1, "seconds": 3.0})
        victims.append(str(reply.json()["run_id"]))
    for run_id in victims:
        await driver.wait_run(run_id, ["running"], timeout=10)
    reply = await driver.start_run(await driver.create_thread(), "poison", {"crash": True})
    poison = await driver.wait_run(str(reply.json()["run_id"]), ["error"], timeout=3 * T_REC)
    rows = await cluster.asql(
        "SELECT status, attempt, crashes FROM runs WHERE run_id = ANY(%s)", (victims,)
    )
    log(f"R11: poison with 3 runs beside it: {poison['attempt']} attempts; the 3: {rows}")
    assert poison["attempt"] == 3
    for run_id in victims:
        await driver.wait_run(run_id, ["success", "error"], timeout=3 * T_REC)
    rows = await cluster.asql(
        "SELECT status, attempt, crashes FROM runs WHERE run_id = ANY(%s)", (victims,)
    )
    assert sorted(rows) == [("success", 2, 1)] * 3, rows
    cluster.ensure_workers()
