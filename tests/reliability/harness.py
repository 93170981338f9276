"""Fault-test harness (RELIABILITY.md §1): a whole Countersign cluster on this box, no Docker.

A ``Cluster`` owns, and is the only thing that ever signals:

* a fresh Postgres database on the machine's server (``CREATE DATABASE``, migrated with
  ``countersign migrate``, plus the ``side_effects`` ledger of the test graph; dropped at
  the end);
* its own ``redis-server`` on a free port (``--save "" --appendonly no
  --enable-debug-command local``), never the machine's Redis;
* 2 API processes (``python -m service.cli api``) and 2 worker processes
  (``python -m service.cli worker``, concurrency 4, health/metrics on a free port);
* a mock effect sink and webhook receiver (an asyncio HTTP server in a thread of the test
  process) that logs every request and can answer 503 on ``/webhook...`` until a time.

Every PID goes into a pidfile under ``/tmp/countersign-reliability/``; a later session
whose predecessor died without cleaning up kills those PIDs (and only those, after checking
that each still carries this harness's marker in its environment). Faults are applied to
recorded PIDs only: ``kill -9``, ``SIGSTOP``/``SIGCONT``, ``SIGTERM``, restarts with
failpoints, ``SHUTDOWN NOSAVE`` and ``FLUSHALL`` on the harness's own Redis.

Timing (test values): lease 10 s, renewal 3 s, reaper 2 s, so ``T_REC`` = 15 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from tests.fixtures import pgbouncer
from tests.fixtures.app import TEST_SECRET
from tests.fixtures.live import NO_RATE_LIMITS, LiveServer, free_port, start_server

ROOT = Path(__file__).resolve().parents[2]
GRAPHS_CONFIG = ROOT / "tests" / "reliability" / "graphs" / "langgraph.json"
ADMIN_URL = os.environ.get("COUNTERSIGN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
PID_DIR = Path(os.environ.get("HITL_PID_DIR", "/tmp/countersign-reliability"))
MARKER = "COUNTERSIGN_RELIABILITY_OWNER"

LEASE_TTL = 10.0
LEASE_RENEW = 3.0
REAPER_INTERVAL = 2.0
T_REC = LEASE_TTL + REAPER_INTERVAL + 3.0  # lease + reaper + claim = 15 s
MAX_ATTEMPTS = 3
TENANT = "rel"
SUBJECT = "tester"
ROLES = ("tenant_admin", "editor", "agent")

FULL = os.environ.get("HITL_FULL", "").lower() in ("1", "true", "yes")

FAILPOINTS = (
    "after_claim",
    "mid_graph",
    "after_effect_before_checkpoint",
    "after_checkpoint_before_finalize",
    "after_finalize_before_ack",
)


def timeout(ci: float, full: float) -> float:
    """A test's time limit: ``full`` under ``HITL_FULL=1``."""
    return full if FULL else ci


def iterations(ci: int, full: int) -> int:
    """Iteration count of a test: ``full`` under ``HITL_FULL=1`` (scripts/reliability.sh)."""
    override = os.environ.get("HITL_ITERATIONS")
    if override:
        return max(1, int(override))
    return full if FULL else ci


