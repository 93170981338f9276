"""P7: cold start to ready, measured from process spawn to the first 200 of /readyz.

    .venv/bin/python bench/cold_start.py [--trials 5]

API (`countersign api`, Postgres + Redis), worker (`countersign worker`: graphs imported,
compiled and warmed, pools open, then its health port answers /readyz), and the embedded
default (`countersign serve`, SQLite, API + worker in one process). Targets: API ≤ 2 s,
worker ≤ 3 s. Needs the machine's Postgres (127.0.0.1:5432, user postgres) and Redis.
"""

from __future__ import annotations

import argparse
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
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
SECRET = "bench-secret-0123456789-0123456789-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def time_to_ready(command: list[str], env: dict[str, str], url: str, log: Path) -> float:
    started = time.perf_counter()
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        with httpx.Client(timeout=0.5) as client:
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"exited early:\n{log.read_text()[-2000:]}")
                try:
                    if client.get(url).status_code == 200:
                        return time.perf_counter() - started
                except httpx.HTTPError:
                    pass
                if time.perf_counter() - started > 60:
                    raise RuntimeError("not ready after 60 s")
                time.sleep(0.01)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=5)
    args = parser.parse_args()
    database = f"bench_p7_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    tmp = Path(tempfile.mkdtemp(prefix="p7-"))
    db_url = f"postgresql://postgres@127.0.0.1:5432/{database}"
    base = {
        **os.environ,
        "COUNTERSIGN_ENV": "test",
        "COUNTERSIGN_RATE_LIMIT_TENANT": "1000000",
        "COUNTERSIGN_RATE_LIMIT_PRINCIPAL": "1000000",
        "COUNTERSIGN_JWT_SECRET": SECRET,
        "COUNTERSIGN_HOST": "127.0.0.1",
    }
    production = {
        **base,
        "COUNTERSIGN_DATABASE_URL": db_url,
        "COUNTERSIGN_REDIS_URL": "redis://127.0.0.1:6379/14",
    }
    cli = [sys.executable, "-m", "service.cli"]
    results: dict[str, list[float]] = {"api": [], "worker": [], "embedded serve": []}
    try:
        subprocess.run([*cli, "migrate"], cwd=ROOT, env=production, check=True, capture_output=True)
        for trial in range(args.trials):
            port = free_port()
            results["api"].append(
                time_to_ready(
                    [*cli, "api"],
                    {**production, "COUNTERSIGN_PORT": str(port)},
                    f"http://127.0.0.1:{port}/readyz",
                    tmp / f"api-{trial}.log",
                )
            )
            port = free_port()
            results["worker"].append(
                time_to_ready(
                    [*cli, "worker"],
                    {
                        **production,
                        "COUNTERSIGN_WORKER_HEALTH_HOST": "127.0.0.1",
                        "COUNTERSIGN_WORKER_HEALTH_PORT": str(port),
                    },
                    f"http://127.0.0.1:{port}/readyz",
                    tmp / f"worker-{trial}.log",
                )
            )
            port = free_port()
            data = tmp / f"embedded-{trial}"
            results["embedded serve"].append(
                time_to_ready(
                    [*cli, "serve"],
                    {**base, "COUNTERSIGN_PORT": str(port), "COUNTERSIGN_DATA_DIR": str(data)},
                    f"http://127.0.0.1:{port}/readyz",
                    tmp / f"serve-{trial}.log",
                )
            )
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        shutil.rmtree(tmp, ignore_errors=True)
    targets = {"api": 2.0, "worker": 3.0, "embedded serve": None}
    print(
        f"P7 cold start to ready — {args.trials} trials, nproc {os.cpu_count()}, "
        f"python {platform.python_version()}"
    )
    print(f"command: .venv/bin/python bench/cold_start.py --trials {args.trials}")
    print(f"{'process':<16}{'median s':>10}{'min s':>8}{'max s':>8}  target")
    ok = True
    for name, values in results.items():
        target = targets[name]
        verdict = "" if target is None else ("PASS" if max(values) <= target else "FAIL")
        ok = ok and verdict != "FAIL"
        limit = "-" if target is None else f"<= {target:.0f} s {verdict}"
        print(
            f"{name:<16}{statistics.median(values):>10.2f}"
            f"{min(values):>8.2f}{max(values):>8.2f}  {limit}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
