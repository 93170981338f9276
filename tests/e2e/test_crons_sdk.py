"""Crons through the official Python SDK (``client.crons``) against live servers: the
embedded server on each backend, and on Postgres an API with two worker processes, where
each due firing must create exactly one run."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient

from tests.e2e.conftest import on_backend
from tests.fixtures.app import ROOT, TEST_SECRET
from tests.fixtures.databases import fresh_database
from tests.fixtures.live import LiveServer, free_port, server_env, start_server, stop_server

pytestmark = pytest.mark.e2e
RUN = uuid.uuid4().hex[:8]
QUICK = {"steps": 1, "seconds": 0.01}
YEARLY = "0 0 1 1 *"
EVERY_SECOND = "* * * * * *"  # a 6th field is seconds
REDIS_URL = os.environ.get("COUNTERSIGN_TEST_REDIS_CRONS", "redis://127.0.0.1:6379/13")


class Sink:
    """Run webhooks posted to a local HTTP server, as they arrive."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                sink.bodies.append(json.loads(self.rfile.read(length) or b"null"))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                return

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def for_cron(self, cron_id: str) -> list[dict[str, Any]]:
        return [b for b in self.bodies if (b.get("metadata") or {}).get("cron_id") == cron_id]


@pytest.fixture(scope="module")
def sink() -> Iterator[Sink]:
    found = Sink()
    yield found
    found.server.shutdown()
    found.server.server_close()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def cron_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    yield from on_backend(
        request, tmp_path_factory, "crons", COUNTERSIGN_WEBHOOK_ALLOW='["127.0.0.1/32"]'
    )


def sdk(server: LiveServer, tenant: str, subject: str = "ada") -> LangGraphClient:
    token = server.mint(f"{tenant}-{RUN}", subject, ("tenant_admin", "agent"))
    return get_client(url=server.url, headers={"Authorization": f"Bearer {token}"}, api_key=None)


def scheduler_log(server: LiveServer) -> str:
    """What the cron schedulers of the server's processes said (for a failure's message)."""
    logs = sorted(server.log_path.parent.glob("*.log"))
    lines = (line for log in logs for line in log.read_text(errors="replace").splitlines())
    return "\n".join(line for line in lines if "cron_scheduler" in line)


