"""P4: inbox list latency, 1,000 tenants, 1M threads, 100k pending (SPEC §7).

Target: ``GET /inbox`` p99 <= 20 ms for one tenant, flat (+-20%) from 10k to 1M threads.

What it does:

1. Creates a temporary Postgres database ``bench_p4_<random>`` (dropped at the end, also on
   failure or Ctrl-C) and runs ``countersign migrate`` against it.
2. Creates one tenant through the real service path (``create_tenant`` + ``grant_members``
   via ``open_runtime``), then bulk-copies its ``tenants``, ``assistants`` and ``casbin_rule``
   rows for the other 999 tenants (domain in ``v1`` of ``p`` lines, ``v2`` of ``g`` lines).
   Every tenant has a ``reviewer`` user holding the default ``reviewer`` role.
3. Grows one database stage by stage (10k threads / 1k pending -> 100k / 10k -> 1M / 100k),
   one interrupt row per thread (pending or resolved), with COPY on two connections
   (threads and interrupts in parallel). Rows are written in ``created_at`` order with
   tenants interleaved, as a live system would write them (a tenant's rows are scattered
   over the heap, not clustered). ``VACUUM (ANALYZE)`` after each stage (autovacuum would
   otherwise fire in the middle of a measurement), then ``CHECKPOINT`` and ``sync``, so the
   checkpointer is not still writing out the bulk load while requests are timed.
4. Per stage: starts a fresh API process (``countersign api``, no worker), waits (up to 3 min)
   until other processes leave the shared box mostly idle, reports their CPU share while
   timing (it skews the tails: client, API and Postgres share 2 cores), and measures with
   one keep-alive ``httpx.Client`` (sequential requests, client GC paused while timing):
   ``/inbox?limit=50``, ``&decidable=true``, ``&type=refund``, ``&order=desc``, page 2 via
   ``next_cursor`` and ``/inbox/counts``, for two tenants (the ``>50ms`` column counts
   stalls; in this API process they are full garbage collections, ~100 ms each):

   - ``target`` (``p4-0000``): a normal tenant holding exactly 1/1000 of every stage's data
     (10 / 100 / 1,000 threads; 1 / 10 / 100 pending). Its page grows with the stage.
   - ``control`` (``p4-0001``): 240 threads / 120 pending seeded once, never grown, so its
     pages are identical at every stage; it isolates the effect of the table size.

   Then a server-side profile of the main list for both tenants: the inbox SQL (captured
   from ``InterruptRepository.inbox`` itself, compiled for Postgres) timed as plain psycopg
   round trips, ``EXPLAIN (ANALYZE, BUFFERS)`` of it, ``inbox.list_pending`` in-process
   (SQLAlchemy + asyncpg + reach) and the same plus the route's serialization.
5. Prints PASS/FAIL: main list p99 <= 20 ms at every stage, and p99 at the last stage
   within +-20% of the first (with the absolute difference, since +-20% of a ~ms figure is
   within run-to-run noise).

Run: ``.venv/bin/python bench/inbox_p4.py [--quick]`` (``--quick``: 10k -> 100k, fewer
requests).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import math
import os
import platform
import random
import secrets
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import orjson
import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy.dialects.postgresql import psycopg as pg_psycopg

from service.api.schemas.inbox import InboxPageOut, item_json
from service.auth.jwt import mint_token
from service.bootstrap import open_runtime
from service.domain.principal import Principal
from service.services import inbox, policies
from service.services.runtime import Runtime
from service.services.tenants import create_tenant, default_assistant_id
from service.settings import Settings
from service.store.interrupts import InboxQuery, InterruptRepository

ROOT = Path(__file__).resolve().parents[1]
PG = "postgresql://postgres@127.0.0.1:5432"
SECRET = "bench-p4-jwt-secret-0123456789-abcdefghijklmnop"
GRAPHS = ROOT / "langgraph.json"

TENANTS = 1_000
TARGET, CONTROL = "p4-0000", "p4-0001"
REVIEWER = "reviewer"
AGENTS = ("agent-1", "agent-2", "agent-3")
STAGES = ((10_000, 1_000), (100_000, 10_000), (1_000_000, 100_000))
CONTROL_THREADS, CONTROL_PENDING = 240, 120
SPREAD_SECONDS = 7 * 24 * 3600  # created_at spread over the last 7 days
TARGET_P99_MS = 20.0
FLAT = 0.20
STALL_MS = 50.0  # a request this slow is a stall (e.g. a full GC in the API process)
SEED = 4
CHUNK = 10_000

TYPES = ("refund", "send_email", "publish_post", "wire_transfer", "delete_account")
TYPE_WEIGHTS = (35, 25, 20, 12, 8)
ALLOWED = '["accept", "edit", "response", "ignore"]'
CONFIG = {"allow_accept": True, "allow_edit": True, "allow_respond": True, "allow_ignore": True}

THREAD_COLUMNS = (
    "thread_id, tenant_id, owner, status, metadata, values, config, error, "
    "created_at, updated_at, state_updated_at"
)
INTERRUPT_COLUMNS = (
    "id, tenant_id, thread_id, run_id, interrupt_id, task_id, node, type, allowed, "
    "agent_inbox, description, value, payload_hash, graph_id, checkpoint_id, default_decision, "
    "status, created_at, expires_at, resolved_at, resolved_by, decision, resume_run_id"
)

# (name, path, query params); "page2" gets the cursor of the first page at run time.
VARIANTS: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("list", "/inbox", {"limit": "50"}),
    ("decidable", "/inbox", {"limit": "50", "decidable": "true"}),
    ("type=refund", "/inbox", {"limit": "50", "type": "refund"}),
    ("order=desc", "/inbox", {"limit": "50", "order": "desc"}),
    ("page2", "/inbox", {"limit": "50"}),
    ("counts", "/inbox/counts", {}),
)

TEXT = (
    "order arrived damaged and the customer wants the money back before the weekend "
    "the package was lost in transit tracking shows no movement since last tuesday "
    "quarterly update on the product roadmap with the new integrations and pricing "
    "please confirm the payment details and the reference before the transfer leaves"
)
WORDS = TEXT.split(" ")


def tenant_name(i: int) -> str:
    return f"p4-{i:04d}"


# ---- row generation ------------------------------------------------------------------


class Gen:
    """Realistic rows, fast: COPY text lines for ``threads`` and ``interrupts``."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.assistants = {
            i: default_assistant_id(tenant_name(i), "refund_agent") for i in range(TENANTS)
        }
        self.texts = [" ".join(rng.choices(WORDS, k=rng.randint(20, 60))) for _ in range(64)]

    def uuid7(self, ms: int) -> str:
        r = self.rng.getrandbits(74)
        h = f"{ms:012x}"
        return (
            f"{h[:8]}-{h[8:]}-7{r >> 62:03x}-{0x8000 | ((r >> 48) & 0x3FFF):04x}-"
            f"{r & 0xFFFFFFFFFFFF:012x}"
        )

    def uuid4(self) -> str:
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"

    def args(self, kind: str) -> tuple[dict[str, Any], str]:
        rng = self.rng
        customer = f"cus-{rng.randrange(1_000_000):06d}"
        text = rng.choice(self.texts)
        if kind == "refund":
            amount = round(rng.uniform(5, 900), 2)
            return {
                "order_id": f"ord-{rng.randrange(10_000_000):07d}",
                "amount": amount,
                "currency": rng.choice(("EUR", "USD", "GBP")),
                "customer": customer,
                "lines": [
                    {"sku": f"SKU-{rng.randrange(99_999):05d}", "qty": rng.randint(1, 3)}
                    for _ in range(rng.randint(1, 3))
                ],
            }, f"Customer {customer} asks for a refund: {text[:80]}"
        if kind == "send_email":
            return {
                "to": f"{customer}@example.com",
                "subject": text[:60],
                "body": text,
            }, f"Send an email to {customer}"
        if kind == "publish_post":
            return {
                "channel": rng.choice(("linkedin", "blog", "x")),
                "title": text[:50],
                "body": text + " " + rng.choice(self.texts),
            }, "Publish a post"
        if kind == "wire_transfer":
            return {
                "iban": f"DE{rng.randrange(10**20):020d}",
                "amount": round(rng.uniform(100, 50_000), 2),
                "currency": "EUR",
                "reference": f"INV-{rng.randrange(1_000_000):06d}",
            }, f"Wire transfer for {customer}"
        return {
            "account_id": customer,
            "reason": text[:120],
            "export_data": True,
        }, f"Delete the account of {customer}"

    def rows(self, ts: float, tenant_i: int, pending: bool) -> tuple[str, str]:
        rng = self.rng
        tenant = tenant_name(tenant_i)
        ms = int(ts * 1000)
        thread_id = f"{tenant}:{self.uuid7(ms)}"
        owner = rng.choice(AGENTS)
        kind = rng.choices(TYPES, TYPE_WEIGHTS)[0]
        args, description = self.args(kind)
        value = {
            "action_request": {"action": kind, "args": args},
            "config": CONFIG,
            "description": description,
        }
        value_json = orjson.dumps(value).decode()
        digest = hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()
        created = ts + rng.uniform(0.2, 3.0)  # the interrupt appears a moment after the thread
        log = [f"planned {kind}", "waiting for a human"]
        values: dict[str, Any] = {
            "request": args,
            "proposal": {"action": kind, "args": args},
            "log": log,
        }
        if pending:
            status, resolved_at, resolved_by, decision, resume = (
                "pending",
                r"\N",
                r"\N",
                r"\N",
                r"\N",
            )
            thread_status, updated = "interrupted", created
        else:
            done = created + rng.uniform(60, 6 * 3600)
            status, resolved_at, resolved_by = "resolved", iso(done), REVIEWER
            decision, resume = '{"args": null, "type": "accept"}', self.uuid4()
            values["decision"] = {"type": "accept", "args": None}
            values["outcome"] = "done"
            thread_status, updated = "idle", done + rng.uniform(0.5, 5)
        metadata = {
            "graph_id": "refund_agent",
            "assistant_id": self.assistants[tenant_i],
            "owner": owner,
            "customer": args.get("customer", args.get("account_id", "")),
            "channel": rng.choice(("web", "email", "chat")),
        }
        thread_line = "\t".join(
            (
                thread_id,
                tenant,
                owner,
                thread_status,
                esc(orjson.dumps(metadata).decode()),
                esc(orjson.dumps(values).decode()),
                "{}",
                r"\N",
                iso(ts),
                iso(updated),
                iso(updated),
            )
        )
        interrupt_line = "\t".join(
            (
                self.uuid7(int(created * 1000)),
                tenant,
                thread_id,
                self.uuid7(ms),
                f"{rng.getrandbits(128):032x}",
                self.uuid4(),
                "review",
                kind,
                ALLOWED,
                "t",
                esc(description),
                esc(value_json),
                digest,
                "refund_agent",
                self.uuid7(int(created * 1000)),
                r"\N",
                status,
                iso(created),
                r"\N",
                resolved_at,
                resolved_by,
                decision,
                resume,
            )
        )
        return thread_line + "\n", interrupt_line + "\n"


