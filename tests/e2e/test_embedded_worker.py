"""``countersign serve`` (embedded): the worker runs in a child process, supervised by the API."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fixtures.app import ROOT, TEST_SECRET
from tests.fixtures.live import LiveServer, children, running, server_env

pytestmark = pytest.mark.e2e

REQUEST = {"request": {"order_id": "W-1", "amount": 30, "customer": "Ada", "reason": "late"}}


def worker_of(server: LiveServer, timeout: float = 30.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in children(server.process.pid):
            with contextlib.suppress(OSError):  # a child that just ended
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


def test_a_poison_run_ends_error_and_takes_nothing_down(tmp_path: Path) -> None:
    """R11 on the embedded default (SQLite): a run whose node ends its process ends ``error``
    (3 attempts: the worker process, then the quarantine process twice); a run that was in
    flight beside it succeeds; the next run on the poison's thread runs."""
    graphs = tmp_path / "langgraph.json"
    graphs.write_text(
        json.dumps(
            {
                "graphs": {
                    "poison": str(ROOT / "tests/reliability/graphs/poison.py") + ":graph",
                    "slow": str(ROOT / "tests/graphs/testing_graphs.py") + ":slow",
                }
            }
        )
    )
    env = server_env(graphs, secret=TEST_SECRET, run_in_api=True)
    for server in running(tmp_path, env):
        token = server.mint(f"p-{uuid.uuid4().hex[:8]}", "ada", ("tenant_admin", "agent"))
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=90) as http:

            def start(graph: str, run_input: dict[str, object]) -> tuple[str, str]:
                thread_id = http.post("/threads", json={}).json()["thread_id"]
                reply = http.post(
                    f"/threads/{thread_id}/runs",
                    json={"assistant_id": graph, "input": run_input},
                    headers={"Prefer": "respond-async"},
                )
                assert reply.status_code == 202, reply.text
                return thread_id, reply.json()["run_id"]

            def status(thread_id: str, run_id: str) -> str:
                assert http.get(f"/threads/{thread_id}/runs/{run_id}/join").status_code == 200
                return str(http.get(f"/threads/{thread_id}/runs/{run_id}").json()["status"])

            beside = start("slow", {"seconds": 2})
            time.sleep(0.5)
            poison = start("poison", {"crash": True})
            assert status(*poison) == "error"
            assert status(*beside) == "success"
            reply = http.post(
                f"/threads/{poison[0]}/runs/wait",
                json={"assistant_id": "poison", "input": {"crash": False}},
            )
            assert reply.status_code == 200, reply.text
        log = server.log()
        assert "worker process died" in log
        assert log.count("quarantine process died") == 2, log[-3000:]
