"""``langgraph dev`` vs Countersign embedded vs Countersign production: one graph, one load.

    .venv/bin/python bench/side_by_side.py [--modes dev,embedded,production]
        [--concurrency 1,50] [--duration 60] [--warmup 10] [--json PATH] [--statements]
        [--langgraph-venv .bench/langgraph-venv] [--dev-jobs N] [--keep-logs DIR]
        [--profile DIR] [--env COUNTERSIGN_NAME=VALUE ...]

Starts each server in turn with only ``refund_agent`` (./graphs/refund_agent.py) registered, and
drives it with ``bench/hitl_cycle.py`` (the HITL cycle through the official SDK) in a
subprocess of its own, so the client's CPU is never counted as the server's:

- dev: ``langgraph dev --no-browser --no-reload`` from its own venv (created with
  ``pip install "langgraph-cli[inmem]"`` when missing), analytics, LangSmith tracing and the
  PyPI version check off; no token. Its run queue has ``--n-jobs-per-worker`` slots (the CLI
  passes 1 unless told; ``--dev-jobs`` sets it).
- embedded: ``countersign serve`` on a fresh data dir (SQLite, API and worker in one process).
- production: ``countersign api`` + ``countersign worker`` on a private Postgres cluster
  (pg_stat_statements loaded) and a private Redis, after ``countersign migrate``.

Countersign's caller is user ``bench`` of tenant ``bench`` with the roles tenant_admin, editor
and agent (granted with ``countersign token mint --role``; the token from ``mint_token``).

For each server and concurrency c: a warm-up invocation (``--warmup`` s), an idle window
(``--idle`` s: background CPU, and on Postgres background transactions), then the measured
invocation (``--duration`` s), with counters read just before and just after it:

- CPU-ms from /proc (utime+stime, plus cutime+cstime of reaped children) of every server
  process tree, per part (production: api, worker, postgres = postmaster and its backends,
  redis). Per cycle means per executed cycle, ``cycles + c``: each client finishes the cycle
  it is in when the clock stops (uncounted by hitl_cycle) before the after-snapshot.
- production only: SQL statements of the service's database from pg_stat_statements (reset
  before; track=all, utility statements such as BEGIN/COMMIT included), and its transactions
  from pg_stat_database (xact_commit + xact_rollback). PG 15 backends flush those counters up
  to 10 s late, so they are read ``--stats-settle`` s after the load, minus the idle rate over
  that wait. The bench's own queries go to the ``postgres`` database and never count.
- RSS (sum over each part's processes) at the start and end of the measured window.
- ``--profile DIR``: py-spy (``pip install py-spy``) samples every Python server process
  (GIL holder only, ``--gil``) through the measured window into ``DIR/<mode>-c<c>-<part>.txt``
  (collapsed stacks); ``bench/profile_summary.py`` reads them. Sampling costs CPU: a profiled
  run's throughput is not a result.

Only 127.0.0.1 is used; everything started is stopped (also on Ctrl-C) and temp dirs removed.
Exit status 1 if a server failed to start or died.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, NoReturn

from _procs import (
    ROOT,
    PgStats,
    Postgres,
    Server,
    StartError,
    free_port,
    machine,
    redis_server,
    sample,
    spawn,
    stop,
    tail,
    wait_http,
)

MODES = ("dev", "embedded", "production")
TENANT, SUBJECT, ROLES = "bench", "bench", ("tenant_admin", "editor", "agent")
DATABASE = "countersign"
HITL = ROOT / "bench" / "hitl_cycle.py"
GRAPH = ROOT / "graphs" / "refund_agent.py"
DEV_QUIET = {  # read from the installed langgraph_cli / langgraph_api sources
    "LANGGRAPH_CLI_NO_ANALYTICS": "1",  # langgraph_cli.analytics.log_command
    "LANGGRAPH_NO_VERSION_CHECK": "true",  # langgraph_api.cli: PyPI "newer version" thread
    "LANGSMITH_TRACING": "false",  # langgraph_api.config.TRACING (first of these four set)
    "LANGSMITH_TRACING_V2": "false",
    "LANGCHAIN_TRACING_V2": "false",
    "LANGCHAIN_TRACING": "false",
}
DEV_UNSET = (  # any of these would turn on license checks, the metadata beacon or tracing
    "LANGSMITH_API_KEY",
    "LANGCHAIN_API_KEY",
    "LANGSMITH_CONTROL_PLANE_API_KEY",
    "LANGGRAPH_CLOUD_LICENSE_KEY",
    "LANGSMITH_AUTH_ENDPOINT",
    "LANGSMITH_ENDPOINT",
    "LANGCHAIN_ENDPOINT",
)


@dataclass
class Target:
    url: str
    token: str | None
    parts: dict[str, int]  # part name -> root PID of its process tree
    db: PgStats | None = None


@dataclass
class Ctx:
    args: argparse.Namespace
    work: Path
    secret: str = field(default_factory=lambda: secrets.token_hex(24))  # 48 characters
    servers: list[Server] = field(default_factory=list)
    pg: Postgres | None = None
    db: PgStats | None = None
    versions: dict[str, Any] = field(default_factory=dict)

    @property
    def config(self) -> Path:
        return self.work / "langgraph.json"

    def log(self, name: str) -> Path:
        (self.work / "logs").mkdir(exist_ok=True)
        return self.work / "logs" / name

    def teardown(self) -> None:
        for server in reversed(self.servers):
            stop(server)
        self.servers.clear()
        if self.db is not None:
            self.db.close()
            self.db = None
        if self.pg is not None:
            self.pg.stop()
            self.pg = None


# ---- the three servers ------------------------------------------------------------------


def countersign_cmd() -> list[str]:
    exe = Path(sys.executable).parent / "countersign"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "service.cli"]


def countersign_env(ctx: Ctx, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COUNTERSIGN_")}
    env.update(
        COUNTERSIGN_ENV="test",
        # far above the load: the limiter is checked on every request, never refuses
        COUNTERSIGN_RATE_LIMIT_TENANT="1000000",
        COUNTERSIGN_RATE_LIMIT_PRINCIPAL="1000000",
        COUNTERSIGN_JWT_SECRET=ctx.secret,
        COUNTERSIGN_HOST="127.0.0.1",
        COUNTERSIGN_WORKER_HEALTH_HOST="127.0.0.1",
        COUNTERSIGN_GRAPHS_CONFIG=str(ctx.config),
    )
    env.update({f"COUNTERSIGN_{k.upper()}": v for k, v in extra.items()})
    env.update(item.split("=", 1) for item in ctx.args.env)
    return env


def countersign_token(ctx: Ctx, env: dict[str, str]) -> str:
    """Give the user its roles in the tenant (creating it), then mint its token."""
    roles = [arg for role in ROLES for arg in ("--role", role)]
    cmd = [*countersign_cmd(), "token", "mint", "--tenant", TENANT, "--sub", SUBJECT, *roles]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    if done.returncode:
        raise StartError(f"token mint --role failed:\n{done.stdout}{done.stderr}")
    from service.auth.jwt import mint_token
    from service.settings import Settings

    settings = Settings(env="test", jwt_secret=ctx.secret)
    return mint_token(settings, tenant=TENANT, subject=SUBJECT, roles=ROLES, ttl_seconds=86400)


def langgraph_venv(path: Path) -> Path:
    if not (path / "bin" / "langgraph").exists():
        print(f"creating {path} with langgraph-cli[inmem] ...", flush=True)
        if not (path / "bin" / "python").exists():
            subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        pip = [str(path / "bin" / "python"), "-m", "pip", "install", "langgraph-cli[inmem]"]
        done = subprocess.run(pip, capture_output=True, text=True)
        if done.returncode:
            raise StartError(f"pip install langgraph-cli[inmem] failed:\n{done.stderr[-3000:]}")
    return path


def start_dev(ctx: Ctx) -> Target:
    venv = langgraph_venv(ctx.args.langgraph_venv)
    code = "import importlib.metadata as m, json; print(json.dumps({p: m.version(p) for p in %r}))"
    pkgs = ["langgraph-cli", "langgraph-api", "langgraph-runtime-inmem", "langgraph"]
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code % pkgs], capture_output=True, text=True
    )
    ctx.versions["dev"] = json.loads(out.stdout) if out.returncode == 0 else out.stderr[-300:]
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in DEV_UNSET} | DEV_QUIET
    cmd = [str(venv / "bin" / "langgraph"), "dev", "--no-browser", "--no-reload"]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--config", str(ctx.config)]
    if ctx.args.dev_jobs:
        cmd += ["--n-jobs-per-worker", str(ctx.args.dev_jobs)]
    cwd = ctx.work / "dev"  # its in-memory runtime persists to ./.langgraph_api
    cwd.mkdir()
    server = spawn("langgraph dev", cmd, env, ctx.log("dev.log"), cwd=cwd)
    ctx.servers.append(server)
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/ok", server)
    return Target(url, None, {"dev": server.pid})


def start_embedded(ctx: Ctx) -> Target:
    port = free_port()
    data = ctx.work / "embedded-data"
    env = countersign_env(ctx, data_dir=str(data), port=str(port))
    server = spawn("countersign serve", [*countersign_cmd(), "serve"], env, ctx.log("serve.log"))
    ctx.servers.append(server)
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/readyz", server)
    return Target(url, countersign_token(ctx, env), {"serve": server.pid})


def start_production(ctx: Ctx) -> Target:
    pg_port, redis_port, port, health = (free_port() for _ in range(4))
    ctx.pg = Postgres(ctx.work, pg_port)
    ctx.pg.start()
    ctx.db = PgStats(pg_port, DATABASE)
    ctx.db.one(f"CREATE DATABASE {DATABASE}")
    ctx.db.one("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    redis = redis_server(ctx.work, redis_port)
    ctx.servers.append(redis)
    env = countersign_env(
        ctx,
        database_url=f"postgresql://postgres@127.0.0.1:{pg_port}/{DATABASE}",
        redis_url=f"redis://127.0.0.1:{redis_port}/0",
        port=str(port),
        worker_health_port=str(health),
    )
    migrate = subprocess.run(
        [*countersign_cmd(), "migrate"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    ctx.log("migrate.log").write_text(migrate.stdout + migrate.stderr)
    if migrate.returncode:
        raise StartError(f"countersign migrate failed:\n{tail(ctx.log('migrate.log'))}")
    api = spawn("countersign api", [*countersign_cmd(), "api"], env, ctx.log("api.log"))
    ctx.servers.append(api)
    worker = spawn("countersign worker", [*countersign_cmd(), "worker"], env, ctx.log("worker.log"))
    ctx.servers.append(worker)
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/readyz", api)
    wait_http(f"http://127.0.0.1:{health}/readyz", worker)
    parts = {"api": api.pid, "worker": worker.pid, "postgres": ctx.pg.pid, "redis": redis.pid}
    return Target(url, countersign_token(ctx, env), parts, ctx.db)


STARTERS = {"dev": start_dev, "embedded": start_embedded, "production": start_production}


# ---- measuring --------------------------------------------------------------------------


def hitl(ctx: Ctx, target: Target, c: int, seconds: float, log: str) -> dict[str, Any]:
    cmd = [sys.executable, str(HITL), "--url", target.url, "--concurrency", str(c)]
    cmd += ["--duration", str(seconds), "--warmup", "0", "--json"]
    if target.token:
        cmd += ["--token", target.token]
    path = ctx.log(log)
    with path.open("wb") as err:
        done = subprocess.run(
            cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=err, timeout=seconds + 600, check=False
        )
    lines = done.stdout.decode(errors="replace").strip().splitlines()
    try:
        return dict(json.loads(lines[-1]))
    except (IndexError, ValueError):
        return {"failed": f"exit {done.returncode}: {tail(path, 1500)}", "cycles": 0, "errors": 0}


PYTHON_PARTS = ("dev", "serve", "api", "worker")


def profilers(
    out: Path | None, mode: str, c: int, target: Target, seconds: float
) -> list[subprocess.Popen[bytes]]:
    """py-spy on each Python server process for the measured window (none without --profile)."""
    if out is None:
        return []
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        raise StartError("--profile needs py-spy: .venv/bin/pip install py-spy")
    out.mkdir(parents=True, exist_ok=True)
    spies = []
    for part, pid in target.parts.items():
        if part in PYTHON_PARTS:
            path = out / f"{mode}-c{c}-{part}.txt"
            cmd = [spy, "record", "--gil", "--subprocesses", "-f", "raw", "-r", "97"]
            cmd += ["-d", str(int(seconds)), "-p", str(pid), "-o", str(path)]
            spies.append(
                subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            )
    return spies


def measure(ctx: Ctx, mode: str, target: Target, c: int) -> dict[str, Any]:
    a, db, parts = ctx.args, target.db, target.parts
    exclude = frozenset({db.pid}) if db else frozenset()
    row: dict[str, Any] = {"mode": mode, "c": c}
    if a.warmup > 0:
        warm = row["warmup"] = hitl(ctx, target, c, a.warmup, f"hitl-{mode}-c{c}-warmup.log")
        if not warm.get("cycles"):
            logs = "".join(f"{s.name} log tail:\n{tail(s.log, 1500)}\n" for s in ctx.servers)
            why = warm.get("failed") or warm.get("error_samples")
            raise StartError(f"no cycle completed in the warm-up at c={c}: {why}\n{logs}")
    if db:
        time.sleep(a.stats_settle)  # the warm-up's transactions are all counted before x0
    idle0, x0 = sample(parts, exclude), db.xacts() if db else 0
    time.sleep(a.idle)
    idle1, x1 = sample(parts, exclude), db.xacts() if db else 0
    span = max(1e-9, idle1["t"] - idle0["t"])
    row["idle_cpu_ms_per_s"] = {p: (idle1[p]["cpu_ms"] - idle0[p]["cpu_ms"]) / span for p in parts}
    if db:
        db.reset_statements()
    before = sample(parts, exclude)
    spies = profilers(a.profile, mode, c, target, a.duration)
    result = row["measured"] = hitl(ctx, target, c, a.duration, f"hitl-{mode}-c{c}.log")
    after = sample(parts, exclude)
    for spy in spies:
        spy.wait(timeout=60)
    executed = max(1, int(result.get("cycles", 0)) + c)
    cpu = {p: after[p]["cpu_ms"] - before[p]["cpu_ms"] for p in parts}
    row.update(
        window_s=round(after["t"] - before["t"], 2),
        cycles_executed=executed,
        cpu_ms=cpu,
        cpu_ms_per_cycle={p: v / executed for p, v in cpu.items()},
        rss_mb={p: [before[p]["rss_mb"], after[p]["rss_mb"]] for p in parts},
        procs={p: after[p]["procs"] for p in parts},
    )
    if db:
        statements = db.statements()
        time.sleep(a.stats_settle)
        x2, t2 = db.xacts(), time.monotonic()
        idle_rate = (x1 - x0) / span if a.idle > 0 else 0.0
        xacts = (x2 - x1) - idle_rate * (t2 - after["t"])
        row["sql"] = {
            **statements,
            "statements_per_cycle": statements["calls"] / executed,
            "xacts_raw": x2 - x1,
            "idle_xacts_per_s": idle_rate,
            "xacts": round(xacts, 1),
            "xacts_per_cycle": xacts / executed,
        }
    return row


# ---- output -----------------------------------------------------------------------------


def table(rows: list[dict[str, Any]]) -> str:
    dev = {r["c"]: r["measured"].get("cycles_per_s") for r in rows if r["mode"] == "dev"}
    head = ["server", "c", "cycles/s", "vs dev", "p50 ms", "p99 ms", "errors", "CPU-ms/cyc"]
    head += ["CPU split (ms/cycle)", "SQL/cyc", "xacts/cyc"]
    lines = [head]
    for r in rows:
        m = r["measured"]
        rate, base = m.get("cycles_per_s"), dev.get(r["c"])
        per = r["cpu_ms_per_cycle"]
        split = " ".join(f"{p} {v:.1f}" for p, v in per.items()) if len(per) > 1 else "-"
        sql = r.get("sql")
        lines.append(
            [
                r["mode"],
                str(r["c"]),
                f"{rate:.2f}" if rate is not None else "FAILED",
                f"{rate / base:.2f}x" if rate and base else "-",
                f"{m['cycle_ms']['p50']:.0f}" if "cycle_ms" in m else "-",
                f"{m['cycle_ms']['p99']:.0f}" if "cycle_ms" in m else "-",
                str(m.get("errors", "-")),
                f"{sum(per.values()):.1f}",
                split,
                f"{sql['statements_per_cycle']:.1f}" if sql else "-",
                f"{sql['xacts_per_cycle']:.1f}" if sql else "-",
            ]
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    out = ["  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)) for line in lines]
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)


def details(rows: list[dict[str, Any]], statements: bool) -> str:
    out = ["", "RSS MB at start -> end of the measured window; idle CPU ms/s before it:"]
    for r in rows:
        parts = ", ".join(
            f"{p} {a:.0f}->{b:.0f} (idle {r['idle_cpu_ms_per_s'][p]:.1f})"
            for p, (a, b) in r["rss_mb"].items()
        )
        out.append(f"  {r['mode']:<10} c={r['c']:<3} {parts}")
        m = r["measured"]
        for sample_error in m.get("error_samples", [])[:3]:
            out.append(f"      error: {sample_error}")
        if "failed" in m:
            out.append(f"      hitl_cycle failed: {m['failed'][-400:]}")
        if sql := r.get("sql"):
            out.append(
                f"      SQL: {sql['calls']} statements ({sql['txn_control_calls']} BEGIN/COMMIT/"
                f"ROLLBACK), {sql['xacts']} transactions (raw {sql['xacts_raw']}, idle "
                f"{sql['idle_xacts_per_s']:.1f}/s subtracted) over {r['cycles_executed']} cycles"
            )
            if statements:
                for s in sql["top"]:
                    out.append(
                        f"      {s['calls']:>7} {s['total_ms']:>8.0f} ms  {s['query'][:140]}"
                    )
    return "\n".join(out)


def header(facts: dict[str, Any]) -> str:
    load = facts["loadavg"]
    lines = [
        f"side_by_side  {facts['date_utc']}  git {facts['git_head']}"
        + (f" (dirty: {facts['git_dirty_files']} files)" if facts["git_dirty_files"] else ""),
        f"cpu: {facts['cpu_model']} x {facts['nproc']}; load {load[0]:.2f} {load[1]:.2f} "
        f"{load[2]:.2f}",
        f"command: {shlex.join([sys.executable, *sys.argv])}",
        f"countersign side: langgraph {metadata.version('langgraph')}, langgraph-sdk "
        f"{metadata.version('langgraph-sdk')}",
    ]
    if load[0] > 0.5:
        lines.append(f"WARNING: box not quiet (1-min load {load[0]:.2f} > 0.5)")
    return "\n".join(lines)


# ---- main -------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--modes", default=",".join(MODES))
    p.add_argument("--concurrency", default="1,50")
    p.add_argument("--duration", type=float, default=60)
    p.add_argument("--warmup", type=float, default=10)
    p.add_argument("--idle", type=float, default=5, help="idle window before each measurement")
    p.add_argument("--stats-settle", type=float, default=11, help="wait for PG stats flushes")
    p.add_argument("--langgraph-venv", type=Path, default=ROOT / ".bench" / "langgraph-venv")
    p.add_argument("--dev-jobs", type=int, default=0, help="langgraph dev --n-jobs-per-worker")
    p.add_argument("--json", type=Path, help="write all raw results here")
    p.add_argument("--statements", action="store_true", help="print the top 40 statements")
    p.add_argument("--keep-logs", type=Path, help="copy every server and client log here")
    p.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment of the Countersign servers, e.g. COUNTERSIGN_WORKER_CONCURRENCY=16",
    )
    p.add_argument("--profile", type=Path, help="py-spy the Python servers into this folder")
    args = p.parse_args()
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if unknown := set(args.modes) - set(MODES):
        p.error(f"unknown modes: {', '.join(sorted(unknown))}")
    args.modes = [m for m in MODES if m in args.modes]
    args.concurrency = [int(c) for c in args.concurrency.split(",") if c.strip()]
    return args


def interrupted(signum: int, _frame: Any) -> NoReturn:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with it ignored
    facts = machine()
    work = Path(tempfile.mkdtemp(prefix="side-by-side-"))
    ctx = Ctx(args, work)
    print(header(facts), flush=True)
    rows: list[dict[str, Any]] = []
    failures: list[dict[str, str]] = []
    try:
        graph = {"dependencies": ["."], "graphs": {"refund_agent": f"{GRAPH}:graph"}}
        ctx.config.write_text(json.dumps(graph))
        for mode in args.modes:
            try:
                began = time.monotonic()
                target = STARTERS[mode](ctx)
                print(f"\n[{mode}] ready in {time.monotonic() - began:.1f} s at {target.url}")
                for c in args.concurrency:
                    row = measure(ctx, mode, target, c)
                    rows.append(row)
                    m = row["measured"]
                    print(
                        f"[{mode}] c={c}: {m.get('cycles', 0)} cycles, "
                        f"{m.get('cycles_per_s', 0):.2f}/s, errors {m.get('errors')}, "
                        f"CPU {sum(row['cpu_ms_per_cycle'].values()):.1f} ms/cycle",
                        flush=True,
                    )
                    if dead := [s for s in ctx.servers if not s.alive()]:
                        raise StartError(
                            "".join(f"{s.name} died; log tail:\n{tail(s.log)}\n" for s in dead)
                        )
            except Exception as exc:  # a failed mode must not stop the others
                why = str(exc) if isinstance(exc, StartError) else repr(exc)
                print(f"\n[{mode}] FAILED: {why}", file=sys.stderr, flush=True)
                failures.append({"mode": mode, "error": str(exc)})
            finally:
                ctx.teardown()
    finally:
        ctx.teardown()
        if args.keep_logs:
            args.keep_logs.mkdir(parents=True, exist_ok=True)
            for log in work.rglob("*.log"):
                shutil.copy2(log, args.keep_logs / log.name)
        shutil.rmtree(work, ignore_errors=True)
    if rows:
        print("\n" + table(rows))
        print(details(rows, args.statements))
    if args.json:
        raw: dict[str, Any] = {"machine": facts, "argv": sys.argv, "options": vars(args)}
        raw["versions"] = ctx.versions
        raw |= {"results": rows, "failures": failures}
        args.json.write_text(json.dumps(raw, indent=2, default=str) + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt as stopped:
        print(
            f"\ninterrupted ({str(stopped) or 'Ctrl-C'}); everything started was stopped",
            flush=True,
        )
        sys.exit(130)