def esc(text: str) -> str:
    """COPY text format: orjson escapes control characters with backslashes; double them."""
    return text.replace("\\", "\\\\") if "\\" in text else text


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def plan_stage(
    rng: random.Random, add_threads: int, add_pending: int, *, first: bool
) -> list[tuple[float, int, bool]]:
    """(thread created_at, tenant index, pending) for the rows a stage adds, oldest first."""
    target_threads, target_pending = add_threads // TENANTS, add_pending // TENANTS
    plan: list[tuple[int, bool]] = [(0, i < target_pending) for i in range(target_threads)]
    rest_threads, rest_pending = add_threads - target_threads, add_pending - target_pending
    if first:
        plan += [(1, i < CONTROL_PENDING) for i in range(CONTROL_THREADS)]
        rest_threads -= CONTROL_THREADS
        rest_pending -= CONTROL_PENDING
    pending = set(rng.sample(range(rest_threads), rest_pending))
    plan += [(rng.randrange(2, TENANTS), i in pending) for i in range(rest_threads)]
    now = time.time()
    timed = [(now - rng.random() * SPREAD_SECONDS, t, p) for t, p in plan]
    timed.sort()
    return timed


# ---- database --------------------------------------------------------------------------


def migrate(env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "countersign"), "migrate"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(f"countersign migrate failed:\n{done.stdout}\n{done.stderr}")
    return time.perf_counter() - started