def log(message: str) -> None:
    """Progress lines for ``pytest -s`` runs and the reliability script."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# ---- pidfile bookkeeping ----------------------------------------------------------------


def _pidfile() -> Path:
    PID_DIR.mkdir(parents=True, exist_ok=True)
    return PID_DIR / f"{os.getpid()}.pids"


def _record_pid(pid: int, what: str) -> None:
    with _pidfile().open("a") as handle:
        handle.write(f"{pid} {what}\n")


def _prune_pidfile() -> None:
    """Forget the PIDs of this session that are gone (the file goes when all are)."""
    path = _pidfile()
    alive = [
        line
        for line in path.read_text().splitlines()
        if line.split(" ", 1)[0].isdigit() and Path(f"/proc/{line.split(' ', 1)[0]}").exists()
    ]
    if alive:
        path.write_text("".join(f"{line}\n" for line in alive))
    else:
        path.unlink(missing_ok=True)


def _carries_marker(pid: int, owner: str) -> bool:
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False
    return f"{MARKER}={owner}".encode() in environ.split(b"\0")


def reap_orphans() -> list[int]:
    """Kill processes left by an earlier test session that died without its cleanup.

    Only PIDs listed in a pidfile whose owning pytest process is gone, and only when the
    process still carries that owner's marker in its environment (no PID-reuse accidents).
    """
    killed: list[int] = []
    if not PID_DIR.exists():
        return killed
    for path in PID_DIR.glob("*.pids"):
        owner = path.stem
        if owner.isdigit() and Path(f"/proc/{owner}").exists():
            continue
        for line in path.read_text().splitlines():
            pid_text = line.split(" ", 1)[0]
            if pid_text.isdigit() and _carries_marker(int(pid_text), owner):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid_text), signal.SIGKILL)
                    killed.append(int(pid_text))
        path.unlink(missing_ok=True)
    return killed


# ---- the mock effect sink and webhook receiver -------------------------------------------


@dataclass(frozen=True)
class Request:
    at: float  # time.time() when the request was fully read
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    status: int  # what the sink answered

    def json(self) -> Any:
        return json.loads(self.body or b"null")


class Sink:
    """HTTP/1.1 server in its own thread and event loop; logs every request.

    ``/webhook...`` paths answer 503 while ``time.time() < fail_until``; everything else
    answers 200 ``{}``. Keep-alive is supported (the webhook sender pools connections).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[Request] = []
        self.fail_until = 0.0
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="reliability-sink", daemon=True)
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(10) or self._error is not None:
            raise RuntimeError(f"the mock sink did not start: {self._error!r}")

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread.ident is not None:
            self._thread.join(10)

    def requests(self, prefix: str = "/") -> list[Request]:
        with self._lock:
            return [r for r in self._requests if r.path.startswith(prefix)]

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # surfaced by start()
            self._error = exc
            self._ready.set()
        finally:
            loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0, backlog=1024)
        self.port = int(server.sockets[0].getsockname()[1])
        self._ready.set()
        async with server:
            await self._stop.wait()

    async def _read_body(self, reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            chunks = []
            while True:
                size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    await reader.readline()
                    return b"".join(chunks)
                chunks.append(await reader.readexactly(size))
                await reader.readline()
        length = int(headers.get("content-length", "0") or 0)
        return await reader.readexactly(length) if length else b""

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line.strip():
                    break
                method, path, *_ = line.decode("latin-1").split()
                headers: dict[str, str] = {}
                while True:
                    raw = await reader.readline()
                    if raw in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = raw.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await self._read_body(reader, headers)
                failing = path.startswith("/webhook") and time.time() < self.fail_until
                status = 503 if failing else 200
                with self._lock:
                    self._requests.append(Request(time.time(), method, path, headers, body, status))
                reason = "Service Unavailable" if failing else "OK"
                close = headers.get("connection", "").lower() == "close"
                writer.write(
                    f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: 2\r\nConnection: {'close' if close else 'keep-alive'}"
                    "\r\n\r\n{}".encode()
                )
                await writer.drain()
                if close:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


# ---- processes -------------------------------------------------------------------------


@dataclass
class Proc:
    """One process the harness started: an API, a worker or the Redis server."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    port: int  # API port, worker health port, or Redis port
    env: dict[str, str]
    failpoints: str = ""
    started_at: float = field(default_factory=time.monotonic)
    stopped: bool = False  # SIGSTOPped by the harness
    killed_at: float | None = None  # time.monotonic() when SIGKILL was sent
    group: bool = False  # a process group leader (a worker's supervisor): signal the group

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def signal(self, sig: int) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                if self.group:  # the worker's supervisor and the processes it runs
                    os.killpg(self.pid, sig)
                else:
                    os.kill(self.pid, sig)

    def kill(self) -> None:
        """SIGKILL and reap."""
        if self.stopped:
            self.signal(signal.SIGCONT)  # a stopped process dies of SIGKILL too; tidy anyway
            self.stopped = False
        if self.alive():
            self.signal(signal.SIGKILL)
            self.killed_at = time.monotonic()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(10)


def _wait_http_ok(proc: Proc, url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(
                f"{proc.name} exited with {proc.popen.returncode} while starting:\n"
                f"{proc.log_tail()}"
            )
        try:
            if httpx.get(url, timeout=1.0, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{proc.name} not ready after {timeout:.0f} s:\n{proc.log_tail()}")


def _require_binaries() -> None:
    import shutil

    missing = [b for b in ("redis-server", "redis-cli") if shutil.which(b) is None]
    if missing:
        raise RuntimeError(
            f"the reliability tests need {', '.join(missing)} on PATH "
            "(Debian: apt-get install redis-server)"
        )


# ---- the cluster -----------------------------------------------------------------------


class Cluster:
    """Postgres database + own Redis + 2 APIs + 2 workers + the sink, for one test module."""

    def __init__(
        self,
        tmp: Path,
        *,
        apis: int = 2,
        workers: int = 2,
        concurrency: int = 4,
        pool_size: int = 5,
        extra_env: dict[str, str] | None = None,
        admin_url: str = ADMIN_URL,
    ) -> None:
        _require_binaries()
        self.tmp = tmp
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.api_count = apis
        self.worker_count = workers
        self.concurrency = concurrency
        self.db_name = f"rel_{uuid.uuid4().hex[:12]}"
        self.admin_url = admin_url  # a test with a Postgres of its own passes its URL
        base, _, _ = admin_url.rpartition("/")
        self.dsn = f"{base}/{self.db_name}"
        self.redis_port = free_port()
        self.redis: Proc | None = None
        self.apis: list[LiveServer] = []
        self.workers: list[Proc] = []
        self.sink = Sink()
        self.token = ""
        self._pool_size = pool_size
        self._extra_env = extra_env or {}
        self._owner = str(os.getpid())
        self._db_created = False
        self._restart_locks: dict[int, threading.Lock] = {}
        self.kills = 0  # kill -9 applied by the tests

    # -- environment --

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    def base_env(self) -> dict[str, str]:
        return {
            MARKER: self._owner,
            "COUNTERSIGN_ENV": "test",
            "COUNTERSIGN_DATABASE_URL": pgbouncer.pooled(self.dsn),
            "COUNTERSIGN_REDIS_URL": self.redis_url,
            "COUNTERSIGN_JWT_SECRET": TEST_SECRET,
            "COUNTERSIGN_GRAPHS_CONFIG": str(GRAPHS_CONFIG),
            "COUNTERSIGN_RUN_IN_API": "false",
            **NO_RATE_LIMITS,
            "COUNTERSIGN_LEASE_TTL_SECONDS": str(LEASE_TTL),
            "COUNTERSIGN_LEASE_RENEW_SECONDS": str(LEASE_RENEW),
            "COUNTERSIGN_REAPER_INTERVAL_SECONDS": str(REAPER_INTERVAL),
            "COUNTERSIGN_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
            "COUNTERSIGN_METRICS_SAMPLE_SECONDS": "1",
            "COUNTERSIGN_WEBHOOK_ALLOW": '["127.0.0.1/32"]',
            "COUNTERSIGN_DB_POOL_SIZE": str(self._pool_size),
            "COUNTERSIGN_DB_MAX_OVERFLOW": str(self._pool_size),
            "HITL_TEST": "1",
            "HITL_FAILPOINTS": "",
            "HITL_SINK_URL": self.sink.url,
            "HITL_LEDGER_DSN": self.dsn,
            **pgbouncer.pooled_env(),
            **self._extra_env,
        }

    # -- lifecycle --

    def start(self) -> Cluster:
        reap_orphans()
        started = time.monotonic()
        self._create_database()
        self.sink.start()
        self._start_redis()
        self._migrate()
        with ThreadPoolExecutor(max_workers=self.api_count + self.worker_count + 1) as pool:
            api_jobs = [pool.submit(self._start_api, i) for i in range(self.api_count)]
            worker_jobs = [
                pool.submit(self._spawn_worker, "", True) for _ in range(self.worker_count)
            ]
            token_job = pool.submit(self._mint)
            errors: list[BaseException] = []
            for job in api_jobs:
                try:
                    self.apis.append(job.result())
                except BaseException as exc:
                    errors.append(exc)
            for job in worker_jobs:
                try:
                    self.workers.append(job.result())
                except BaseException as exc:
                    errors.append(exc)
            try:
                self.token = token_job.result()
            except BaseException as exc:
                errors.append(exc)
        for i in range(len(self.workers)):
            self._restart_locks[i] = threading.Lock()
        if errors:
            raise errors[0]
        log(f"cluster {self.db_name} ready in {time.monotonic() - started:.1f} s")
        return self

    def close(self) -> None:
        """Kill everything this cluster started (by PID), then drop its database."""
        for proc in self.workers:
            proc.kill()
        for server in self.apis:
            if server.process.poll() is None:
                server.process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.process.wait(10)
        if self.redis is not None:
            self.redis.kill()
        self.sink.stop()
        _prune_pidfile()
        if self._db_created:
            with psycopg.connect(self.admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')

    def _create_database(self) -> None:
        try:
            with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=5) as conn:
                conn.execute(f'CREATE DATABASE "{self.db_name}"')
        except psycopg.OperationalError as exc:
            raise RuntimeError(
                f"the reliability tests need Postgres at {self.admin_url} (run `make services`): "
                f"{exc}"
            ) from exc
        self._db_created = True
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE side_effects (key text PRIMARY KEY, thread_id text NOT NULL, "
                "interrupt_id text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
            )

    def _cli(self, *args: str, timeout: float = 120, direct: bool = False) -> str:
        env = {**os.environ, **self.base_env()}
        if direct:  # as an operator migrates: to Postgres itself, never through a pooler
            env["COUNTERSIGN_DATABASE_URL"] = self.dsn
        done = subprocess.run(
            [sys.executable, "-m", "service.cli", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(f"countersign {' '.join(args)} failed:\n{done.stderr[-3000:]}")
        return done.stdout

    def _migrate(self) -> None:
        self._cli("migrate", direct=True)

    def _mint(self) -> str:
        return self.mint(TENANT, SUBJECT)

    def mint(self, tenant: str, subject: str) -> str:
        """A day-long token of ``subject`` in ``tenant``, which gets every role first."""
        roles = [arg for role in ROLES for arg in ("--role", role)]
        out = self._cli(
            "token", "mint", "--tenant", tenant, "--sub", subject, "--ttl", "86400", *roles
        )
        return out.strip().splitlines()[-1]

    def _start_redis(self) -> None:
        log_path = self.tmp / f"redis-{self.redis_port}.log"
        with log_path.open("ab") as out:
            popen = subprocess.Popen(
                [
                    "redis-server",
                    "--port",
                    str(self.redis_port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--enable-debug-command",
                    "local",
                    "--daemonize",
                    "no",
                ],
                cwd=self.tmp,
                env={**os.environ, MARKER: self._owner},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        _record_pid(popen.pid, "redis")
        self.redis = Proc("redis", popen, log_path, self.redis_port, {})
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if not self.redis.alive():
                raise RuntimeError(f"redis-server exited:\n{self.redis.log_tail()}")
            with contextlib.suppress(RuntimeError):
                if self.redis_cli("PING").strip() == "PONG":
                    return
            time.sleep(0.05)
        raise RuntimeError(f"redis-server not answering:\n{self.redis.log_tail()}")

    def _start_api(self, index: int) -> LiveServer:
        server = start_server(self.tmp / f"api{index}", self.base_env(), command=("api",))
        _record_pid(server.process.pid, f"api{index}")
        return server

    def kill_api(self, index: int) -> None:
        """``kill -9`` API process ``index``."""
        process = self.apis[index].process
        process.kill()
        process.wait(10)

    def restart_api(self, index: int) -> LiveServer:
        """Start a new API process in slot ``index`` (on a new port) once the old one is gone."""
        if self.apis[index].process.poll() is None:
            self.kill_api(index)
        self.apis[index] = self._start_api(index)
        return self.apis[index]

    def _spawn_worker(self, failpoints: str, wait_ready: bool) -> Proc:
        port = free_port()
        env = {
            **os.environ,
            **self.base_env(),
            "COUNTERSIGN_WORKER_CONCURRENCY": str(self.concurrency),
            "COUNTERSIGN_WORKER_HEALTH_HOST": "127.0.0.1",
            "COUNTERSIGN_WORKER_HEALTH_PORT": str(port),
            "HITL_FAILPOINTS": failpoints,
        }
        if failpoints:
            # a failpoint's exit is the death of the whole worker (its pod): an armed worker
            # runs bare, without the supervisor that would restart the process (R11 tests it)
            env["COUNTERSIGN_WORKER_SUPERVISE"] = "false"
        log_path = self.tmp / f"worker-{port}.log"
        with log_path.open("ab") as out:
            popen = subprocess.Popen(
                [sys.executable, "-m", "service.cli", "worker"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: signals reach its children
            )
        _record_pid(popen.pid, "worker")
        proc = Proc(f"worker:{port}", popen, log_path, port, env, failpoints=failpoints, group=True)
        if wait_ready:
            try:
                self.wait_worker_ready(proc)
            except BaseException:
                proc.kill()
                raise
        return proc

    def wait_worker_ready(self, proc: Proc, timeout: float = 60) -> None:
        _wait_http_ok(proc, f"http://127.0.0.1:{proc.port}/readyz", timeout)

    # -- workers: faults --

    def worker_index(self, pid: int) -> int | None:
        for i, proc in enumerate(self.workers):
            if proc.pid == pid:
                return i
        return None

    def holder(self, lease_owner: str | None) -> int | None:
        """The index of the live worker named by ``runs.lease_owner`` (``worker-host-PID``)."""
        if not lease_owner:
            return None
        tail = lease_owner.rsplit("-", 1)[-1]
        if not tail.isdigit():
            return None
        index = self.worker_index(int(tail))
        if index is None or not self.workers[index].alive():
            return None
        return index

    def kill_worker(self, index: int) -> int:
        """``kill -9`` worker ``index``; returns the PID killed."""
        proc = self.workers[index]
        pid = proc.pid
        proc.kill()
        self.kills += 1
        return pid

    def stop_worker(self, index: int) -> None:
        self.workers[index].signal(signal.SIGSTOP)
        self.workers[index].stopped = True

    def cont_worker(self, index: int) -> None:
        self.workers[index].signal(signal.SIGCONT)
        self.workers[index].stopped = False

    def term_worker(self, index: int) -> None:
        self.workers[index].signal(signal.SIGTERM)

    def restart_worker(self, index: int, failpoints: str = "", *, wait_ready: bool = True) -> Proc:
        """Kill worker ``index`` if it still runs, start a new one in its slot."""
        with self._restart_locks.setdefault(index, threading.Lock()):
            old = self.workers[index]
            if old.alive():
                old.kill()
            elif old.popen.returncode is None:
                old.popen.wait(5)
            proc = self._spawn_worker(failpoints, wait_ready)
            self.workers[index] = proc
            return proc

    async def arestart_worker(
        self, index: int, failpoints: str = "", *, wait_ready: bool = True
    ) -> Proc:
        return await asyncio.to_thread(
            self.restart_worker, index, failpoints, wait_ready=wait_ready
        )

    def ensure_workers(self) -> None:
        """Restart (without failpoints) every worker that died; SIGCONT stopped ones."""
        for i, proc in enumerate(self.workers):
            if proc.stopped:
                self.cont_worker(i)
            if not proc.alive():
                self.restart_worker(i)

    # -- Redis --

    def redis_cli(self, *args: str, timeout: float = 10) -> str:
        done = subprocess.run(
            ["redis-cli", "-h", "127.0.0.1", "-p", str(self.redis_port), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"redis-cli {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def flushall(self) -> None:
        self.redis_cli("FLUSHALL")

    def redis_shutdown(self) -> None:
        """``SHUTDOWN NOSAVE`` on this cluster's Redis (kill -9 if it does not go)."""
        assert self.redis is not None
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self.redis_cli("SHUTDOWN", "NOSAVE", timeout=5)
        try:
            self.redis.popen.wait(10)
        except subprocess.TimeoutExpired:
            self.redis.kill()

    def redis_restart(self, *, down_seconds: float = 0.0) -> None:
        self.redis_shutdown()
        if down_seconds:
            time.sleep(down_seconds)
        self._start_redis()

    # -- observation --

    def sql(self, query: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            return list(conn.execute(query, params).fetchall())

    async def asql(
        self, query: str, params: Sequence[Any] | dict[str, Any] = ()
    ) -> list[tuple[Any, ...]]:
        async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as conn:
            cursor = await conn.execute(query, params)
            return list(await cursor.fetchall())

    def worker_metrics(self, index: int) -> str:
        port = self.workers[index].port
        return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5, trust_env=False).text

    def api_metrics(self, index: int) -> str:
        return httpx.get(f"{self.apis[index].url}/metrics", timeout=5, trust_env=False).text

    def fenced_writes(self) -> float:
        """``countersign_fenced_write_rejected_total`` summed over the live workers."""
        total = 0.0
        for i, proc in enumerate(self.workers):
            if proc.alive() and not proc.stopped:
                total += metric_sum(
                    self.worker_metrics(i), "countersign_fenced_write_rejected_total"
                )
        return total

    def client(self, api: int = 0, timeout: float = 30.0) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.apis[api % len(self.apis)].url,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=timeout,
            trust_env=False,
            # idle connections expire before uvicorn's 5 s keep-alive does: a request never
            # goes out on a connection the server is closing at that moment (ReadError)
            limits=httpx.Limits(
                max_connections=200, max_keepalive_connections=50, keepalive_expiry=2.0
            ),
        )


