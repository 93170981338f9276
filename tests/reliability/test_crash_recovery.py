"""R1 (worker crash before the interrupt) and R21 (the interrupt is durable before visible).

R1: ``kill -9`` the worker holding a run (PID from ``runs.lease_owner``) at a random moment
0.2-2 s after the claim, while the graph is still working towards its interrupt (20 tool
steps of 50-200 ms, so about 2.5 s). Runs go in waves of 5 in parallel; a worker holds
several runs, so one kill may crash several runs of a wave (each run's crash time is the
first kill of its holder after its claim). Pass: every run reaches the interrupt (thread
``interrupted``, one pending interrupt), the run is re-claimed within ``T_REC`` of the
kill, at most 2 attempts, and the invariants hold.

R21: the worker is killed within 50 ms of the interrupt first showing, alternately through
the API (``GET /threads/{id}`` polled every 10 ms) and through the run's SSE stream (the
first ``updates`` event carrying ``__interrupt__``). Pass: after recovery each thread still
has the very interrupt that was shown pending (same interrupt id), and it can be resumed.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.reliability.harness import (
    T_REC,
    Cluster,
    Driver,
    check_invariants,
    iterations,
    log,
    timeout,
)

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(timeout(600, 2400))]

R1_TOOL_CALLS = 20  # about 2.5 s of graph before the interrupt


def _pid_of(lease_owner: str | None) -> int | None:
    tail = (lease_owner or "").rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else None


class Killer:
    """Kills the holder of a run once per worker process, and restarts its slot."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.killed_at: dict[int, float] = {}
        self.restarts: list[asyncio.Task[Any]] = []
        self.lock = asyncio.Lock()

    async def kill(self, pid: int) -> float:
        """Kill ``pid`` (one of our workers) unless already killed; when it died."""
        async with self.lock:
            if pid in self.killed_at:
                return self.killed_at[pid]
            index = self.cluster.worker_index(pid)
            assert index is not None, f"pid {pid} is not one of this cluster's workers"
            self.cluster.kill_worker(index)
            self.killed_at[pid] = time.monotonic()
            self.restarts.append(asyncio.create_task(self.cluster.arestart_worker(index)))
            return self.killed_at[pid]

    async def settle(self) -> None:
        await asyncio.gather(*self.restarts)
        self.restarts.clear()


async def _r1_one(
    cluster: Cluster, driver: Driver, killer: Killer, rng: random.Random, index: int
) -> dict[str, Any]:
    thread_id, run_id = await driver.start_pipeline(tool_calls=R1_TOOL_CALLS, api=index)
    claimed = await driver.wait_run(run_id, ["running"], timeout=20)
    claimed_at = time.monotonic()
    delay = rng.uniform(0.2, 2.0)
    await asyncio.sleep(delay)
    row = await driver.run_row(run_id)
    assert row is not None
    pid = _pid_of(row["lease_owner"]) or _pid_of(claimed["lease_owner"])
    assert pid is not None, row
    before_kill = row["status"]
    crashed_at = await killer.kill(pid)
    # recovery: the run is claimed again by a live worker, then reaches the interrupt
    reclaimed = await driver.wait_for(
        f"run {run_id} re-claimed",
        lambda: _reclaimed(driver, run_id),
        timeout=T_REC + 10,
        every=0.05,
    )
    reclaimed_at = time.monotonic()
    pending = await driver.wait_interrupted(thread_id, timeout=T_REC + 10)
    interrupted_at = time.monotonic()
    final = await driver.wait_run(run_id, ["success", "error"], timeout=10)
    return {
        "thread_id": thread_id,
        "run_id": run_id,
        "delay": delay,
        "status_at_kill": before_kill,
        "crash_after_claim": crashed_at - claimed_at,
        "reclaim": reclaimed_at - crashed_at,
        "to_interrupt": interrupted_at - crashed_at,
        "attempt": final["attempt"],
        "status": final["status"],
        "reclaimed_attempt": reclaimed["attempt"],
        "interrupt": pending["interrupt_id"],
        "pid": pid,
    }


async def _reclaimed(driver: Driver, run_id: str) -> dict[str, Any] | None:
    row = await driver.run_row(run_id)
    if row is None:
        return None
    if row["attempt"] >= 2 and row["status"] in ("running", "success", "error"):
        return row
    return None