def bench_settings(url: str, tmp: Path) -> Settings:
    return Settings(
        env="test",
        database_url=url,
        jwt_secret=SECRET,
        graphs_config=GRAPHS,
        data_dir=tmp / "data",
        run_in_api=False,
        db_pool_size=2,
        db_max_overflow=2,
    )


async def bootstrap_tenants(settings: Settings) -> None:
    """The two measured tenants through the real service code path."""
    async with open_runtime(settings, role="bench") as rt:
        for tenant in (TARGET, CONTROL):
            await create_tenant(rt, tenant, f"P4 {tenant}")
            await policies.grant_members(rt, tenant, REVIEWER, ["reviewer"])


def plain(row: tuple[Any, ...]) -> list[Any]:
    return [Jsonb(v) if isinstance(v, dict | list) else v for v in row]


def replicate_tenants(url: str) -> int:
    """Copy the target tenant's tenants/assistants/casbin_rule rows to tenants 2..999."""
    others = [tenant_name(i) for i in range(2, TENANTS)]
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT * FROM tenants WHERE tenant_id = %s", (TARGET,))
        cols = [d.name for d in cur.description or ()]
        tenant_row = dict(zip(cols, cur.fetchone() or (), strict=True))
        with cur.copy(f"COPY tenants ({', '.join(cols)}) FROM STDIN") as copy:
            for tenant in others:
                copy.write_row(
                    plain(
                        tuple({**tenant_row, "tenant_id": tenant, "name": tenant}[c] for c in cols)
                    )
                )
        cur.execute("SELECT * FROM assistants WHERE tenant_id = %s", (TARGET,))
        cols = [d.name for d in cur.description or ()]
        assistants = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
        with cur.copy(f"COPY assistants ({', '.join(cols)}) FROM STDIN") as copy:
            for tenant in others:
                for a in assistants:
                    row = {
                        **a,
                        "tenant_id": tenant,
                        "assistant_id": default_assistant_id(tenant, a["graph_id"]),
                    }
                    copy.write_row(plain(tuple(row[c] for c in cols)))
        cur.execute(
            "SELECT ptype, v0, v1, v2, v3, v4, v5 FROM casbin_rule "
            "WHERE (ptype = 'p' AND v1 = %s) OR (ptype = 'g' AND v2 = %s) ORDER BY id",
            (TARGET, TARGET),
        )
        rules = cur.fetchall()
        written = 0
        with cur.copy("COPY casbin_rule (ptype, v0, v1, v2, v3, v4, v5) FROM STDIN") as copy:
            for tenant in others:
                for rule in rules:
                    row = list(rule)
                    row[2 if rule[0] == "p" else 3] = tenant  # p: domain in v1, g: in v2
                    copy.write_row(row)
                    written += 1
    return written + 2 * len(rules)


