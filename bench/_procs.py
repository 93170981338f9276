"""Process plumbing for ``bench/side_by_side.py`` (Linux only).

Spawning and stopping servers by PID, readiness polling, CPU time and RSS of process trees
from ``/proc``, a private Postgres cluster and Redis server on free ports, machine facts.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the private Postgres of the tests (tests/fixtures/private_pg.py)

from tests.fixtures.private_pg import PrivatePostgres  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


class StartError(RuntimeError):
    """A server that did not come up; the message ends with the tail of its log."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tail(path: Path, chars: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return f"(no log at {path})"


# ---- /proc ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stat:
    pid: int
    ppid: int
    ticks: int  # utime + stime + cutime + cstime (cutime/cstime: children it reaped)
    start: int  # starttime, tells a reused PID apart
    rss_pages: int


def read_stat(pid: int) -> Stat | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    f = raw[raw.rindex(")") + 2 :].split()  # f[0] is field 3 (state) of proc(5)
    ticks = int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
    return Stat(pid, int(f[1]), ticks, int(f[19]), int(f[21]))


def all_stats() -> dict[int, Stat]:
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := read_stat(int(entry))) is not None:
            stats[stat.pid] = stat
    return stats


def tree(root: int, stats: dict[int, Stat]) -> list[Stat]:
    """``root`` and all its live descendants."""
    children: dict[int, list[int]] = {}
    for s in stats.values():
        children.setdefault(s.ppid, []).append(s.pid)
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            out.append(stats[pid])
            todo.extend(children.get(pid, []))
    return out


def sample(parts: dict[str, int], exclude: frozenset[int] = frozenset()) -> dict[str, Any]:
    """CPU-ms (own + reaped children) and RSS (MB, summed) of each part's process tree."""
    stats = all_stats()
    out: dict[str, Any] = {"t": time.monotonic()}
    for name, root in parts.items():
        procs = [s for s in tree(root, stats) if s.pid not in exclude]
        out[name] = {
            "cpu_ms": sum(s.ticks for s in procs) * 1000 / CLK_TCK,
            "rss_mb": round(sum(s.rss_pages for s in procs) * PAGE / 2**20, 1),
            "procs": len(procs),
        }
    return out


# ---- servers ----------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    pid: int
    log: Path
    popen: subprocess.Popen[bytes] | None = None

    def alive(self) -> bool:
        if self.popen is not None:
            return self.popen.poll() is None
        return read_stat(self.pid) is not None


def spawn(name: str, cmd: list[str], env: dict[str, str], log: Path, cwd: Path = ROOT) -> Server:
    """Start ``cmd`` in a session of its own (a Ctrl-C reaches the bench, not the server)."""
    with log.open("ab") as out:
        popen = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Server(name, popen.pid, log, popen)


def stop(server: Server, grace: float = 15.0) -> None:
    """SIGTERM, then SIGKILL after ``grace`` s; descendants left behind are killed too."""
    stats = all_stats()
    root = stats.get(server.pid)
    family = [s for s in tree(server.pid, stats) if s.pid != server.pid]
    if root is not None and server.alive():
        with contextlib.suppress(ProcessLookupError):
            os.kill(server.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while server.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        if server.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(server.pid, signal.SIGKILL)
    if server.popen is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.popen.wait(5)
    for s in family:
        now = read_stat(s.pid)
        if now is not None and now.start == s.start:
            with contextlib.suppress(ProcessLookupError):
                os.kill(s.pid, signal.SIGKILL)


def wait_http(url: str, server: Server, timeout: float = 120.0) -> float:
    """Seconds until ``url`` answers 200; StartError if the server exits or times out."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if not server.alive():
            raise StartError(f"{server.name} exited early; log tail:\n{tail(server.log)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.monotonic() - began
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise StartError(f"{server.name} not ready at {url} in {timeout:.0f} s:\n{tail(server.log)}")


def redis_server(work: Path, port: int) -> Server:
    log = work / "redis.log"
    cmd = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    cmd += ["--appendonly", "no", "--daemonize", "no", "--dir", str(work)]
    server = spawn("redis", cmd, dict(os.environ), log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not server.alive():
            break
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1) as s:
            s.sendall(b"PING\r\n")
            if s.recv(16).startswith(b"+PONG"):
                return server
        time.sleep(0.1)
    raise StartError(f"redis did not answer PING on {port}:\n{tail(log)}")


class Postgres(PrivatePostgres):
    """A throwaway cluster in ``work/pg``, with pg_stat_statements (``tests/fixtures``'s)."""

    def __init__(self, work: Path, port: int) -> None:
        super().__init__(
            work,
            port,
            "-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all"
            " -c fsync=on",
        )
        self.pid = 0

    def start(self) -> None:
        try:
            if not self.data.exists():
                self.init()
            super().start()
        except RuntimeError as exc:
            raise StartError(str(exc)) from exc
        self.pid = int((self.data / "postmaster.pid").read_text().split()[0])


# ---- the machine ------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip()

    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return {
        "date_utc": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "git_head": git("rev-parse", "--short", "HEAD"),
        "git_dirty_files": len(dirty.splitlines()),
        "loadavg": list(os.getloadavg()),
        "cpu_model": model.group(1).strip() if model else "?",
        "nproc": os.cpu_count(),
        "uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
    }


class PgStats:
    """Counters of database ``dbname``, read over a connection to the ``postgres`` database
    (so the bench's own queries never count in ``dbname``); ``pid`` is that connection's backend,
    which the CPU figures leave out."""

    def __init__(self, port: int, dbname: str) -> None:
        import psycopg

        self.dbname = dbname
        self.conn = psycopg.connect(
            host="127.0.0.1", port=port, user="postgres", dbname="postgres", autocommit=True
        )
        self.pid = int(self.one("SELECT pg_backend_pid()"))

    def one(self, sql: str, *params: Any) -> Any:
        cur = self.conn.execute(sql, params or None)
        row = cur.fetchone() if cur.description else None
        return row[0] if row else None

    def xacts(self) -> int:
        """Committed + rolled back transactions (backends flush these up to ~10 s late)."""
        self.one("SELECT pg_stat_clear_snapshot()")
        sql = "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s"
        return int(self.one(sql, self.dbname))

    def reset_statements(self) -> None:
        self.one("SELECT pg_stat_statements_reset()")

    def statements(self, top: int = 40) -> dict[str, Any]:
        where = (
            "dbid = (SELECT oid FROM pg_database WHERE datname = %s)"
            " AND query NOT ILIKE '%%pg_stat%%'"
        )
        control = r"query ~* '^\s*(begin|commit|rollback|start transaction|savepoint|release)'"
        total, txn = self.conn.execute(
            f"SELECT coalesce(sum(calls), 0), coalesce(sum(calls) FILTER (WHERE {control}), 0)"
            f" FROM pg_stat_statements WHERE {where}",
            (self.dbname,),
        ).fetchone() or (0, 0)
        rows = self.conn.execute(
            "SELECT calls, rows, round(total_exec_time::numeric, 1), query FROM pg_stat_statements"
            f" WHERE {where} ORDER BY calls DESC LIMIT {int(top)}",
            (self.dbname,),
        ).fetchall()
        return {
            "calls": int(total),
            "txn_control_calls": int(txn),
            "top": [
                {"calls": c, "rows": r, "total_ms": float(ms), "query": " ".join(q.split())[:160]}
                for c, r, ms, q in rows
            ],
        }

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()