def metric_sum(text: str, name: str, labels: dict[str, str] | None = None) -> float:
    """Sum of the samples of metric ``name`` (any labels, or those matching ``labels``)."""
    total = 0.0
    pattern = re.compile(rf"^{re.escape(name)}(\{{[^}}]*\}})?\s+(\S+)")
    for line in text.splitlines():
        match = pattern.match(line)
        if not match:
            continue
        if labels:
            got = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1) or ""))
            if any(got.get(k) != v for k, v in labels.items()):
                continue
        total += float(match.group(2))
    return total


# ---- the API as the tests drive it -------------------------------------------------------


class Driver:
    """Async helpers over both API processes and the database of one cluster."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.clients = [cluster.client(i) for i in range(len(cluster.apis))]

    async def aclose(self) -> None:
        for client in self.clients:
            await client.aclose()

    def api(self, index: int = 0) -> httpx.AsyncClient:
        return self.clients[index % len(self.clients)]

    async def create_thread(self, api: int = 0) -> str:
        reply = await self.api(api).post("/threads", json={})
        assert reply.status_code == 200, reply.text
        return str(reply.json()["thread_id"])

    async def start_run(
        self,
        thread_id: str,
        graph: str,
        run_input: Any = None,
        *,
        api: int = 0,
        expect: int | None = 202,
        **body: Any,
    ) -> httpx.Response:
        payload = {"assistant_id": graph, **body}
        if run_input is not None:
            payload["input"] = run_input
        # an asynchronous client: answered 202 (the default answer is 200 with the same run)
        reply = await self.api(api).post(
            f"/threads/{thread_id}/runs", json=payload, headers={"Prefer": "respond-async"}
        )
        if expect is not None:
            assert reply.status_code == expect, reply.text
        return reply

    async def start_pipeline(
        self, *, tool_calls: int = 1, api: int = 0, **request: Any
    ) -> tuple[str, str]:
        """A new thread running ``hitl_pipeline``; returns ``(thread_id, run_id)``."""
        thread_id = await self.create_thread(api)
        reply = await self.start_run(
            thread_id,
            "hitl_pipeline",
            {"request": {"tool_calls": tool_calls, **request}},
            api=api,
        )
        return thread_id, str(reply.json()["run_id"])

    async def resume(
        self, thread_id: str, decision: Any = None, *, api: int = 0, expect: int | None = 202
    ) -> httpx.Response:
        return await self.start_run(
            thread_id,
            "hitl_pipeline",
            api=api,
            expect=expect,
            command={"resume": decision or {"type": "accept", "args": None}},
        )

    async def decide(
        self, item_id: str, payload_hash: str, *, key: str, api: int = 0, decision: Any = None
    ) -> httpx.Response:
        return await self.api(api).post(
            f"/inbox/{item_id}/decision",
            json={
                "decision": decision or {"type": "accept", "args": None},
                "payload_hash": payload_hash,
            },
            headers={"Idempotency-Key": key},
        )

    async def run_row(self, run_id: str) -> dict[str, Any] | None:
        rows = await self.cluster.asql(
            "SELECT run_id, thread_id, status, attempt, fence, lease_owner, started_at, "
            "ended_at, updated_at, error FROM runs WHERE run_id = %s",
            (run_id,),
        )
        if not rows:
            return None
        keys = [
            "run_id",
            "thread_id",
            "status",
            "attempt",
            "fence",
            "lease_owner",
            "started_at",
            "ended_at",
            "updated_at",
            "error",
        ]
        return dict(zip(keys, rows[0], strict=True))

    async def pending_interrupts(self, thread_id: str) -> list[dict[str, Any]]:
        rows = await self.cluster.asql(
            "SELECT id, interrupt_id, payload_hash, type, run_id FROM interrupts "
            "WHERE thread_id = %s AND status = 'pending' ORDER BY created_at",
            (thread_id,),
        )
        return [
            {"id": r[0], "interrupt_id": r[1], "payload_hash": r[2], "type": r[3], "run_id": r[4]}
            for r in rows
        ]

    async def thread_status(self, thread_id: str) -> str | None:
        rows = await self.cluster.asql(
            "SELECT status FROM threads WHERE thread_id = %s", (thread_id,)
        )
        return str(rows[0][0]) if rows else None

    async def wait_for(
        self,
        what: str,
        probe: Callable[[], Any],
        *,
        timeout: float,
        every: float = 0.1,
    ) -> Any:
        """Poll ``await probe()`` until it returns something truthy; fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            last = await probe()
            if last:
                return last
            await asyncio.sleep(every)
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")

    async def wait_run(
        self, run_id: str, statuses: Iterable[str], timeout: float
    ) -> dict[str, Any]:
        wanted = set(statuses)

        async def probe() -> dict[str, Any] | None:
            row = await self.run_row(run_id)
            return row if row is not None and row["status"] in wanted else None

        result: dict[str, Any] = await self.wait_for(
            f"run {run_id} in {sorted(wanted)}", probe, timeout=timeout
        )
        return result

    async def wait_interrupted(self, thread_id: str, timeout: float) -> dict[str, Any]:
        """Until the thread is ``interrupted`` with one pending interrupt; returns it."""

        async def probe() -> dict[str, Any] | None:
            if await self.thread_status(thread_id) != "interrupted":
                return None
            pending = await self.pending_interrupts(thread_id)
            return pending[0] if len(pending) == 1 else None

        found: dict[str, Any] = await self.wait_for(
            f"thread {thread_id} interrupted", probe, timeout=timeout
        )
        return found

    async def wait_all_interrupted(
        self, thread_ids: Sequence[str], timeout: float
    ) -> dict[str, dict[str, Any]]:
        results = await asyncio.gather(*(self.wait_interrupted(t, timeout) for t in thread_ids))
        return dict(zip(thread_ids, results, strict=True))

    async def paced_runs(
        self, rate: float, seconds: float, label: str, *, stop: asyncio.Event | None = None
    ) -> list[Answer]:
        """For ``seconds`` (or until ``stop`` is set), one 0.05 s ``slow_steps`` run every
        ``1 / rate`` s, each on a new thread (``{label}-...``, created by the run), alternating
        API processes; started at the rate whatever the API's latency. The answers, in the
        order they came."""
        answers: list[Answer] = []

        async def start(n: int) -> None:
            began = time.monotonic()
            reply = await self.start_run(
                f"{TENANT}:{label}-{uuid.uuid4().hex}",
                "slow_steps",
                {"steps": 1, "seconds": 0.05, "ticks": 0},
                api=n,
                expect=None,
                if_not_exists="create",
            )
            accepted = reply.status_code == 202
            answers.append(
                Answer(
                    status=reply.status_code,
                    seconds=time.monotonic() - began,
                    run_id=str(reply.json()["run_id"]) if accepted else None,
                    retry_after=reply.headers.get("retry-after"),
                )
            )

        started: list[asyncio.Task[None]] = []
        deadline = time.monotonic() + seconds
        n = 0
        while time.monotonic() < deadline and not (stop is not None and stop.is_set()):
            started.append(asyncio.create_task(start(n)))
            n += 1
            await asyncio.sleep(1.0 / rate)
        await asyncio.gather(*started)
        return answers