def seed_stage(url: str, gen: Gen, plan: list[tuple[float, int, bool]]) -> float:
    """COPY threads and interrupts on two connections at once; returns seconds."""
    started = time.perf_counter()
    with (
        psycopg.connect(url) as c1,
        psycopg.connect(url) as c2,
        c1.cursor() as k1,
        c2.cursor() as k2,
        k1.copy(f"COPY threads ({THREAD_COLUMNS}) FROM STDIN") as threads,
        k2.copy(f"COPY interrupts ({INTERRUPT_COLUMNS}) FROM STDIN") as interrupts,
    ):
        buf_t: list[str] = []
        buf_i: list[str] = []
        for ts, tenant_i, pending in plan:
            t_line, i_line = gen.rows(ts, tenant_i, pending)
            buf_t.append(t_line)
            buf_i.append(i_line)
            if len(buf_t) >= CHUNK:
                threads.write("".join(buf_t))
                interrupts.write("".join(buf_i))
                buf_t.clear()
                buf_i.clear()
        if buf_t:
            threads.write("".join(buf_t))
            interrupts.write("".join(buf_i))
    return time.perf_counter() - started


def vacuum_analyze(url: str) -> float:
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) threads")
        conn.execute("VACUUM (ANALYZE) interrupts")
    return time.perf_counter() - started


def settle(url: str) -> float:
    """Flush the bulk load before timing: CHECKPOINT, then the OS's dirty pages.

    Without this the checkpointer spreads gigabytes of writes over the next minutes
    (checkpoint_completion_target), right through the measurement.
    """
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")
    os.sync()
    return time.perf_counter() - started


def db_facts(url: str) -> dict[str, Any]:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM threads), "
            "(SELECT count(*) FROM interrupts), "
            "(SELECT count(*) FROM interrupts WHERE status = 'pending'), "
            "(SELECT count(DISTINCT tenant_id) FROM threads), "
            "(SELECT count(*) FROM tenants), "
            "(SELECT count(*) FROM casbin_rule), "
            "pg_total_relation_size('interrupts'), pg_total_relation_size('threads'), "
            "pg_relation_size('ix_interrupts_inbox_pending')"
        ).fetchone()
        assert row is not None
        per = {
            t: conn.execute(
                "SELECT count(*), count(*) FILTER (WHERE status = 'pending') "
                "FROM interrupts WHERE tenant_id = %s",
                (t,),
            ).fetchone()
            for t in (TARGET, CONTROL)
        }
    keys = (
        "threads",
        "interrupts",
        "pending",
        "tenants_with_threads",
        "tenants",
        "casbin_rules",
        "interrupts_bytes",
        "threads_bytes",
        "inbox_index_bytes",
    )
    return {**dict(zip(keys, row, strict=True)), "per_tenant": per}


# ---- measurement ------------------------------------------------------------------------


# ---- how busy the box is (it is shared: other processes skew latency tails) ---------------

