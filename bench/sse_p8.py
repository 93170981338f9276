"""P8: API memory idle and with 1,000 open SSE streams (SPEC §7).

    .venv/bin/python bench/sse_p8.py [--streams 1000] [--tenants 10]

Targets: ``countersign api`` idle RSS <= 200 MB; 1,000 open SSE streams add <= 100 MB.

Starts ``countersign api`` and ``countersign worker`` on a temporary Postgres database
(dropped at the end) and Redis database 13 under a random key prefix-free namespace (only
keys of the runs it creates). Measures the API process's RSS (``VmRSS``) and Redis's client
count:

1. idle: ready, then 50 ordinary requests (inbox list, thread search), 5 s quiet;
2. with ``--streams`` open ``GET /inbox/stream`` SSE streams, spread over ``--tenants``
   tenants (reviewer tokens), once every stream has its response headers and RSS settles;
3. fan-out: one refund run per tenant stops at ``interrupt()`` (after one warm-up run per
   tenant before the streams open); every stream of that tenant must receive its
   ``interrupt.created`` event (delivery time from the run's POST, runs posted one after
   the other);
4. after all streams are closed (leak check).

Needs the machine's Postgres (127.0.0.1:5432, user postgres) and Redis (127.0.0.1:6379).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import psycopg
import redis

from service.auth.jwt import mint_token
from service.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/13"
SECRET = "bench-secret-0123456789-0123456789-0123456789"
REQUEST = {"request": {"order_id": "P8-1", "amount": 80, "customer": "Grace", "reason": "late"}}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def redis_clients() -> int:
    info = redis.Redis.from_url(REDIS_URL).info("clients")
    return int(info["connected_clients"])


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited early:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"not ready in 60 s:\n{log.read_text()[-3000:]}")


def settle(pid: int, seconds: float = 3.0, most: float = 30.0) -> float:
    """RSS once it has changed by < 0.5 MB over ``seconds`` (at most ``most`` s)."""
    started = time.monotonic()
    last = rss_mb(pid)
    while time.monotonic() - started < most:
        time.sleep(seconds)
        now = rss_mb(pid)
        if abs(now - last) < 0.5:
            return now
        last = now
    return last


class Stream:
    def __init__(self, tenant: str) -> None:
        self.tenant = tenant
        self.opened = asyncio.Event()
        self.created_at: dict[str, float] = {}  # thread id -> arrival (perf_counter)


async def follow(client: httpx.AsyncClient, token: str, stream: Stream) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with client.stream("GET", "/inbox/stream", headers=headers) as response:
        assert response.status_code == 200, response.status_code
        stream.opened.set()
        event = ""
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:") and event == "interrupt.created":
                data = httpx.Response(200, content=line[5:].strip()).json()
                stream.created_at.setdefault(data["thread_id"], time.perf_counter())


async def measure_streams(
    url: str, pid: int, tenants: list[str], per_tenant: int, report: Callable[[str], None]
) -> dict[str, float]:
    settings = Settings(env="test", jwt_secret=SECRET)
    reviewer = {
        t: mint_token(settings, tenant=t, subject="rev", roles=["reviewer"], ttl_seconds=3600)
        for t in tenants
    }
    agent = {
        t: mint_token(settings, tenant=t, subject="bot", roles=["agent"], ttl_seconds=3600)
        for t in tenants
    }
    out: dict[str, float] = {}
    limits = httpx.Limits(max_connections=len(tenants) * per_tenant + 50)
    timeout = httpx.Timeout(30, read=None)
    async with httpx.AsyncClient(base_url=url, timeout=30) as api:
        for tenant in tenants:  # warm-up: one run to its interrupt per tenant, joined
            headers = {"Authorization": f"Bearer {agent[tenant]}"}
            tid = (await api.post("/threads", json={}, headers=headers)).json()["thread_id"]
            run = await api.post(
                f"/threads/{tid}/runs",
                json={"assistant_id": "refund_agent", "input": REQUEST},
                headers=headers,
            )
            joined = await api.get(
                f"/threads/{tid}/runs/{run.json()['run_id']}/join", headers=headers
            )
            assert joined.status_code == 200, joined.text
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=timeout) as client:
        streams = [Stream(t) for t in tenants for _ in range(per_tenant)]
        started = time.perf_counter()
        tasks = [asyncio.create_task(follow(client, reviewer[s.tenant], s)) for s in streams]
        await asyncio.wait_for(asyncio.gather(*(s.opened.wait() for s in streams)), 120)
        out["open_s"] = time.perf_counter() - started
        report(f"{len(streams)} streams open in {out['open_s']:.1f} s")
        out["rss_open"] = await asyncio.to_thread(settle, pid)
        out["redis_clients_open"] = redis_clients()
        # fan-out: one interrupt per tenant
        posted: dict[str, float] = {}
        async with httpx.AsyncClient(base_url=url, timeout=30) as api:
            for tenant in tenants:
                headers = {"Authorization": f"Bearer {agent[tenant]}"}
                thread = (await api.post("/threads", json={}, headers=headers)).json()
                tid = thread["thread_id"]
                posted[tid] = time.perf_counter()
                run = await api.post(
                    f"/threads/{tid}/runs",
                    json={"assistant_id": "refund_agent", "input": REQUEST},
                    headers=headers,
                )
                assert run.status_code in (200, 202), run.text
        wanted = dict(zip(posted, tenants, strict=True))
        deadline = time.perf_counter() + 60
        while time.perf_counter() < deadline:
            got = sum(
                1
                for s in streams
                for tid, tenant in wanted.items()
                if tenant == s.tenant and tid in s.created_at
            )
            if got == len(streams):
                break
            await asyncio.sleep(0.1)
        delays = [
            (s.created_at[tid] - posted[tid]) * 1000
            for s in streams
            for tid, tenant in wanted.items()
            if tenant == s.tenant and tid in s.created_at
        ]
        out["delivered"] = len(delays)
        out["expected"] = len(streams)
        if delays:
            delays.sort()
            out["delivery_p50_ms"] = statistics.median(delays)
            out["delivery_p99_ms"] = delays[min(len(delays) - 1, int(len(delays) * 0.99))]
            out["delivery_max_ms"] = delays[-1]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--tenants", type=int, default=10)
    args = parser.parse_args()
    per_tenant = args.streams // args.tenants
    tag = uuid.uuid4().hex[:8]
    database = f"bench_p8_{tag}"
    tenants = [f"p8-{tag}-{i:02d}" for i in range(args.tenants)]
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    tmp = Path(tempfile.mkdtemp(prefix="p8-"))
    env = {
        **os.environ,
        "COUNTERSIGN_ENV": "test",
        "COUNTERSIGN_RATE_LIMIT_TENANT": "1000000",
        "COUNTERSIGN_RATE_LIMIT_PRINCIPAL": "1000000",
        "COUNTERSIGN_JWT_SECRET": SECRET,
        "COUNTERSIGN_HOST": "127.0.0.1",
        "COUNTERSIGN_DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{database}",
        "COUNTERSIGN_REDIS_URL": REDIS_URL,
        "COUNTERSIGN_AUTHZ_ROLES_FROM_TOKEN": "true",
    }
    cli = [sys.executable, "-m", "service.cli"]
    procs: list[subprocess.Popen[bytes]] = []
    lines: list[str] = []

    def report(text: str) -> None:
        print(text, flush=True)
        lines.append(text)

    try:
        subprocess.run([*cli, "migrate"], cwd=ROOT, env=env, check=True, capture_output=True)
        port, health = free_port(), free_port()
        api_log, worker_log = tmp / "api.log", tmp / "worker.log"
        with api_log.open("wb") as out:
            api = subprocess.Popen(
                [*cli, "api"],
                cwd=ROOT,
                env={**env, "COUNTERSIGN_PORT": str(port)},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        procs.append(api)
        with worker_log.open("wb") as out:
            worker = subprocess.Popen(
                [*cli, "worker"],
                cwd=ROOT,
                env={
                    **env,
                    "COUNTERSIGN_WORKER_HEALTH_HOST": "127.0.0.1",
                    "COUNTERSIGN_WORKER_HEALTH_PORT": str(health),
                },
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        procs.append(worker)
        url = f"http://127.0.0.1:{port}"
        wait_ready(f"{url}/readyz", api, api_log)
        wait_ready(f"http://127.0.0.1:{health}/readyz", worker, worker_log)
        rss_ready = rss_mb(api.pid)
        settings = Settings(env="test", jwt_secret=SECRET)
        token = mint_token(settings, tenant=tenants[0], subject="rev", roles=["reviewer"])
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as c:
            for _ in range(25):
                c.get("/inbox").raise_for_status()
                c.post("/threads/search", json={"limit": 10}).raise_for_status()
        rss_idle = settle(api.pid, seconds=5.0)
        clients_idle = redis_clients()
        report(f"idle: RSS at ready {rss_ready:.1f} MB, after 50 requests {rss_idle:.1f} MB")
        figures = asyncio.run(measure_streams(url, api.pid, tenants, per_tenant, report))
        rss_closed = settle(api.pid, seconds=3.0)
        clients_closed = redis_clients()
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        shutil.rmtree(tmp, ignore_errors=True)

    streams = per_tenant * len(tenants)
    added = figures["rss_open"] - rss_idle
    print()
    print(
        f"P8 memory -- .venv/bin/python bench/sse_p8.py --streams {args.streams} "
        f"--tenants {args.tenants}"
    )
    print(f"nproc {os.cpu_count()}, python {platform.python_version()}")
    print(f"API RSS idle:                 {rss_idle:7.1f} MB  (target <= 200)")
    print(
        f"API RSS, {streams} SSE streams:  {figures['rss_open']:7.1f} MB  "
        f"(+{added:.1f} MB, {added * 1024 / streams:.0f} KB per stream; target +100)"
    )
    print(f"API RSS after closing them:   {rss_closed:7.1f} MB")
    print(
        f"Redis clients: idle {clients_idle}, streams open "
        f"{int(figures['redis_clients_open'])}, closed {clients_closed}"
    )
    print(
        f"fan-out: {int(figures['delivered'])}/{int(figures['expected'])} streams got their "
        f"interrupt.created; delivery after the run's POST p50 "
        f"{figures.get('delivery_p50_ms', float('nan')):.0f} ms, p99 "
        f"{figures.get('delivery_p99_ms', float('nan')):.0f} ms, max "
        f"{figures.get('delivery_max_ms', float('nan')):.0f} ms"
    )
    ok = rss_idle <= 200 and added <= 100 and figures["delivered"] == figures["expected"]
    print("verdict:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