async def until(check: Any, timeout: float = 30, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = await check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out: {what}"
        await asyncio.sleep(0.2)


async def test_crons_lifecycle(cron_server: LiveServer) -> None:
    async with sdk(cron_server, "life") as client:
        thread = await client.threads.create()
        created = await client.crons.create_for_thread(
            thread["thread_id"],
            "slow",
            schedule="0 12 * * *",
            input=QUICK,
            metadata={"team": "ops"},
            timezone="Europe/Paris",
        )
        assert created["thread_id"] == thread["thread_id"]
        assert created["timezone"] == "Europe/Paris"
        assert created["enabled"] is True
        noon = datetime.fromisoformat(created["next_run_date"]).astimezone(
            __import__("zoneinfo").ZoneInfo("Europe/Paris")
        )
        assert (noon.hour, noon.minute) == (12, 0)
        stateless = await client.crons.create("slow", schedule=YEARLY, input=QUICK)
        assert stateless["thread_id"] is None
        assert stateless["on_run_completed"] == "delete"

        found = await client.crons.search()
        assert {c["cron_id"] for c in found} == {created["cron_id"], stateless["cron_id"]}
        on_thread = await client.crons.search(thread_id=thread["thread_id"])
        assert [c["cron_id"] for c in on_thread] == [created["cron_id"]]
        assert await client.crons.count() == 2
        assert await client.crons.count(metadata={"team": "ops"}) == 1

        updated = await client.crons.update(created["cron_id"], schedule="5 * * * *", enabled=False)
        assert updated["schedule"] == "5 * * * *"
        assert updated["enabled"] is False
        assert [c["cron_id"] for c in await client.crons.search(enabled=False)] == [
            created["cron_id"]
        ]
        await client.crons.delete(created["cron_id"])
        assert await client.crons.count() == 1
        with pytest.raises(httpx.HTTPStatusError) as gone:
            await client.crons.delete(created["cron_id"])
        assert gone.value.response.status_code == 404
        with pytest.raises(httpx.HTTPStatusError) as bad:
            await client.crons.create("slow", schedule=YEARLY, timezone="Atlantis/Capital")
        assert bad.value.response.status_code == 422

    async with sdk(cron_server, "other") as stranger:
        assert await stranger.crons.search() == []
        assert await stranger.crons.count() == 0
        with pytest.raises(httpx.HTTPStatusError) as foreign:
            await stranger.crons.update(stateless["cron_id"], enabled=False)
        assert foreign.value.response.status_code == 404


async def test_end_time_and_on_run_completed(cron_server: LiveServer, sink: Sink) -> None:
    """Stateless crons firing every second until their end: ``delete`` removes each firing's
    thread once its run ended, ``keep`` leaves it; past its end a cron is disabled."""
    async with sdk(cron_server, "ends") as client:
        end = datetime.now(UTC) + timedelta(seconds=3)
        common: dict[str, Any] = {"schedule": EVERY_SECOND, "input": QUICK, "end_time": end}
        deleting = await client.crons.create("slow", webhook=sink.url, **common)
        keeping = await client.crons.create(
            "slow", webhook=sink.url, on_run_completed="keep", **common
        )

        async def ended() -> bool:
            crons = await client.crons.search(enabled=False)
            return {c["cron_id"] for c in crons} == {deleting["cron_id"], keeping["cron_id"]}

        # disabled once no firing is left before the end
        await until(ended, what="both crons disabled at their end")
        await asyncio.sleep(1.5)  # the runs of the last firings end, their webhooks arrive
        deleted = sink.for_cron(deleting["cron_id"])
        kept = sink.for_cron(keeping["cron_id"])
        assert 1 <= len(deleted) <= 4, scheduler_log(cron_server)
        assert 1 <= len(kept) <= 4, scheduler_log(cron_server)
        for body in deleted + kept:
            assert body["status"] == "success"
            assert datetime.fromisoformat(body["created_at"]) <= end + timedelta(seconds=1)
        for body in deleted:
            with pytest.raises(httpx.HTTPStatusError) as gone:
                await client.threads.get(body["thread_id"])
            assert gone.value.response.status_code == 404
        for body in kept:
            thread = await client.threads.get(body["thread_id"])
            assert thread["values"]["done"] == [1]
        count = len(sink.for_cron(deleting["cron_id"]))
        await asyncio.sleep(1.5)
        assert len(sink.for_cron(deleting["cron_id"])) == count  # no firing after the end


# ---- two workers --------------------------------------------------------------------------


def _worker(tmp: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    log = (tmp / f"worker-{port}.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "worker"],
        cwd=ROOT,
        env={
            **env,
            "COUNTERSIGN_WORKER_HEALTH_HOST": "127.0.0.1",
            "COUNTERSIGN_WORKER_HEALTH_PORT": str(port),
        },
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    return process, port


def _ready(port: int, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "a worker exited at start"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("a worker was not ready in time")


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """``countersign api`` and two ``countersign worker`` processes on one Postgres + Redis,
    nothing else on that database."""
    with fresh_database() as postgres_url:
        yield from _api_and_two_workers(tmp_path_factory.mktemp("crons-two-workers"), postgres_url)


def _api_and_two_workers(tmp: Path, postgres_url: str) -> Iterator[LiveServer]:
    env = {
        **server_env(
            ROOT / "tests" / "graphs" / "langgraph.json",
            secret=TEST_SECRET,
            run_in_api=False,
            database_url=postgres_url,
        ),
        "COUNTERSIGN_REDIS_URL": REDIS_URL,
    }
    api = start_server(tmp, env, command=("api",))
    workers = [_worker(tmp, api.env) for _ in range(2)]
    try:
        for process, port in workers:
            _ready(port, process)
        yield api
    finally:
        for process, _ in workers:
            process.terminate()
        for process, _ in workers:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        stop_server(api)


async def test_each_firing_runs_once_with_two_workers(two_workers: LiveServer) -> None:
    async with sdk(two_workers, "pair") as client:
        threads = [await client.threads.create() for _ in range(3)]
        end = datetime.now(UTC) + timedelta(seconds=4)
        crons = [
            await client.crons.create_for_thread(
                t["thread_id"], "slow", schedule=EVERY_SECOND, input=QUICK, end_time=end
            )
            for t in threads
        ]

        async def all_ended() -> bool:
            return await client.crons.count() == len(await client.crons.search(enabled=False))

        await until(all_ended, what="the crons reached their end")
        for thread, cron in zip(threads, crons, strict=True):
            # a firing's run is created with the cron's move on: an ended cron has them all
            fired = await client.runs.list(thread["thread_id"], limit=100)
            assert fired, f"cron {cron['cron_id']} never fired:\n{scheduler_log(two_workers)}"

            async def settled(tid: str = thread["thread_id"]) -> list[dict[str, Any]] | None:
                runs = await client.runs.list(tid, limit=100)
                done = all(r["status"] in ("success", "error") for r in runs)
                return runs if done else None

            runs = await until(settled, what="the firings' runs ended")
            assert all(r["status"] == "success" for r in runs)
            assert all(r["metadata"]["cron_id"] == cron["cron_id"] for r in runs)
            # one run per due second: firings of distinct due times are a second apart,
            # a second run for the same due time would come within milliseconds
            started = sorted(datetime.fromisoformat(r["created_at"]) for r in runs)
            assert 1 <= len(started) <= 5
            gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(started)]
            assert all(gap > 0.5 for gap in gaps), gaps