HZ = os.sysconf("SC_CLK_TCK")
QUIET_BUSY = 0.10  # wait (up to QUIET_WAIT_S) until the rest of the box uses < 10% of it
QUIET_WAIT_S = 180.0


def busy_jiffies() -> int:
    """CPU time spent by everything on the machine (all cores), in clock ticks."""
    values = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return sum(values) - values[3] - values[4]  # minus idle and iowait


def proc_jiffies(pids: set[int]) -> int:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total


def our_pids(url: str, server_pid: int | None) -> set[int]:
    """This process, the API process, and the Postgres backends serving our database."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        ).fetchall()
    return {os.getpid(), *(r[0] for r in rows), *([server_pid] if server_pid else [])}


@dataclass
class CpuShare:
    """Share of the whole box (nproc cores) used by us and by everything else."""

    ours: float = 0.0
    others: float = 0.0

    def __str__(self) -> str:
        return f"box CPU: ours {self.ours:.0%}, other processes {self.others:.0%}"


@contextmanager
def cpu_window(url: str, server_pid: int | None, out: CpuShare) -> Iterator[None]:
    pids = our_pids(url, server_pid)
    started, busy0, ours0 = time.monotonic(), busy_jiffies(), proc_jiffies(pids)
    try:
        yield
    finally:
        pids |= our_pids(url, server_pid)
        capacity = (time.monotonic() - started) * HZ * (os.cpu_count() or 1)
        ours = proc_jiffies(pids) - ours0
        out.ours = ours / capacity
        out.others = max(0.0, (busy_jiffies() - busy0 - ours) / capacity)


def wait_quiet(url: str, server_pid: int | None) -> tuple[float, CpuShare]:
    """Wait until other processes leave the box mostly idle (or give up); returns the wait."""
    started = time.monotonic()
    while True:
        share = CpuShare()
        with cpu_window(url, server_pid, share):
            time.sleep(2.0)
        waited = time.monotonic() - started
        if share.others < QUIET_BUSY or waited >= QUIET_WAIT_S:
            return waited, share


@dataclass
class Stats:
    name: str
    samples_ms: list[float]
    items: int = 0
    body_bytes: int = 0
    note: str = ""

    def pct(self, p: float) -> float:
        data = sorted(self.samples_ms)
        if not data:
            return float("nan")
        k = min(len(data) - 1, max(0, math.ceil(p / 100 * len(data)) - 1))
        return data[k]

    @property
    def p50(self) -> float:
        return self.pct(50)

    @property
    def p99(self) -> float:
        return self.pct(99)

    def halves_p99(self) -> tuple[float, float]:
        n = len(self.samples_ms) // 2
        return (
            Stats("", self.samples_ms[:n]).p99,
            Stats("", self.samples_ms[n:]).p99,
        )

    def row(self) -> str:
        if not self.samples_ms:
            return f"  {self.name:<14} {'n/a':>8}  {self.note}"
        return (
            f"  {self.name:<14} {self.p50:8.2f} {self.pct(90):8.2f} {self.p99:8.2f} "
            f"{max(self.samples_ms):8.2f} {sum(x > STALL_MS for x in self.samples_ms):5d}   "
            f"items={self.items:<3} bytes={self.body_bytes:<6} "
            f"{self.note}"
        )


@contextmanager
def gc_paused() -> Iterator[None]:
    """The client's own GC pauses are not the server's latency."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def timed(fn: Callable[[], Any], n: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        fn()
    out: list[float] = []
    with gc_paused():
        for _ in range(n):
            started = time.perf_counter_ns()
            fn()
            out.append((time.perf_counter_ns() - started) / 1e6)
    return out


def measure_http(client: httpx.Client, tenant: str, n: int, warmup: int) -> list[Stats]:
    results: list[Stats] = []
    first = client.get("/inbox", params={"limit": "50"})
    first.raise_for_status()
    cursor = first.json()["next_cursor"]
    for name, path, params in VARIANTS:
        query = dict(params)
        if name == "page2":
            if cursor is None:
                results.append(Stats(name, [], note="n/a: fewer than 51 pending, no page 2"))
                continue
            query["cursor"] = cursor
        url = str(client.build_request("GET", path, params=query).url)
        probe = client.get(url)
        probe.raise_for_status()
        body = probe.json()
        items = body.get("items")
        if items is not None:
            assert all(i["thread_id"].startswith(f"{tenant}:") for i in items), "tenant leak"
            count = len(items)
        else:
            count = int(body["total"])

        def call(url: str = url) -> None:
            response = client.get(url)
            if response.status_code != 200:
                raise RuntimeError(f"{url}: {response.status_code} {response.text[:200]}")

        results.append(
            Stats(name, timed(call, n, warmup), items=count, body_bytes=len(probe.content))
        )
    return results


