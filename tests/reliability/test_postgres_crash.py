"""R8, Postgres crash and restart, on a Postgres cluster of this test's own (``initdb`` and
``pg_ctl`` on another port: nothing else shares it).

Runs of ``slow_steps`` (20 steps of 0.1 s) are in flight and queued when ``pg_ctl -m immediate
stop`` kills Postgres. Pass (RELIABILITY.md): every API's ``/readyz`` turns false within 5 s;
Postgres stays down 15 s; every ``/readyz`` is ready again within 10 s of Postgres being back;
0 accepted runs lost, each finished ``success`` in at most 2 attempts; the invariants hold.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fixtures.live import free_port
from tests.fixtures.private_pg import PrivatePostgres
from tests.reliability.harness import Cluster, Driver, check_invariants, log, timeout

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(timeout(300, 300))]

DOWN_SECONDS = 15.0
LONG = {"steps": 20, "seconds": 0.1, "ticks": 0}


@pytest.fixture(scope="module")
def private_pg() -> Iterator[PrivatePostgres]:
    # not under pytest's tmp dir: the postgres user cannot enter it
    work = Path(tempfile.mkdtemp(prefix="countersign-r8-"))
    try:
        pg = PrivatePostgres(work, free_port()).init()
        pg.start()
        try:
            yield pg
        finally:
            pg.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster(  # this module's cluster lives on the private Postgres
    private_pg: PrivatePostgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    running = Cluster(tmp_path_factory.mktemp("r8-cluster"), admin_url=private_pg.admin_url)
    try:
        running.start()
        yield running
    finally:
        running.close()


async def ready_states(urls: list[str]) -> list[bool]:
    async with httpx.AsyncClient(timeout=2, trust_env=False) as http:

        async def one(url: str) -> bool:
            try:
                return (await http.get(f"{url}/readyz")).status_code == 200
            except httpx.HTTPError:
                return False

        return list(await asyncio.gather(*(one(url) for url in urls)))


async def until(urls: list[str], want: bool, limit: float) -> float:
    """Seconds until every ``/readyz`` answers ``want``; fails after ``limit`` (+ slack)."""
    began = time.monotonic()
    while time.monotonic() - began < limit + 20:
        if all(state == want for state in await ready_states(urls)):
            return time.monotonic() - began
        await asyncio.sleep(0.2)
    raise AssertionError(f"/readyz never turned {want} within {limit + 20:.0f} s")


async def test_r8_postgres_crash_and_restart(
    cluster: Cluster, driver: Driver, private_pg: PrivatePostgres
) -> None:
    urls = [server.url for server in cluster.apis]
    threads = [await driver.create_thread(api=i) for i in range(12)]
    runs = []
    for i, thread_id in enumerate(threads):
        reply = await driver.start_run(thread_id, "slow_steps", LONG, api=i)
        runs.append(str(reply.json()["run_id"]))
    await driver.wait_for(
        "runs in flight",
        lambda: cluster.asql("SELECT 1 FROM runs WHERE status = 'running' LIMIT 1"),
        timeout=30,
    )
    crashed = time.monotonic()
    await asyncio.to_thread(private_pg.crash)
    not_ready = await until(urls, False, 5.0)
    await asyncio.sleep(max(0.0, DOWN_SECONDS - (time.monotonic() - crashed)))
    await asyncio.to_thread(private_pg.start)
    back = time.monotonic()
    ready_again = await until(urls, True, 10.0)
    log(
        f"R8: /readyz false {not_ready:.1f} s after the crash, ready {ready_again:.1f} s after "
        f"Postgres came back ({time.monotonic() - back:.1f} s)"
    )
    for run_id in runs:
        await driver.wait_run(run_id, {"success"}, timeout=120)
    rows = await cluster.asql("SELECT status, attempt FROM runs WHERE run_id = ANY(%s)", (runs,))
    attempts = sorted(int(attempt) for _, attempt in rows)
    log(f"R8: {len(rows)}/{len(runs)} runs success, attempts {attempts}")
    assert not_ready <= 5.0
    assert ready_again <= 10.0
    assert len(rows) == len(runs)
    assert all(status == "success" for status, _ in rows)
    assert max(attempts) <= 2, attempts
    await check_invariants(cluster, graph="slow_steps")