async def test_r1_worker_killed_before_the_interrupt(cluster: Cluster, driver: Driver) -> None:
    total = iterations(5, 20)
    rng = random.Random(1)
    results: list[dict[str, Any]] = []
    for start in range(0, total, 5):
        killer = Killer(cluster)
        wave = range(start, min(total, start + 5))
        results += await asyncio.gather(*(_r1_one(cluster, driver, killer, rng, i) for i in wave))
        await killer.settle()
        log(f"R1 wave {start // 5 + 1}: {len(killer.killed_at)} distinct kills")
    for r in results:
        log(
            "R1 run {run_id}: kill {crash_after_claim:.2f}s after claim (status {status_at_kill}), "
            "re-claimed after {reclaim:.1f}s, interrupted after {to_interrupt:.1f}s, "
            "attempts {attempt}".format(**r)
        )
    assert all(r["status_at_kill"] == "running" for r in results), "a run ended before its kill"
    assert all(r["status"] == "success" for r in results), results
    assert all(r["attempt"] <= 2 for r in results), [r["attempt"] for r in results]
    slow = [r for r in results if r["reclaim"] > T_REC]
    assert not slow, f"re-claimed later than T_rec={T_REC}s: {[r['reclaim'] for r in slow]}"
    # from the kill to the interrupt: T_rec plus what the graph still had to do (<= 3 s)
    late = [r["to_interrupt"] for r in results if r["to_interrupt"] > T_REC + 3]
    assert not late, f"interrupt reached late after the kill: {late}"
    log(
        f"R1: {len(results)}/{total} reached the interrupt; re-claim max "
        f"{max(r['reclaim'] for r in results):.1f}s, to interrupt max "
        f"{max(r['to_interrupt'] for r in results):.1f}s"
    )
    await check_invariants(cluster)


# ---- R21 ---------------------------------------------------------------------------------


async def _watch_owner(driver: Driver, run_holder: dict[str, int], run_ref: dict[str, str]) -> None:
    """Remember the last worker seen holding the run (its lease is cleared at finalize)."""
    while True:
        run_id = run_ref.get("run_id")
        if run_id:
            rows = await driver.cluster.asql(
                "SELECT lease_owner FROM runs WHERE run_id = %s", (run_id,)
            )
            pid = _pid_of(rows[0][0]) if rows else None
            if pid is not None:
                run_holder["pid"] = pid
        await asyncio.sleep(0.01)


Seen = Callable[[str], None]


async def _seen_through_api(
    driver: Driver, thread_id: str, run_ref: dict[str, str], on_seen: Seen
) -> None:
    reply = await driver.start_run(
        thread_id, "hitl_pipeline", {"request": {"tool_calls": 2}}, api=0
    )
    run_ref["run_id"] = reply.json()["run_id"]
    client = driver.api(1)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        body = (await client.get(f"/threads/{thread_id}")).json()
        if body["status"] == "interrupted" and body.get("interrupts"):
            shown = [i for items in body["interrupts"].values() for i in items]
            on_seen(str(shown[0]["id"]))
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"thread {thread_id} never showed its interrupt")


async def _seen_through_stream(
    driver: Driver, thread_id: str, run_ref: dict[str, str], on_seen: Seen
) -> None:
    body = {
        "assistant_id": "hitl_pipeline",
        "input": {"request": {"tool_calls": 2}},
        "stream_mode": ["updates"],
    }
    async with driver.api(0).stream(
        "POST", f"/threads/{thread_id}/runs/stream", json=body
    ) as reply:
        assert reply.status_code == 200, await reply.aread()
        location = reply.headers.get("content-location", "")
        run_ref["run_id"] = location.rstrip("/").rsplit("/", 1)[-1]
        async for line in reply.aiter_lines():
            if not line.startswith("data:"):
                continue
            data = json.loads(line[5:].strip() or "null")
            if isinstance(data, dict) and data.get("__interrupt__"):
                on_seen(str(data["__interrupt__"][0]["id"]))
                return
    raise AssertionError(f"the stream of {thread_id} ended without an interrupt")