class CaptureSession:
    """Enough of an AsyncSession for a repository to build its statement and hand it over."""

    class _Bind:
        dialect = pg_psycopg.dialect()

    class _Result:
        def all(self) -> list[Any]:
            return []

    def __init__(self) -> None:
        self.stmt: Any = None

    def get_bind(self) -> Any:
        return self._Bind()

    async def execute(self, stmt: Any) -> Any:
        self.stmt = stmt
        return self._Result()


async def captured_sql(query: InboxQuery, *, counts: bool = False) -> tuple[str, dict[str, Any]]:
    """The exact statement ``InterruptRepository`` runs, compiled for psycopg."""
    session = CaptureSession()
    repo = InterruptRepository(session)  # type: ignore[arg-type]
    await (repo.counts(query) if counts else repo.inbox(query))
    compiled = session.stmt.compile(
        dialect=pg_psycopg.dialect(), compile_kwargs={"render_postcompile": True}
    )
    return str(compiled), dict(compiled.params)


@dataclass
class Explain:
    label: str
    execution_ms: float
    planning_ms: float
    indexes: list[str]
    rows: int
    shared_hit: int
    shared_read: int
    text: str = ""
    sql: str = ""


def walk(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from walk(child)


def explain(conn: psycopg.Connection, label: str, sql: str, params: dict[str, Any]) -> Explain:
    conn.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params).fetchall()  # warm
    doc = conn.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}", params).fetchone()
    assert doc is not None
    top = doc[0][0]
    nodes = list(walk(top["Plan"]))
    text = "\n".join(
        r[0] for r in conn.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params).fetchall()
    )
    return Explain(
        label=label,
        execution_ms=top["Execution Time"],
        planning_ms=top["Planning Time"],
        indexes=[
            f"{n['Node Type']} {n['Index Name']}"
            + (f" on {n['Relation Name']}" if "Relation Name" in n else "")
            for n in nodes
            if "Index Name" in n
        ],
        rows=int(top["Plan"]["Actual Rows"]),
        shared_hit=int(top["Plan"].get("Shared Hit Blocks", 0)),
        shared_read=int(top["Plan"].get("Shared Read Blocks", 0)),
        text=text,
        sql=psycopg.ClientCursor(conn).mogrify(sql, params),
    )


@dataclass
class Profile:
    tenant: str
    sql: Stats
    reach_sql: Stats
    service: Stats
    service_json: Stats
    explains: list[Explain] = field(default_factory=list)


async def profile_tenant(
    rt: Runtime, url: str, tenant: str, n: int, warmup: int, *, full: bool
) -> Profile:
    principal = Principal(tenant_id=tenant, subject=REVIEWER)
    who = await inbox.reach(rt, principal)
    base = {"types": None, "limit": 51}
    queries: dict[str, InboxQuery] = {
        "list": inbox._query(principal, who, decidable_only=False, **base),
        "decidable": inbox._query(principal, who, decidable_only=True, **base),
        "type=refund": inbox._query(
            principal, who, decidable_only=False, types=["refund"], limit=51
        ),
        "order=desc": inbox._query(principal, who, decidable_only=False, descending=True, **base),
    }
    first = await inbox.list_pending(rt, principal, limit=50)
    if first.next_cursor:
        queries["page2"] = inbox._query(
            principal,
            who,
            decidable_only=False,
            after=inbox.decode_cursor(first.next_cursor),
            **base,
        )
    sql, params = await captured_sql(queries["list"])
    reach_sql = "SELECT * FROM tenants WHERE tenant_id = %(t)s"  # session.get(Tenant, id)
    with psycopg.connect(url, autocommit=True) as conn:

        def run_sql() -> None:
            conn.execute(sql, params).fetchall()

        def run_reach() -> None:
            conn.execute(reach_sql, {"t": tenant}).fetchall()

        sql_stats = Stats("sql (psycopg)", timed(run_sql, n, warmup))
        reach_stats = Stats("reach sql", timed(run_reach, n, warmup))
        explains = [explain(conn, "list", sql, params)]
        if full:
            for label, query in queries.items():
                if label != "list":
                    s, p = await captured_sql(query)
                    explains.append(explain(conn, label, s, p))
            s, p = await captured_sql(queries["list"], counts=True)
            explains.append(explain(conn, "counts", s, p))

    async def svc() -> Any:
        return await inbox.list_pending(rt, principal, limit=50)

    async def svc_json() -> bytes:
        page = await inbox.list_pending(rt, principal, limit=50)
        body = {
            "items": [item_json(entry, page.reach) for entry in page.items],
            "next_cursor": page.next_cursor,
        }
        return InboxPageOut.model_validate(body).model_dump_json().encode()

    async def atimed(fn: Callable[[], Any]) -> list[float]:
        for _ in range(warmup):
            await fn()
        out: list[float] = []
        with gc_paused():
            for _ in range(n):
                started = time.perf_counter_ns()
                await fn()
                out.append((time.perf_counter_ns() - started) / 1e6)
        return out

    return Profile(
        tenant=tenant,
        sql=sql_stats,
        reach_sql=reach_stats,
        service=Stats("list_pending", await atimed(svc)),
        service_json=Stats("+ route json", await atimed(svc_json)),
        explains=explains,
    )


