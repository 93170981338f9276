"""Operators meet the CLI first: a start that cannot work says why in one plain line.

Each case runs the real ``countersign`` command with one thing wrong and expects it to exit
non-zero within 5 s, its whole output one line naming the setting or file to fix, no
traceback and no banner. Then a good start: flags instead of the environment, the banner
only once the port answers, ``/`` leading to the UI, one access-log line per request.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fixtures.app import ROOT, TEST_SECRET
from tests.fixtures.databases import ADMIN_URL
from tests.fixtures.live import free_port

pytestmark = pytest.mark.e2e

LIMIT_SECONDS = 5.0
REFUND = {"request": {"order_id": "C-1", "amount": 30, "customer": "Ada", "reason": "late"}}
BANNER_WORDS = ("dev token", "URL:", "listening on")


def countersign(
    *args: str, env: dict[str, str], cwd: Path = ROOT, timeout: float = 30
) -> tuple[int, str, float]:
    """Exit code, stdout + stderr, seconds taken."""
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "service.cli", *args],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr, time.monotonic() - began


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


@pytest.fixture
def base(tmp_path: Path) -> dict[str, str]:
    """An embedded start that would work: its own data dir, a free port, the test graphs."""
    return {
        "COUNTERSIGN_ENV": "test",
        "COUNTERSIGN_JWT_SECRET": TEST_SECRET,
        "COUNTERSIGN_DATA_DIR": str(tmp_path / "data"),
        "COUNTERSIGN_PORT": str(free_port()),
        "COUNTERSIGN_WORKER_HEALTH_PORT": str(free_port()),
        "COUNTERSIGN_GRAPHS_CONFIG": str(ROOT / "tests" / "graphs" / "langgraph.json"),
        "COUNTERSIGN_DATABASE_URL": "",
        "COUNTERSIGN_REDIS_URL": "",
    }


def broken_graph(tmp_path: Path) -> str:
    (tmp_path / "agent.py").write_text("def graph(:\n    pass\n")
    config = tmp_path / "langgraph.json"
    config.write_text(json.dumps({"graphs": {"agent": "./agent.py:graph"}}))
    return str(config)


def pg(database: str) -> str:
    return ADMIN_URL.rsplit("/", 1)[0] + f"/{database}"


CASES = {
    # name: (command, environment changes (callable of tmp_path or value), words of the line)
    "database refuses": (
        "serve",
        {"COUNTERSIGN_DATABASE_URL": "postgresql://countersign@127.0.0.1:1/countersign"},
        ("COUNTERSIGN_DATABASE_URL", "127.0.0.1:1"),
    ),
    "database missing": (
        "api",
        {"COUNTERSIGN_DATABASE_URL": pg("countersign_no_such_database")},
        ("COUNTERSIGN_DATABASE_URL", "does not exist"),
    ),
    "redis unreachable": (
        "api",
        {
            "COUNTERSIGN_DATABASE_URL": pg("postgres"),
            "COUNTERSIGN_REDIS_URL": "redis://127.0.0.1:1",
        },
        ("COUNTERSIGN_REDIS_URL", "127.0.0.1:1"),
    ),
    "no langgraph.json": (
        "serve",
        {"COUNTERSIGN_GRAPHS_CONFIG": "{tmp}/missing/langgraph.json"},
        ("langgraph.json", "COUNTERSIGN_GRAPHS_CONFIG"),
    ),
    "graph syntax error": (
        "serve",
        {"COUNTERSIGN_GRAPHS_CONFIG": "{broken}"},
        ("agent.py line 1", "syntax error"),
    ),
    "worker graph syntax error": (
        "worker",
        {"COUNTERSIGN_GRAPHS_CONFIG": "{broken}"},
        ("agent.py line 1", "syntax error"),
    ),
    "busy port": ("serve", {"COUNTERSIGN_PORT": "{busy}"}, ("already in use", "--port")),
    "worker busy port": (
        "worker",
        {"COUNTERSIGN_WORKER_HEALTH_PORT": "{busy}"},
        ("already in use", "COUNTERSIGN_WORKER_HEALTH_PORT"),
    ),
    "production without a secret": (
        "api",
        {
            "COUNTERSIGN_ENV": "production",
            "COUNTERSIGN_JWT_SECRET": "",
            "COUNTERSIGN_DATABASE_URL": pg("postgres"),
        },
        ("COUNTERSIGN_JWT_SECRET",),
    ),
    "port not a number": ("serve", {"COUNTERSIGN_PORT": "eighty"}, ("COUNTERSIGN_PORT",)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_start_that_cannot_work_says_why_in_one_line(
    case: str, base: dict[str, str], tmp_path: Path, busy_port: int
) -> None:
    command, changes, words = CASES[case]
    fill = {"tmp": str(tmp_path), "busy": str(busy_port), "broken": ""}
    if "{broken}" in changes.values():
        fill["broken"] = broken_graph(tmp_path)
    env = {**base, **{name: value.format(**fill) for name, value in changes.items()}}
    code, output, seconds = countersign(command, env=env)
    assert code != 0, output
    assert seconds < LIMIT_SECONDS, f"{case}: took {seconds:.1f} s\n{output}"
    lines = output.strip().splitlines()
    assert len(lines) == 1, f"{case}: expected one line, got:\n{output}"
    line = lines[0]
    assert line.startswith("countersign: "), line
    assert "Traceback" not in line, line
    assert "{" not in line, line  # not a JSON log record
    for word in words:
        assert word in line, f"{case}: {word!r} not in {line!r}"
    assert not any(word in line for word in BANNER_WORDS), line
    assert "postgres@" not in line  # a URL is named by host, port and database only


def test_debug_shows_the_traceback(base: dict[str, str], busy_port: int) -> None:
    code, output, _ = countersign(
        "serve", "--debug", env={**base, "COUNTERSIGN_PORT": str(busy_port)}
    )
    assert code != 0
    assert "Traceback" in output
    assert "already in use" in output


def test_every_command_and_option_is_described() -> None:
    code, output, _ = countersign("--help", env={})
    assert code == 0
    for command in ("serve", "api", "worker", "migrate", "token", "tenant", "policy"):
        assert command in output
    code, output, _ = countersign("serve", "--help", env={})
    assert code == 0
    for words in ("--host", "COUNTERSIGN_HOST", "--port", "COUNTERSIGN_PORT", "--debug"):
        assert words in output, output
    code, output, _ = countersign("worker", "--help", env={})
    assert "COUNTERSIGN_WORKER_HEALTH_PORT" in output
    assert "COUNTERSIGN_WORKER_CONCURRENCY" in output


def test_a_good_start_with_flags(base: dict[str, str], tmp_path: Path) -> None:
    port = free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "service.cli",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=ROOT,
            env={**os.environ, **base, "COUNTERSIGN_PORT": str(free_port())},  # the flag wins
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while "dev token:" not in log_path.read_text():
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.05)
        # the banner is printed once the port answers
        assert httpx.get(f"{url}/ok", timeout=5).status_code == 200
        root = httpx.get(f"{url}/", timeout=5)
        assert root.status_code in (307, 308)
        assert root.headers["location"] == "/ui/"
        token = log_path.read_text().split("dev token:", 1)[1].split()[0]
        ask = httpx.get(
            f"{url}/threads/{'0' * 8}-0000-0000-0000-{'0' * 12}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=5,
        )
        assert ask.status_code == 404
        request_id = ask.headers["x-request-id"]
        # a run: one line when a worker claims it, one when it ends
        auth = {"Authorization": f"Bearer {token}"}
        tid = httpx.post(f"{url}/threads", json={}, headers=auth, timeout=5).json()["thread_id"]
        run = httpx.post(
            f"{url}/threads/{tid}/runs/wait",
            json={"assistant_id": "refund_agent", "input": REFUND},
            headers=auth,
            timeout=60,
        )
        assert run.status_code == 200, run.text
        run_id = run.headers["content-location"].rsplit("/", 1)[-1]
        deadline = time.monotonic() + 5
        while request_id not in log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=40)
    text = log_path.read_text()
    records = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    access = [r for r in records if r["logger"] == "countersign.access"]
    mine = [r for r in access if r.get("request_id") == request_id]
    assert len(mine) == 1, access
    assert mine[0]["status"] == 404
    assert mine[0]["tenant"] == "demo"
    assert mine[0]["sub"] == "demo-user"
    assert mine[0]["method"] == "GET"
    assert mine[0]["path"].startswith("/threads/")
    assert token not in text.split("dev token:", 1)[1].split("\n", 1)[1]  # only the banner has it
    assert not [r for r in records if r["logger"].startswith("casbin")]  # the model is not dumped
    assert "Traceback" not in text
    states = [r for r in records if r["logger"] == "countersign.runs" and r["run_id"] == run_id]
    assert [r["status"] for r in states] == ["running", "success"], states
    assert {r["tenant"] for r in states} == {"demo"}
    assert [r["run_id"] for r in access if r["method"] == "POST" and "/runs" in r["path"]] == [
        run_id
    ]