@dataclass(frozen=True)
class Answer:
    """How the API answered one ``POST /threads/{id}/runs``."""

    status: int
    seconds: float
    run_id: str | None
    retry_after: str | None


# ---- invariants (RELIABILITY.md §0) ------------------------------------------------------


@dataclass
class Report:
    checks: dict[str, Any] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        self.violations.append(message)


def _decision_type(value: Any) -> str | None:
    if isinstance(value, dict) and len(value) == 1 and not {"type", "args"} & set(value):
        value = next(iter(value.values()))  # {interrupt_id: HumanResponse}
    if isinstance(value, list) and value:
        value = value[0]
    if isinstance(value, dict):
        kind = value.get("type")
        return str(kind) if kind else None
    return None


async def check_invariants(
    cluster: Cluster,
    *,
    zombies: int = 0,
    accepted: dict[str, int] | None = None,
    max_sink_calls: int | None = None,
    settle: float = T_REC,
    graph: str = "hitl_pipeline",
    threads: Iterable[str] | None = None,
) -> Report:
    """Check INV-1..8 on the cluster's database, sink and metrics; assert no violation.

    * INV-1: waits up to ``settle`` seconds for every run to leave pending/running, then
      ``count(*) WHERE status IN ('pending','running') AND updated_at < now() - T_rec`` = 0.
    * INV-2: no two checkpoints share a parent (root namespace).
    * INV-3: the partial unique index exists, and no two runs of a thread have overlapping
      ``[started_at, ended_at]`` intervals.
    * INV-4: one ledger row per resolved accept/edit interrupt whose resume run succeeded
      (and none for anything else); every such key reached the sink, every sink call's
      ``Idempotency-Key`` equals ``{thread_id}:{interrupt_id}`` of its body; optionally at
      most ``max_sink_calls`` calls per key.
    * INV-5: at most one resolved row per (thread, interrupt, payload hash); ``accepted``
      maps an interrupt to the number of 202s the test observed for it (must be <= 1).
    * INV-6: fenced writes rejected (summed over live workers) >= ``zombies``.
    * INV-7: every finished run has its ``run.completed`` outbox event.
    * INV-8: max(attempt) <= 3.

    ``threads``: judge INV-2 to INV-5 on these threads only (a model-based test checks the
    threads of one example, so that its shrunk counterexample is the one that broke them).
    """
    report = Report()
    scope = None if threads is None else set(threads)

    def ours(thread_id: object) -> bool:
        return scope is None or thread_id in scope

    # INV-1
    deadline = time.monotonic() + settle
    inflight: list[tuple[Any, ...]] = []
    while time.monotonic() < deadline:
        inflight = await cluster.asql(
            "SELECT run_id, status, attempt, lease_owner, updated_at FROM runs "
            "WHERE status IN ('pending', 'running') AND available_at <= now()"
        )
        if not inflight:
            break
        await asyncio.sleep(0.25)
    stuck = await cluster.asql(
        "SELECT run_id, status, attempt, lease_owner, updated_at FROM runs "
        "WHERE status IN ('pending', 'running') AND updated_at < now() - make_interval(secs => %s)",
        (T_REC,),
    )
    report.checks["INV-1 in flight after settle"] = len(inflight)
    report.checks["INV-1 stuck"] = len(stuck)
    if stuck:
        report.fail(f"INV-1: {len(stuck)} runs pending/running for more than T_rec: {stuck[:5]}")

    # INV-2
    forks = await cluster.asql(
        "SELECT thread_id, parent_checkpoint_id, count(*) FROM checkpoints "
        "WHERE checkpoint_ns = '' AND parent_checkpoint_id IS NOT NULL "
        "GROUP BY 1, 2 HAVING count(*) > 1"
    )
    forks = [row for row in forks if ours(row[0])]
    report.checks["INV-2 forks"] = len(forks)
    if forks:
        report.fail(f"INV-2: {len(forks)} forked checkpoints: {forks[:5]}")

    # INV-3
    index = await cluster.asql(
        "SELECT indexdef FROM pg_indexes WHERE tablename = 'runs' "
        "AND indexname = 'uq_runs_one_running_per_thread'"
    )
    if not index or "UNIQUE" not in index[0][0] or "running" not in index[0][0]:
        report.fail(f"INV-3: the partial unique index on running runs is missing: {index}")
    overlaps = await cluster.asql(
        "SELECT a.thread_id, a.run_id, b.run_id FROM runs a JOIN runs b "
        "ON a.thread_id = b.thread_id AND a.run_id < b.run_id "
        "WHERE a.started_at IS NOT NULL AND b.started_at IS NOT NULL "
        "AND a.started_at < coalesce(b.ended_at, now()) "
        "AND b.started_at < coalesce(a.ended_at, now())"
    )
    running_twice = await cluster.asql(
        "SELECT thread_id FROM runs WHERE status = 'running' GROUP BY 1 HAVING count(*) > 1"
    )
    overlaps = [row for row in overlaps if ours(row[0])]
    running_twice = [row for row in running_twice if ours(row[0])]
    report.checks["INV-3 overlaps"] = len(overlaps)
    if overlaps or running_twice:
        report.fail(f"INV-3: overlapping runs {overlaps[:5]}, running twice {running_twice}")

    # INV-4
    resolved = await cluster.asql(
        "SELECT i.thread_id, i.interrupt_id, i.decision, r.status FROM interrupts i "
        "LEFT JOIN runs r ON r.run_id = i.resume_run_id "
        "WHERE i.status = 'resolved' AND i.graph_id = %s",
        (graph,),
    )
    resolved = [row for row in resolved if ours(row[0])]
    expected = {
        f"{t}:{i}"
        for t, i, decision, status in resolved
        if status == "success" and _decision_type(decision) in ("accept", "edit")
    }
    maybe = {
        f"{t}:{i}"
        for t, i, decision, status in resolved
        if status != "success" and _decision_type(decision) in ("accept", "edit")
    }
    ledger = {
        row[0]
        for row in await cluster.asql("SELECT key FROM side_effects")
        if ours(row[0].rsplit(":", 1)[0])
    }
    missing = expected - ledger
    unexpected = ledger - expected - maybe
    calls: dict[str, list[Request]] = {}
    bad_keys = []
    for request in cluster.sink.requests("/effect"):
        key = request.headers.get("idempotency-key", "")
        body = request.json()
        if not ours(body.get("thread_id")):
            continue
        if key != f"{body.get('thread_id')}:{body.get('interrupt_id')}":
            bad_keys.append((key, body))
        calls.setdefault(key, []).append(request)
    unsent = {key for key in ledger if key not in calls}
    most = max((len(v) for v in calls.values()), default=0)
    report.checks["INV-4 expected effects"] = len(expected)
    report.checks["INV-4 ledger rows"] = len(ledger)
    report.checks["INV-4 max sink calls per key"] = most
    report.checks["INV-4 keys with >1 sink call"] = sum(1 for v in calls.values() if len(v) > 1)
    if missing:
        report.fail(f"INV-4: resumed interrupts without an effect: {sorted(missing)[:5]}")
    if unexpected:
        report.fail(f"INV-4: effects without an accepted resume: {sorted(unexpected)[:5]}")
    if unsent:
        report.fail(f"INV-4: ledger rows never sent to the sink: {sorted(unsent)[:5]}")
    if bad_keys:
        report.fail(f"INV-4: sink calls with a wrong Idempotency-Key: {bad_keys[:3]}")
    if max_sink_calls is not None and most > max_sink_calls:
        report.fail(f"INV-4: a key reached the sink {most} times (> {max_sink_calls})")

    # INV-5
    doubles = await cluster.asql(
        "SELECT thread_id, interrupt_id, payload_hash, count(*) FROM interrupts "
        "WHERE status = 'resolved' GROUP BY 1, 2, 3 HAVING count(*) > 1"
    )
    doubles = [row for row in doubles if ours(row[0])]
    report.checks["INV-5 doubly resolved"] = len(doubles)
    if doubles:
        report.fail(f"INV-5: interrupts resolved more than once: {doubles[:5]}")
    if accepted:
        over = {k: v for k, v in accepted.items() if v > 1}
        report.checks["INV-5 max 202 per interrupt"] = max(accepted.values())
        if over:
            report.fail(f"INV-5: more than one 202 for one interrupt: {over}")

    # INV-6
    if zombies:
        fenced = await asyncio.to_thread(cluster.fenced_writes)
        report.checks["INV-6 fenced writes"] = fenced
        report.checks["INV-6 zombies"] = zombies
        if fenced < zombies:
            report.fail(f"INV-6: {fenced:g} fenced writes rejected for {zombies} zombies")

    # INV-7
    no_event = await cluster.asql(
        "SELECT r.run_id, r.status FROM runs r LEFT JOIN outbox_events o "
        "ON o.run_id = r.run_id AND o.type = 'run.completed' "
        "WHERE r.status IN ('success', 'error', 'timeout', 'interrupted') AND o.id IS NULL"
    )
    two_events = await cluster.asql(
        "SELECT run_id, count(*) FROM outbox_events WHERE type = 'run.completed' "
        "GROUP BY 1 HAVING count(*) > 1"
    )
    report.checks["INV-7 runs without outbox event"] = len(no_event)
    if no_event or two_events:
        report.fail(f"INV-7: finished runs without an event {no_event[:5]}, twice {two_events[:5]}")

    # INV-8
    top = (await cluster.asql("SELECT coalesce(max(attempt), 0) FROM runs"))[0][0]
    report.checks["INV-8 max attempt"] = top
    if top > MAX_ATTEMPTS:
        report.fail(f"INV-8: a run made {top} attempts (cap {MAX_ATTEMPTS})")

    log("invariants: " + json.dumps(report.checks, default=str))
    assert not report.violations, "invariant violations:\n  " + "\n  ".join(report.violations)
    return report


__all__ = [
    "FAILPOINTS",
    "FULL",
    "LEASE_TTL",
    "MAX_ATTEMPTS",
    "REAPER_INTERVAL",
    "T_REC",
    "Answer",
    "Cluster",
    "Driver",
    "Proc",
    "Report",
    "Request",
    "Sink",
    "check_invariants",
    "iterations",
    "log",
    "metric_sum",
    "timeout",
]