async def profile_stage(
    settings: Settings, url: str, n: int, warmup: int, *, full: bool
) -> list[Profile]:
    async with open_runtime(settings, role="bench") as rt:
        return [
            await profile_tenant(rt, url, tenant, n, warmup, full=full)
            for tenant in (TARGET, CONTROL)
        ]


# ---- main ---------------------------------------------------------------------------------


@dataclass
class StageResult:
    threads: int
    pending: int
    facts: dict[str, Any]
    seed_s: float
    vacuum_s: float
    startup_s: float
    http: dict[str, list[Stats]]
    profiles: list[Profile]
    cpu: CpuShare


def live_module() -> ModuleType:
    sys.path.insert(0, str(ROOT))
    from tests.fixtures import live

    return live


def print_stage(stage: StageResult) -> None:
    f = stage.facts
    print(
        f"\n=== stage: {f['threads']:,} threads, {f['interrupts']:,} interrupts, "
        f"{f['pending']:,} pending, {f['tenants']:,} tenants "
        f"(seed {stage.seed_s:.1f}s, vacuum+analyze {stage.vacuum_s:.1f}s, API ready in "
        f"{stage.startup_s:.1f}s; interrupts {f['interrupts_bytes'] / 2**20:.0f} MiB, threads "
        f"{f['threads_bytes'] / 2**20:.0f} MiB, ix_interrupts_inbox_pending "
        f"{f['inbox_index_bytes'] / 2**20:.1f} MiB)"
    )
    print(f"  during the HTTP measurement: {stage.cpu}")
    for tenant, stats in stage.http.items():
        total, pending = f["per_tenant"][tenant]
        role = "target" if tenant == TARGET else "control"
        print(f"  -- {role} {tenant}: {total} threads, {pending} pending")
        print(f"  {'GET':<14} {'p50':>8} {'p90':>8} {'p99':>8} {'max':>8} {'>50ms':>5}   (ms)")
        for s in stats:
            print(s.row())
    for prof in stage.profiles:
        role = "target" if prof.tenant == TARGET else "control"
        print(f"  -- server-side profile, {role} (/inbox?limit=50):")
        for s in (prof.sql, prof.reach_sql, prof.service, prof.service_json):
            print(s.row())
        for e in prof.explains:
            print(
                f"     EXPLAIN {e.label:<12} exec {e.execution_ms:.3f} ms, plan "
                f"{e.planning_ms:.3f} ms, rows {e.rows}, buffers hit {e.shared_hit} read "
                f"{e.shared_read}; {'; '.join(e.indexes)}"
            )
        if prof.tenant == TARGET and len(prof.explains) > 1:
            main = prof.explains[0]
            print("  -- inbox SQL (captured from InterruptRepository.inbox, target tenant):")
            print("     " + main.sql.replace("\n", "\n     "))
            print("  -- EXPLAIN (ANALYZE, BUFFERS):")
            print("     " + main.text.replace("\n", "\n     "))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k -> 100k, fewer requests")
    args = parser.parse_args(argv)
    stages = STAGES[:2] if args.quick else STAGES
    n, warmup = (300, 100) if args.quick else (2000, 100)
    prof_n = 200 if args.quick else 500
    command = shlex.join([".venv/bin/python", "bench/inbox_p4.py", *(argv or sys.argv[1:])])
    print(f"P4 inbox list -- {command}")
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, nproc={os.cpu_count()}, "
        f"python {platform.python_version()}, {platform.platform()}; "
        f"N={n} per variant after {warmup} warm-up, sequential, keep-alive"
    )
    live = live_module()
    db = f"bench_p4_{secrets.token_hex(4)}"
    url = f"{PG}/{db}"
    env = {
        "COUNTERSIGN_DATABASE_URL": url,
        "COUNTERSIGN_ENV": "test",
        "COUNTERSIGN_RATE_LIMIT_TENANT": "1000000",
        "COUNTERSIGN_RATE_LIMIT_PRINCIPAL": "1000000",
        "COUNTERSIGN_JWT_SECRET": SECRET,
        "COUNTERSIGN_RUN_IN_API": "false",
        "COUNTERSIGN_GRAPHS_CONFIG": str(GRAPHS),
    }
    rng = random.Random(SEED)
    gen = Gen(rng)
    results: list[StageResult] = []
    server = None
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{db}"')
    started = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-p4-") as tmpdir:
            tmp = Path(tmpdir)
            print(f"database {db}: migrate {migrate(env):.1f}s", flush=True)
            settings = bench_settings(url, tmp)
            asyncio.run(bootstrap_tenants(settings))
            rules = replicate_tenants(url)
            print(f"tenants: {TENANTS} (2 via create_tenant, rest copied), {rules} casbin rules")
            have_threads = have_pending = 0
            for index, (threads, pending) in enumerate(stages):
                plan = plan_stage(
                    rng, threads - have_threads, pending - have_pending, first=index == 0
                )
                seed_s = seed_stage(url, gen, plan)
                del plan
                vacuum_s = vacuum_analyze(url)
                settle_s = settle(url)
                have_threads, have_pending = threads, pending
                facts = db_facts(url)
                print(
                    f"seeded stage {threads:,}/{pending:,}: copy {seed_s:.1f}s, "
                    f"vacuum {vacuum_s:.1f}s, checkpoint+sync {settle_s:.1f}s",
                    flush=True,
                )
                t0 = time.perf_counter()
                server = live.start_server(tmp / f"stage{index}", env, command=("api",))
                startup_s = time.perf_counter() - t0
                http: dict[str, list[Stats]] = {}
                cpu = CpuShare()
                try:
                    waited, before = wait_quiet(url, server.process.pid)
                    print(f"waited {waited:.0f}s for a quiet box ({before})", flush=True)
                    with cpu_window(url, server.process.pid, cpu):
                        for tenant in (TARGET, CONTROL):
                            token = mint_token(
                                Settings(env="test", jwt_secret=SECRET),
                                tenant=tenant,
                                subject=REVIEWER,
                                ttl_seconds=3600,
                            )
                            with httpx.Client(
                                base_url=server.url,
                                headers={"Authorization": f"Bearer {token}"},
                                timeout=30,
                            ) as client:
                                http[tenant] = measure_http(client, tenant, n, warmup)
                finally:
                    live.stop_server(server)
                    server = None
                profiles = asyncio.run(
                    profile_stage(settings, url, prof_n, 50, full=index == len(stages) - 1)
                )
                result = StageResult(
                    threads, pending, facts, seed_s, vacuum_s, startup_s, http, profiles, cpu
                )
                results.append(result)
                print_stage(result)
    finally:
        if server is not None:
            live.stop_server(server)
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        print(f"\ndropped {db}; total {time.perf_counter() - started:.0f}s")
    return verdict(results)


