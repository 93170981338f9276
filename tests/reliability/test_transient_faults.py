"""R19, transient-fault injection: 5 % of the statements the API and worker processes send to
the service tables fail before they are sent, as a broken connection would
(``HITL_TRANSIENT_FAULTS=0.05``, test processes only). Clients retry what is answered 503
(requests that start runs carry an ``Idempotency-Key``, so a retry never starts a second
one); the worker retries its finalize in place.

Pass: every run accepted ends ``success`` (CI 100 runs, ``HITL_FULL=1`` 500), in at most 3
attempts, and the invariants hold (no fork, no stuck run, every run's outbox event).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.reliability.harness import Cluster, check_invariants, iterations, log, timeout

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(timeout(600, 1200))]

RATE = "0.05"
RUN = {"assistant_id": "slow_steps", "input": {"steps": 2, "seconds": 0.01, "ticks": 0}}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    running = Cluster(tmp_path_factory.mktemp("r19"), extra_env={"HITL_TRANSIENT_FAULTS": RATE})
    try:
        running.start()
        yield running
    finally:
        running.close()


async def retried(send: Any, codes: Counter[int], *, tries: int = 50) -> httpx.Response:
    """The answer once it is not a 503 (which says the database was briefly unavailable)."""
    for _ in range(tries):
        reply: httpx.Response = await send()
        codes[reply.status_code] += 1
        if reply.status_code != 503:
            return reply
        await asyncio.sleep(0.05)
    raise AssertionError(f"still 503 after {tries} tries")


async def one_run(client: httpx.AsyncClient, codes: Counter[int]) -> str:
    thread_id, key = str(uuid.uuid4()), uuid.uuid4().hex
    reply = await retried(
        lambda: client.post(
            f"/threads/{thread_id}/runs",
            json={**RUN, "if_not_exists": "create"},
            headers={"Prefer": "respond-async", "Idempotency-Key": key},
        ),
        codes,
    )
    assert reply.status_code == 202, reply.text
    return str(reply.json()["run_id"])


async def test_r19_transient_faults_in_the_repository_layer(cluster: Cluster) -> None:
    total = iterations(100, 500)
    codes: Counter[int] = Counter()
    clients = [cluster.client(api) for api in range(len(cluster.apis))]
    try:
        runs: list[str] = []
        for batch in range(0, total, 20):
            size = min(20, total - batch)
            runs += await asyncio.gather(
                *(one_run(clients[i % len(clients)], codes) for i in range(size))
            )

        async def all_ended() -> bool:
            rows = await cluster.asql(
                "SELECT count(*) FROM runs WHERE run_id = ANY(%s)"
                " AND status NOT IN ('pending', 'running')",
                (runs,),
            )
            return int(rows[0][0]) == len(runs)

        deadline = asyncio.get_running_loop().time() + 300
        while not await all_ended():
            assert asyncio.get_running_loop().time() < deadline, "runs did not end"
            await asyncio.sleep(0.5)
    finally:
        for client in clients:
            await client.aclose()
    rows = await cluster.asql("SELECT status, attempt FROM runs WHERE run_id = ANY(%s)", (runs,))
    statuses = Counter(status for status, _ in rows)
    attempts = Counter(int(attempt) for _, attempt in rows)
    log(f"R19: {len(runs)} runs {dict(statuses)}, attempts {dict(attempts)}, answers {dict(codes)}")
    assert len(set(runs)) == total  # one run per request, retries included
    assert statuses == {"success": total}, statuses
    assert max(attempts) <= 3, attempts
    assert codes[503] > 0  # faults were injected and reached the clients
    assert set(codes) <= {202, 503}, codes
    await check_invariants(cluster, graph="slow_steps")