async def test_r21_interrupt_durable_before_visible(cluster: Cluster, driver: Driver) -> None:
    total = iterations(20, 20)
    shown: list[dict[str, Any]] = []
    restarts: list[asyncio.Task[Any]] = []
    for i in range(total):
        # one live worker is enough; a killed one restarts in the background
        if not any(p.alive() for p in cluster.workers):
            await asyncio.gather(*restarts)
        mode = "api" if i % 2 == 0 else "stream"
        thread_id = await driver.create_thread()
        run_ref: dict[str, str] = {}
        holder: dict[str, int] = {}
        seen: dict[str, Any] = {}

        def kill_holder(
            interrupt_id: str, holder: dict[str, int] = holder, seen: dict[str, Any] = seen
        ) -> None:
            """Called the moment the interrupt shows: kill -9 the worker that ran it."""
            seen["at"] = time.monotonic()
            seen["interrupt_id"] = interrupt_id
            pid = holder.get("pid")
            index = cluster.worker_index(pid) if pid else None
            assert index is not None, "no worker seen holding the run"
            cluster.kill_worker(index)
            seen["index"] = index
            seen["killed_at"] = cluster.workers[index].killed_at

        watcher = asyncio.create_task(_watch_owner(driver, holder, run_ref))
        try:
            watch = _seen_through_api if mode == "api" else _seen_through_stream
            await watch(driver, thread_id, run_ref, kill_holder)
        finally:
            watcher.cancel()
        restarts.append(asyncio.create_task(cluster.arestart_worker(seen["index"])))
        row = await driver.run_row(run_ref["run_id"])
        shown.append(
            {
                "thread_id": thread_id,
                "run_id": run_ref["run_id"],
                "mode": mode,
                "interrupt_id": seen["interrupt_id"],
                "kill_after": seen["killed_at"] - seen["at"],
                "run_status_at_kill": row["status"] if row else None,
            }
        )
    await asyncio.gather(*restarts)
    lost = []
    for item in shown:
        pending = await driver.wait_interrupted(item["thread_id"], timeout=T_REC + 10)
        item["pending"] = pending
        if pending["interrupt_id"] != item["interrupt_id"]:
            lost.append(item)
    for item in shown:
        log(
            "R21 {mode:6s} kill {ms:5.1f} ms after the interrupt showed, run was {st}; "
            "pending after restart: {same}".format(
                mode=item["mode"],
                ms=item["kill_after"] * 1000,
                st=item["run_status_at_kill"],
                same="the same interrupt"
                if item["pending"]["interrupt_id"] == item["interrupt_id"]
                else f"ANOTHER interrupt ({item['pending']['interrupt_id']})",
            )
        )
    assert all(item["kill_after"] <= 0.05 for item in shown), [i["kill_after"] for i in shown]
    # every interrupt is still pending and can be resumed (one accepted decision each)
    accepted: dict[str, int] = {}
    resumed = []
    for item in shown:
        pending = item["pending"]
        reply = await driver.decide(
            pending["id"], pending["payload_hash"], key=f"r21-{pending['id']}", api=1
        )
        assert reply.status_code == 202, reply.text
        accepted[pending["id"]] = 1
        resumed.append(reply.json()["run"]["run_id"])
    for run_id in resumed:
        row = await driver.wait_run(run_id, ["success", "error"], timeout=T_REC + 10)
        assert row["status"] == "success", row
    await check_invariants(cluster, accepted=accepted)
    assert not lost, (
        f"{len(lost)}/{len(shown)} interrupts shown before the kill were no longer pending "
        f"after recovery (a different interrupt replaced them): "
        f"{[(i['mode'], i['run_status_at_kill']) for i in lost]}"
    )


# ---- R3 ----------------------------------------------------------------------------------