def verdict(results: list[StageResult]) -> int:
    if not results:
        return 1
    first, last = results[0], results[-1]
    ok = True
    print("\n=== verdict (target tenant, GET /inbox?limit=50) ===")
    for r in results:
        s = r.http[TARGET][0]
        good = s.p99 <= TARGET_P99_MS
        ok &= good
        worst = max(x.p99 for x in r.http[TARGET] if x.samples_ms)
        print(
            f"  {r.threads:>9,} threads: p99 {s.p99:6.2f} ms  "
            f"{'PASS' if good else 'FAIL'} (<= {TARGET_P99_MS:.0f} ms); worst variant p99 "
            f"{worst:.2f} ms; p99 of the two halves of the run: "
            + " / ".join(f"{h:.2f}" for h in s.halves_p99())
            + f"; {r.cpu}"
        )
    for tenant, label in ((TARGET, "target"), (CONTROL, "control")):
        a, b = first.http[tenant][0].p99, last.http[tenant][0].p99
        change = (b - a) / a
        flat = abs(change) <= FLAT
        if tenant == TARGET:
            ok &= flat
        print(
            f"  flat ({label}): p99 {a:.2f} ms at {first.threads:,} -> {b:.2f} ms at "
            f"{last.threads:,} = {change:+.0%} (abs {b - a:+.2f} ms) "
            f"{'PASS' if flat else 'FAIL'} (+-{FLAT:.0%})"
            + ("" if tenant == TARGET else "  [informational: same page at every stage]")
        )
    print(f"P4: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
