"""Rate limits on the live production stack (security defect 2, S8): two ``countersign api``
processes share one Redis, so a tenant's limit holds across them; under a flood of 600
requests in 10 s from one tenant, the flood gets 429 + Retry-After and another tenant's p95
latency rises at most 50 %."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.contract.conftest import REDIS_URL
from tests.fixtures.app import ROOT, TEST_SECRET
from tests.fixtures.live import NO_RATE_LIMITS, LiveServer, server_env, start_server, stop_server

pytestmark = pytest.mark.e2e

GRAPHS = ROOT / "tests" / "graphs" / "langgraph.json"
ROLES = ("tenant_admin", "editor", "agent")
SEARCH = {"limit": 50}


def api_env(postgres_url: str, **limits: str) -> dict[str, str]:
    env = server_env(GRAPHS, secret=TEST_SECRET, run_in_api=False, database_url=postgres_url)
    for name in NO_RATE_LIMITS:
        env.pop(name)  # the defaults, unless a test sets its own
    env["COUNTERSIGN_REDIS_URL"] = REDIS_URL
    env.update({f"COUNTERSIGN_RATE_LIMIT_{k.upper()}": v for k, v in limits.items()})
    return env


@pytest.fixture
def apis(
    postgres_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[list[LiveServer]]:
    limits, count = request.param
    env = api_env(postgres_url, **limits)
    servers: list[LiveServer] = []
    try:
        for i in range(count):
            servers.append(start_server(tmp_path / f"api-{i}", env, command=("api",)))
        yield servers
    finally:
        for server in servers:
            stop_server(server)


def client(server: LiveServer, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


@pytest.mark.parametrize(
    "apis", [({"tenant": "5", "tenant_burst": "10", "principal": "0"}, 2)], indirect=True
)
def test_a_tenants_limit_holds_across_api_processes(apis: list[LiveServer]) -> None:
    tenant = f"shared-{uuid.uuid4().hex[:8]}"
    token = apis[0].mint(tenant, "ada", ROLES)
    clients = [client(server, token) for server in apis]
    began = time.monotonic()
    answers = [clients[i % 2].post("/threads/search", json=SEARCH) for i in range(60)]
    elapsed = time.monotonic() - began
    for c in clients:
        c.close()
    served = [a for a in answers if a.status_code == 200]
    refused = [a for a in answers if a.status_code == 429]
    assert len(served) + len(refused) == len(answers), {a.status_code for a in answers}
    # one bucket for both processes: the burst plus the rate over the elapsed time, not twice
    assert 10 <= len(served) <= 10 + 5 * elapsed + 1, (len(served), elapsed)
    assert all(int(a.headers["Retry-After"]) >= 1 for a in refused)
    assert {a.json()["code"] for a in refused} == {"too_many_requests"}


def seed(server: LiveServer, token: str) -> None:
    with client(server, token) as c:
        for i in range(50):
            done = c.post("/threads", json={"metadata": {"n": i, "note": "x" * 2000}})
            assert done.status_code == 200, done.text
            time.sleep(0.05)  # within the caller's default rate


def latencies(c: httpx.Client, n: int, per_second: float) -> tuple[list[float], set[int]]:
    took, codes = [], set()
    for _ in range(n):
        began = time.perf_counter()
        answer = c.post("/threads/search", json=SEARCH)
        took.append((time.perf_counter() - began) * 1000)
        codes.add(answer.status_code)
        time.sleep(max(0.0, 1 / per_second - took[-1] / 1000))
    return took, codes


# 600 requests in 10 s: 8 callers at 7.5 requests/s each; prints the answers as JSON
FLOOD = """
import json, sys, threading, time
import httpx
url, token, body = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
codes, retry_after = [], []
def caller():
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as c:
        for _ in range(75):
            began = time.perf_counter()
            answer = c.post("/threads/search", json=body)
            codes.append(answer.status_code)
            if answer.status_code == 429:
                retry_after.append(answer.headers.get("Retry-After", ""))
            time.sleep(max(0.0, 1 / 7.5 - (time.perf_counter() - began)))
threads = [threading.Thread(target=caller) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps({"codes": codes, "retry_after": retry_after}))
"""


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


@pytest.mark.parametrize("apis", [({}, 1)], indirect=True)
def test_a_flooding_tenant_is_limited_and_others_keep_their_latency(
    apis: list[LiveServer],
) -> None:
    (server,) = apis
    run = uuid.uuid4().hex[:8]
    flooder, victim = (
        server.mint(f"flood-{run}", "bot", ROLES),
        server.mint(f"calm-{run}", "ada", ROLES),
    )
    seed(server, flooder)
    seed(server, victim)
    with client(server, victim) as calm:
        latencies(calm, 10, 10)  # warm
        # 150 requests over the flood's 10 s: the p95 is the 8th slowest, not one outlier
        baseline, _ = latencies(calm, 150, 15)

        # the flood runs in a process of its own: in this one its threads would hold the GIL
        # while the calm tenant's requests are timed, and the figure would be the client's.
        # It runs niced: on two cores the load generator is not the system under test, and
        # without it the figure would measure how the kernel shares a core between clients
        flood = subprocess.Popen(
            [
                "nice",
                "-n",
                "10",
                sys.executable,
                "-c",
                FLOOD,
                server.url,
                flooder,
                json.dumps(SEARCH),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        during, codes = latencies(calm, 150, 15)
        out, _ = flood.communicate(timeout=120)
    flooded = json.loads(out)
    flood_codes: list[int] = flooded["codes"]
    retry_after: list[str] = flooded["retry_after"]
    assert codes == {200}, codes
    assert len(flood_codes) == 600
    assert set(flood_codes) <= {200, 429}, set(flood_codes)
    assert flood_codes.count(429) >= 100, flood_codes.count(429)
    assert retry_after
    assert all(int(value) >= 1 for value in retry_after)
    before, under = p95(baseline), p95(during)
    print(
        f"S8: other tenant's p95 {before:.1f} ms alone, {under:.1f} ms under the flood; "
        f"flood: {flood_codes.count(200)} served, {flood_codes.count(429)} refused"
    )
    assert under <= 1.5 * before, (before, under)