async def test_r3_zombie_worker_is_fenced(cluster: Cluster, driver: Driver) -> None:
    """``SIGSTOP`` the holder for 3 x the lease TTL; the other worker takes the run over.

    Pass: the run is finalized once, by the live attempt (attempt 2, one ``run.completed``
    event carrying attempt 2, the thread's trace written by attempt 2 after the takeover);
    the zombie's writes after ``SIGCONT`` are refused (``fenced_write_rejected_total``
    grows on the zombie); no forked checkpoints.
    """
    from tests.reliability.harness import LEASE_TTL

    total = iterations(2, 10)
    rng = random.Random(3)
    zombies = 0
    for i in range(total):
        thread_id, run_id = await driver.start_pipeline(tool_calls=R1_TOOL_CALLS, api=i)
        claimed = await driver.wait_run(run_id, ["running"], timeout=20)
        await asyncio.sleep(rng.uniform(0.3, 1.5))
        holder = cluster.holder(claimed["lease_owner"])
        assert holder is not None, claimed
        other = 1 - holder
        await asyncio.to_thread(cluster.wait_worker_ready, cluster.workers[other])
        before = await asyncio.to_thread(_fenced_on, cluster, holder)
        cluster.stop_worker(holder)
        stopped_at = time.monotonic()
        try:
            taken = await driver.wait_for(
                "the run taken over by the other worker",
                lambda run_id=run_id: _reclaimed(driver, run_id),
                timeout=T_REC + 10,
                every=0.1,
            )
            taken_after = time.monotonic() - stopped_at
            await driver.wait_interrupted(thread_id, timeout=T_REC)
            live = await driver.wait_run(run_id, ["success", "error"], timeout=10)
            await asyncio.sleep(max(0.0, stopped_at + 3 * LEASE_TTL - time.monotonic()))
        finally:
            cluster.cont_worker(holder)
        zombies += 1
        fenced = await driver.wait_for(
            "the zombie's stale writes refused",
            lambda holder=holder, before=before: _fenced_grew(cluster, holder, before),
            timeout=15,
            every=0.5,
        )
        await asyncio.sleep(1.0)  # let the zombie try whatever else it would write
        stale_events = _events_after_end(cluster, run_id)
        row = await driver.run_row(run_id)
        events = await cluster.asql(
            "SELECT payload->'data'->>'attempt' FROM outbox_events "
            "WHERE run_id = %s AND type = 'run.completed'",
            (run_id,),
        )
        trace = (await driver.api().get(f"/threads/{thread_id}")).json()["values"]["trace"]
        first_live = next(n for n, step in enumerate(trace) if step.endswith("#2"))
        stale_after_takeover = [s for s in trace[first_live:] if not s.endswith("#2")]
        log(
            f"R3 #{i + 1}: taken over after {taken_after:.1f}s (attempt {taken['attempt']}), "
            f"live attempt ended {live['status']}; zombie fenced writes +{fenced:g}; "
            f"outbox attempts {events}; stream events after the end marker {stale_events}; "
            f"trace {trace}"
        )
        assert row is not None
        assert row["status"] == "success", row
        assert row["attempt"] == 2, row
        assert events == [("2",)], events
        assert not stale_after_takeover, trace
        assert (await driver.pending_interrupts(thread_id))[0]["run_id"] == run_id
    for index in range(len(cluster.workers)):
        text = await asyncio.to_thread(cluster.worker_metrics, index)
        kinds = [
            line
            for line in text.splitlines()
            if line.startswith("countersign_fenced_write_rejected_total")
        ]
        log(f"R3 worker {index} ({cluster.workers[index].pid}): {' '.join(kinds) or 'none'}")
    await check_invariants(cluster, zombies=zombies)


def _fenced_on(cluster: Cluster, index: int) -> float:
    from tests.reliability.harness import metric_sum

    return metric_sum(cluster.worker_metrics(index), "countersign_fenced_write_rejected_total")


async def _fenced_grew(cluster: Cluster, index: int, before: float) -> float:
    now = await asyncio.to_thread(_fenced_on, cluster, index)
    return now - before if now > before else 0.0


def _events_after_end(cluster: Cluster, run_id: str) -> list[str]:
    """Event names the run's Redis stream holds after its end marker (stale publishes)."""
    out = cluster.redis_cli("XRANGE", f"countersign:run:{run_id}:events", "-", "+")
    names: list[str] = []
    lines = [line.strip() for line in out.splitlines()]
    for n, line in enumerate(lines):
        if line == "event" and n + 1 < len(lines):
            names.append(lines[n + 1])
    if "__end__" not in names:
        return []
    return names[names.index("__end__") + 1 :]
