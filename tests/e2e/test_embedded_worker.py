"""``countersign serve`` (embedded): the worker runs in a child process, supervised by the API."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fixtures.app import ROOT, TEST_SECRET
from tests.fixtures.live import LiveServer, running, server_env

pytestmark = pytest.mark.e2e

REQUEST = {"request": {"order_id": "W-1", "amount": 30, "customer": "Ada", "reason": "late"}}


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def worker_of(server: LiveServer, timeout: float = 30.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in children(server.process.pid):
            if b"worker" in Path(f"/proc/{child}/cmdline").read_bytes():
                return child
        time.sleep(0.1)
    raise AssertionError(f"no worker child of {server.process.pid}:\n{server.log()}")


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_ready(server: LiveServer, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if httpx.get(f"{server.url}/readyz", timeout=2).status_code == 200:
            return
        time.sleep(0.1)
    raise AssertionError(f"not ready again in {timeout} s:\n{server.log()}")


def run_to_interrupt(server: LiveServer, token: str) -> dict[str, object]:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=60) as http:
        thread = http.post("/threads", json={}).json()
        done = http.post(
            f"/threads/{thread['thread_id']}/runs/wait",
            json={"assistant_id": "refund_agent", "input": REQUEST},
        )
        assert done.status_code == 200, done.text
        return dict(done.json())


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    env = server_env(
        ROOT / "tests" / "graphs" / "langgraph.json", secret=TEST_SECRET, run_in_api=True
    )
    yield from running(tmp_path, env)


def test_runs_execute_in_a_worker_child_that_is_restarted_when_it_dies(
    server: LiveServer,
) -> None:
    token = server.mint(f"w-{uuid.uuid4().hex[:8]}", "ada", ("tenant_admin", "editor", "agent"))
    first = worker_of(server)
    assert first != server.process.pid
    assert "__interrupt__" in run_to_interrupt(server, token)

    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while (replacement := worker_of(server)) == first and time.monotonic() < deadline:
        time.sleep(0.1)
    assert replacement != first, "the worker child was not restarted"
    wait_ready(server)
    assert "__interrupt__" in run_to_interrupt(server, token)
    assert "restarting it" in server.log()


def test_the_worker_child_stops_when_the_api_process_is_killed(server: LiveServer) -> None:
    worker = worker_of(server)
    server.process.kill()
    server.process.wait(10)
    deadline = time.monotonic() + 45  # the worker's grace period for runs in flight
    while alive(worker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive(worker), "the worker child outlived its API process"
