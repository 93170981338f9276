"""R16, soak: HITL cycles (run to the interrupt, decide in the inbox, run to the end) without a
pause on the cluster, then RSS, Postgres connections and Redis memory must not grow past the
warm-up and no run may be stuck. CI: 3 minutes (the catalogue's CI version); ``HITL_FULL=1``:
30 minutes. Event streams are kept 30 s here, so Redis holds a bounded window of them.

Sampled every 15 s after the warm-up. Pass: each API's and worker's RSS at the end within
+10 % of its value after the warm-up; Postgres connections and Redis ``used_memory`` flat: the
highest of the second half of the samples no more than the highest of the first half plus 2
connections, plus 10 % (at least 1 MiB: Redis holds a few MiB here, where its allocator alone
moves more than 10 %); every cycle completed; the invariants hold (no stuck run). One loop
reads its runs through SSE streams: once the load stops, no stream is open and the APIs hold no
more asyncio tasks than before it (+4), so a stream leaves no task behind.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.live import children
from tests.reliability.harness import (
    FULL,
    Cluster,
    Driver,
    check_invariants,
    log,
    metric_sum,
    timeout,
)

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(timeout(600, 2400))]

SOAK_SECONDS = 1800.0 if FULL else 180.0
WARMUP_SECONDS = 60.0
LOOPS = 4


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    running = Cluster(
        tmp_path_factory.mktemp("r16"), extra_env={"COUNTERSIGN_STREAM_REPLAY_SECONDS": "30"}
    )
    try:
        running.start()
        yield running
    finally:
        running.close()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def tree_rss_mb(pid: int) -> float:
    """A worker is a supervisor and the child processes that run the graphs: all of them."""
    total = rss_mb(pid)
    for child in children(pid):
        try:
            total += rss_mb(child)
        except OSError:
            continue  # it ended meanwhile
    return total


def sample(cluster: Cluster) -> dict[str, float]:
    figures = {f"api{i}": rss_mb(s.process.pid) for i, s in enumerate(cluster.apis)}
    figures |= {f"worker{i}": tree_rss_mb(w.pid) for i, w in enumerate(cluster.workers)}
    figures["pg_connections"] = float(
        cluster.sql("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")[0][
            0
        ]
    )
    info = cluster.redis_cli("INFO", "memory")
    used = next(line for line in info.splitlines() if line.startswith("used_memory:"))
    figures["redis_mb"] = int(used.split(":")[1]) / 2**20
    return figures


async def cycles(driver: Driver, loop: int, stop: float, done: list[int]) -> None:
    """Loop 0 runs to the interrupt through an SSE stream (``/runs/stream``), read to its end,
    the others start the run and poll, as the two kinds of client do."""
    while time.monotonic() < stop:
        if loop == 0:
            thread_id = await streamed_to_interrupt(driver, loop)
        else:
            thread_id, _ = await driver.start_pipeline(api=loop)
        item = await driver.wait_interrupted(thread_id, timeout=60)
        reply = await driver.decide(
            item["id"], item["payload_hash"], key=uuid.uuid4().hex, api=loop + 1
        )
        assert reply.status_code == 202, reply.text
        await driver.wait_for(
            "the cycle's end",
            lambda thread_id=thread_id: _idle(driver, thread_id),
            timeout=60,
        )
        done[loop] += 1


async def streamed_to_interrupt(driver: Driver, api: int) -> str:
    thread_id = await driver.create_thread(api)
    body = {"assistant_id": "hitl_pipeline", "input": {"request": {"tool_calls": 1}}}
    async with driver.api(api).stream(
        "POST", f"/threads/{thread_id}/runs/stream", json=body
    ) as answer:
        assert answer.status_code == 200, await answer.aread()
        async for _ in answer.aiter_bytes():
            pass
    return thread_id


def leak_figures(cluster: Cluster) -> dict[str, float]:
    """Each API's open streams and asyncio tasks (``/metrics``), summed over the APIs."""
    figures = {"open_streams": 0.0, "asyncio_tasks": 0.0}
    for i in range(len(cluster.apis)):
        text = cluster.api_metrics(i)
        figures["open_streams"] += metric_sum(text, "countersign_open_streams")
        figures["asyncio_tasks"] += metric_sum(text, "countersign_asyncio_tasks")
    return figures


async def _idle(driver: Driver, thread_id: str) -> bool:
    return await driver.thread_status(thread_id) == "idle"


async def test_r16_soak(cluster: Cluster, driver: Driver) -> None:
    began = time.monotonic()
    stop = began + SOAK_SECONDS
    done = [0] * LOOPS
    idle_before = await asyncio.to_thread(leak_figures, cluster)
    load = asyncio.gather(*(cycles(driver, i, stop, done) for i in range(LOOPS)))
    await asyncio.sleep(WARMUP_SECONDS)
    samples = []
    while time.monotonic() < stop - 1:
        samples.append(await asyncio.to_thread(sample, cluster))
        await asyncio.sleep(min(15.0, max(0.0, stop - time.monotonic())))
    await load
    samples.append(await asyncio.to_thread(sample, cluster))
    await asyncio.sleep(2)  # the last streams' connections close
    idle_after = await asyncio.to_thread(leak_figures, cluster)
    warm, end = samples[0], samples[-1]
    half = len(samples) // 2
    first, second = samples[:half], samples[half:]

    def peak(part: list[dict[str, float]], name: str) -> float:
        return max(s[name] for s in part)

    log(
        f"R16: {sum(done)} cycles in {time.monotonic() - began:.0f} s, {len(samples)} samples; "
        f"after warm-up {warm}; at the end {end}; idle before {idle_before}, after {idle_after}"
    )
    # 0 leaked SSE tasks: every stream closed, no task left behind by a finished request
    assert idle_after["open_streams"] == 0, idle_after
    assert idle_after["asyncio_tasks"] <= idle_before["asyncio_tasks"] + 4, (
        idle_before,
        idle_after,
    )
    for name in warm:
        if name.startswith(("api", "worker")):
            assert end[name] <= warm[name] * 1.10, (name, warm[name], end[name])
    assert peak(second, "pg_connections") <= peak(first, "pg_connections") + 2, samples
    redis_first = peak(first, "redis_mb")
    assert peak(second, "redis_mb") <= redis_first + max(1.0, redis_first * 0.10), samples
    assert sum(done) > 0
    await check_invariants(cluster)
