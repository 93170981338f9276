"""P5: authorization decision latency, 10,000 tenants x 10 users (SPEC §7).

Three measurements, all printed with the command that produced them:

1. ``Authorizer.check(principal, obj, act, owner=...)`` -- the call every route makes -- with
   the tenants' compiled policies in the Authorizer's own LRU, at 10, 100, 1,000 and 10,000
   tenants (one Authorizer, grown stage by stage). Policies are compiled in memory with
   ``compile_rules(tenant, 1, default_rules(tenant) + member rules)``, the production compile
   path. Each stage: gc.collect(), a first decision for every new user (this builds the
   per-user grant index the production Authorizer keeps; timed and reported separately), a
   warm-up, gc.collect(), then the timed loop with the garbage collector left on.
2. Raw pycasbin ``Enforcer.enforce`` on one tenant's policy (``new_enforcer``), against the
   compiled ``TenantPolicy.decide`` on the same requests (answers must agree).
3. The cold path on Postgres: a temporary database, the project's migrations, ``casbin_rule``
   and ``tenants`` rows bulk-copied in the adapter's layout, then the production loader
   ``policy_loader(StoreFactory(engine))(tenant)`` timed at 10 tenants and at 10,000.

Run: ``.venv/bin/python bench/authz_p5.py [--quick] [--skip-postgres]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import platform
import random
import resource
import secrets
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from service.authz.compiled import TenantPolicy
from service.authz.enforcer import Rule, compile_rules, default_rules, new_enforcer
from service.authz.fields import user_subject
from service.authz.guard import Authorizer
from service.domain.principal import Principal
from service.services.policies import policy_loader
from service.store import migrations
from service.store.db import create_engine
from service.store.store import StoreFactory

TENANT_COUNTS = (10, 100, 1_000, 10_000)
USERS_PER_TENANT = 10
TARGET_P50_US = 50.0
TARGET_P99_US = 200.0
FLAT_P50 = 0.20  # p50 at 10,000 tenants within +-20% of 10 tenants
FLAT_P99 = 0.50  # p99 within +-50%
SEED = 5

# Each tenant's 10 users hold this mix (shuffled per tenant): the five default roles and one
# custom per-type role that may only decide refund interrupts.
ROLE_MIX: tuple[tuple[str, ...], ...] = (
    ("tenant_admin",),
    ("editor",),
    ("reviewer",),
    ("reviewer",),
    ("finance_reviewer",),
    ("finance_reviewer", "agent"),
    ("agent",),
    ("agent",),
    ("viewer",),
    ("viewer", "agent"),
)

# (object, action, has an owner) -- what the routes ask.
REQUESTS: tuple[tuple[str, str, bool], ...] = (
    ("threads", "read", True),
    ("threads", "create", False),
    ("threads", "update", True),
    ("threads", "delete", True),
    ("runs", "create", True),
    ("runs", "read", True),
    ("runs", "cancel", True),
    ("state", "update", True),
    ("interrupt:refund", "decide", True),
    ("interrupt:refund", "edit", True),
    ("interrupt:publish", "decide", True),
    ("interrupt:publish", "edit", True),
    ("interrupt:email", "decide", True),
    ("interrupt:email", "edit", True),
    ("policies", "edit", False),
    ("inbox", "read", False),
    ("assistants", "read", False),
)

PG_HOST = os.environ.get("BENCH_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("BENCH_PG_PORT", "5432"))
PG_USER = os.environ.get("BENCH_PG_USER", "postgres")


# ---- the synthetic tenants ---------------------------------------------------------------


def tenant_id(i: int) -> str:
    return f"t-{i:05d}"


def subject(tenant: str, j: int) -> str:
    # JWT-style subjects, unique per tenant (worst case for the Authorizer's subject cache);
    # "@" and "." are outside the policy alphabet, so user_subject() really encodes them.
    return f"user{j}@{tenant}.example.com"


def custom_rules(tenant: str) -> list[Rule]:
    return [
        ["g", "role:finance_reviewer", "role:viewer", tenant],
        ["p", "role:finance_reviewer", tenant, "interrupt:refund", "decide", "any"],
    ]


def member_rules(tenant: str, index: int) -> list[Rule]:
    mix = list(ROLE_MIX)
    random.Random(index).shuffle(mix)
    return [
        ["g", user_subject(subject(tenant, j)), f"role:{role}", tenant]
        for j, roles in enumerate(mix)
        for role in roles
    ]


def tenant_rules(tenant: str, index: int) -> list[Rule]:
    return default_rules(tenant) + custom_rules(tenant) + member_rules(tenant, index)


# ---- statistics ----------------------------------------------------------------------------


@dataclass
class Stats:
    n: int
    p50: float
    p90: float
    p99: float
    p999: float
    max: float
    mean: float

    @classmethod
    def of(cls, samples: Sequence[float]) -> Stats:
        ordered = sorted(samples)
        n = len(ordered)

        def q(p: float) -> float:
            return ordered[min(n - 1, int(p * n))]

        return cls(n, q(0.5), q(0.9), q(0.99), q(0.999), ordered[-1], sum(ordered) / n)


def rss_mb() -> tuple[float, float]:
    """(VmRSS, VmHWM) of this process in MiB."""
    values = {}
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, amount, _unit = line.split()
                values[key] = int(amount) / 1024
    if not values:  # not Linux
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return peak, peak
    return values["VmRSS:"], values["VmHWM:"]


# ---- 1. Authorizer.check at 10 .. 10,000 tenants -----------------------------------------


@dataclass
class Stage:
    tenants: int
    load_s: float
    decide: Stats
    allow_ratio: float
    rss: float


Request = tuple[Principal, str, str, str | None]


def make_requests(
    rng: random.Random, principals: list[list[Principal]], count: int
) -> list[Request]:
    out: list[Request] = []
    for _ in range(count):
        users = principals[rng.randrange(len(principals))]
        principal = users[rng.randrange(len(users))]
        obj, act, has_owner = REQUESTS[rng.randrange(len(REQUESTS))]
        owner: str | None = None
        if has_owner:
            owner = principal.subject if rng.random() < 0.5 else rng.choice(users).subject
        out.append((principal, obj, act, owner))
    return out


class GcWatch:
    """Collections (and their pauses) per generation while installed in gc.callbacks."""

    def __init__(self) -> None:
        self.started = 0
        self.pauses: dict[int, list[int]] = {0: [], 1: [], 2: []}

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.started = time.perf_counter_ns()
        else:
            self.pauses[info["generation"]].append(time.perf_counter_ns() - self.started)

    def __enter__(self) -> GcWatch:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *_exc: object) -> None:
        gc.callbacks.remove(self)

    def summary(self) -> str:
        return ", ".join(
            f"gen{g} x{len(p)}" + (f" (max {max(p) / 1e6:.1f} ms)" if p else "")
            for g, p in self.pauses.items()
        )


async def timed_checks(authz: Authorizer, requests: list[Request]) -> tuple[list[int], int]:
    clock = time.perf_counter_ns
    check = authz.check
    samples = [0] * len(requests)
    allowed = 0
    for i, (principal, obj, act, owner) in enumerate(requests):
        started = clock()
        decision = await check(principal, obj, act, owner=owner)
        samples[i] = clock() - started
        allowed += decision.allowed
    return samples, allowed


def timer_overhead_ns() -> float:
    clock = time.perf_counter_ns
    samples = []
    for _ in range(100_000):
        started = clock()
        samples.append(clock() - started)
    return Stats.of(samples).p50


async def bench_decisions(samples_per_count: int, warmup: int) -> dict[str, object]:
    print("\n== 1. Authorizer.check (compiled policies in the Authorizer's LRU) ==")
    compile_ns: list[int] = []

    async def loader(tenant: str) -> TenantPolicy:
        started = time.perf_counter_ns()
        policy = compile_rules(tenant, 1, tenant_rules(tenant, int(tenant[2:])))
        compile_ns.append(time.perf_counter_ns() - started)
        return policy

    authz = Authorizer(loader, cache_size=10_000)  # Settings.authz_cache_size default
    rng = random.Random(SEED)
    principals: list[list[Principal]] = []
    first_touch: list[int] = []
    stages: list[Stage] = []
    gc_notes: list[str] = []
    gc.collect()
    rss_before, _ = rss_mb()
    overhead = timer_overhead_ns()
    print(f"perf_counter_ns back-to-back overhead p50: {overhead:.0f} ns (included in figures)")
    print(f"RSS before loading any tenant: {rss_before:.1f} MiB")
    header = (
        f"{'tenants':>8} {'samples':>8} {'p50':>7} {'p90':>7} {'p99':>7} {'p99.9':>8} "
        f"{'max':>9} {'mean':>7} {'allow':>6}  p50<=50 p99<=200  (us)"
    )
    for count in TENANT_COUNTS:
        started = time.perf_counter()
        new_from = len(principals)
        for i in range(new_from, count):
            tenant = tenant_id(i)
            await authz.policy(tenant)  # through the production cache, calling the loader
            principals.append(
                [Principal(tenant, subject(tenant, j)) for j in range(USERS_PER_TENANT)]
            )
        load_s = time.perf_counter() - started
        assert authz.cached_tenants() == count, authz.cached_tenants()
        gc_started = time.perf_counter()
        gc.collect()
        full_gc_ms = (time.perf_counter() - gc_started) * 1000
        rss_loaded, _ = rss_mb()
        # First decision of every new user: builds its grant index (timed, reported apart).
        for users in principals[new_from:]:
            for principal in users:
                t0 = time.perf_counter_ns()
                await authz.check(principal, "threads", "read", owner=principal.subject)
                first_touch.append(time.perf_counter_ns() - t0)
        await timed_checks(authz, make_requests(rng, principals, warmup))
        requests = make_requests(rng, principals, samples_per_count)
        gc.collect()
        with GcWatch() as watch:
            samples, allowed = await timed_checks(authz, requests)
        del requests
        gc_notes.append(
            f"{count:>8,} tenants: gc.collect() before timing {full_gc_ms:.1f} ms; "
            f"collections during the timed loop: {watch.summary()}"
        )
        rss, _ = rss_mb()
        stage = Stage(
            count,
            load_s,
            Stats.of([s / 1000 for s in samples]),
            allowed / len(samples),
            rss,
        )
        stages.append(stage)
        if len(stages) == 1:
            print(header)
        d = stage.decide
        print(
            f"{count:>8,} {d.n:>8,} {d.p50:>7.2f} {d.p90:>7.2f} {d.p99:>7.2f} {d.p999:>8.2f} "
            f"{d.max:>9.1f} {d.mean:>7.2f} {stage.allow_ratio:>6.3f}  "
            f"{'PASS' if d.p50 <= TARGET_P50_US else 'FAIL':>7} "
            f"{'PASS' if d.p99 <= TARGET_P99_US else 'FAIL':>8}"
            f"   (loaded+compiled in {load_s:.2f} s, RSS {rss:.1f} MiB)"
        )
    gc.collect()
    rss_after, hwm = rss_mb()
    # Control: all tenants still loaded, but requests only for the first 10 of them. If this
    # matches the 10-tenant stage, the growth above is memory locality (CPU caches), not the
    # size of any lookup structure.
    requests = make_requests(rng, principals[:10], samples_per_count)
    await timed_checks(authz, requests[:warmup])
    gc.collect()
    samples, allowed = await timed_checks(authz, requests)
    hot = Stats.of([s / 1000 for s in samples])
    del requests, samples
    print(
        f"control, {TENANT_COUNTS[-1]:,} loaded but requests on 10 of them: p50 {hot.p50:.2f} "
        f"p90 {hot.p90:.2f} p99 {hot.p99:.2f} p99.9 {hot.p999:.2f} max {hot.max:.1f} us"
    )
    print("garbage collector (left on while timing):")
    for note in gc_notes:
        print(f"  {note}")
    small, big = stages[0].decide, stages[-1].decide
    p50_ratio, p99_ratio = big.p50 / small.p50, big.p99 / small.p99
    flat = abs(p50_ratio - 1) <= FLAT_P50 and abs(p99_ratio - 1) <= FLAT_P99
    comp = Stats.of([c / 1e6 for c in compile_ns])
    touch = Stats.of([t / 1000 for t in first_touch])
    print(
        f"flat: p50 10,000/10 = {p50_ratio:.2f} (allowed 1+-{FLAT_P50:.2f}), "
        f"p99 10,000/10 = {p99_ratio:.2f} (allowed 1+-{FLAT_P99:.2f}) -> "
        f"{'PASS' if flat else 'FAIL'}"
    )
    print(
        f"first decision per user (builds its grant index), {touch.n:,} users: "
        f"p50 {touch.p50:.1f} us, p99 {touch.p99:.1f} us, max {touch.max:.0f} us"
    )
    print(
        f"in-memory compile_rules per tenant ({comp.n:,}): p50 {comp.p50:.3f} ms, "
        f"p99 {comp.p99:.3f} ms"
    )
    print(
        f"RSS: before any tenant {rss_before:.1f} MiB; {TENANT_COUNTS[-1]:,} tenants compiled "
        f"and cached {rss_loaded:.1f} MiB; after every user's first decision (per-user grant "
        f"indexes) {rss_after:.1f} MiB (+{rss_after - rss_before:.1f} MiB in all; peak "
        f"{hwm:.1f} MiB; includes the benchmark's own {len(principals) * USERS_PER_TENANT:,} "
        "Principal objects)"
    )
    return {"stages": stages, "flat": flat, "hot": hot}


# ---- 2. raw pycasbin on one tenant ---------------------------------------------------------


def bench_raw_casbin(calls: int) -> None:
    print("\n== 2. raw pycasbin Enforcer.enforce vs compiled decide, one tenant ==")
    tenant = tenant_id(0)
    rules = tenant_rules(tenant, 0)
    enforcer = new_enforcer(rules)
    policy = compile_rules(tenant, 1, rules)
    users = [Principal(tenant, subject(tenant, j)) for j in range(USERS_PER_TENANT)]
    rng = random.Random(SEED + 1)
    requests = [
        (user_subject(p.subject), obj, act, owner is not None and owner == p.subject)
        for p, obj, act, owner in make_requests(rng, [users], calls)
    ]
    clock = time.perf_counter_ns
    for sub, obj, act, own in requests[:200]:  # warm-up
        enforcer.enforce(sub, tenant, obj, act, "own" if own else "other")
    gc.collect()
    raw: list[int] = []
    raw_answers: list[bool] = []
    for sub, obj, act, own in requests:
        started = clock()
        allowed = enforcer.enforce(sub, tenant, obj, act, "own" if own else "other")
        raw.append(clock() - started)
        raw_answers.append(bool(allowed))
    compiled: list[int] = []
    mismatches = 0
    for (sub, obj, act, own), expected in zip(requests, raw_answers, strict=True):
        started = clock()
        decision = policy.decide(sub, obj, act, own=own)
        compiled.append(clock() - started)
        mismatches += decision.allowed != expected
    r = Stats.of([s / 1000 for s in raw])
    c = Stats.of([s / 1000 for s in compiled])
    print(f"rules in the tenant's policy: {len(rules)}; requests: {calls:,}")
    print(
        f"casbin.Enforcer.enforce : p50 {r.p50:8.2f} us  p99 {r.p99:8.2f} us  max {r.max:8.0f} us"
    )
    print(
        f"TenantPolicy.decide     : p50 {c.p50:8.2f} us  p99 {c.p99:8.2f} us  max {c.max:8.0f} us"
    )
    print(
        f"ratio p50 {r.p50 / c.p50:.0f}x, p99 {r.p99 / c.p99:.0f}x; "
        f"allow ratio {sum(raw_answers) / calls:.3f}; disagreements: {mismatches}"
    )


# ---- 3. the cold path on Postgres -----------------------------------------------------------


def casbin_rows(rules: list[Rule]) -> list[tuple[str | None, ...]]:
    """Rules in casbin_rule's columns (ptype, v0..v5), as the adapter writes them."""
    rows = []
    for rule in rules:
        values: list[str | None] = list(rule[1:])
        rows.append((rule[0], *values, *([None] * (6 - len(values)))))
    return rows


async def insert_tenants(conn: asyncpg.Connection, start: int, stop: int) -> int:
    now = datetime.now(UTC)
    rows: list[tuple[str | None, ...]] = []
    tenants = []
    for i in range(start, stop):
        tenant = tenant_id(i)
        rows += casbin_rows(tenant_rules(tenant, i))
        tenants.append((tenant, tenant, "{}", 1, 0, "0" * 64, now, now))
    await conn.copy_records_to_table(
        "tenants",
        records=tenants,
        columns=[
            "tenant_id",
            "name",
            "settings",
            "policy_version",
            "audit_seq",
            "audit_head",
            "created_at",
            "updated_at",
        ],
    )
    await conn.copy_records_to_table(
        "casbin_rule", records=rows, columns=["ptype", "v0", "v1", "v2", "v3", "v4", "v5"]
    )
    await conn.execute("ANALYZE tenants; ANALYZE casbin_rule")
    return len(rows)


async def time_loads(load: object, tenants: list[str]) -> Stats:
    samples = []
    for tenant in tenants:
        started = time.perf_counter_ns()
        await load(tenant)  # type: ignore[operator]
        samples.append(time.perf_counter_ns() - started)
    return Stats.of([s / 1e6 for s in samples])


async def bench_cold_path(loads: int, total: int) -> None:
    print("\n== 3. cold path: policy_loader(StoreFactory(engine))(tenant) on Postgres ==")
    name = f"bench_p5_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    print(f"temporary database {name}")
    try:
        url = f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
        engine = create_engine(url, application_name="bench-p5")
        conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=name)
        try:
            started = time.perf_counter()
            await migrations.upgrade(engine)
            print(f"migrations: {time.perf_counter() - started:.2f} s")
            load = policy_loader(StoreFactory(engine))
            first = [tenant_id(i) for i in range(10)]

            started = time.perf_counter()
            rows = await insert_tenants(conn, 0, 10)
            print(
                f"10 tenants: {rows:,} casbin_rule rows copied in "
                f"{time.perf_counter() - started:.2f} s"
            )
            await time_loads(load, first * 3)  # warm-up: pool, statement paths
            rng = random.Random(SEED + 2)
            small = await time_loads(load, [rng.choice(first) for _ in range(loads)])

            started = time.perf_counter()
            rows += await insert_tenants(conn, 10, total)
            print(
                f"{total:,} tenants: {rows:,} casbin_rule rows in the table "
                f"(rest copied + ANALYZE in {time.perf_counter() - started:.2f} s)"
            )
            sample = rng.sample(range(10, total), loads + 30)
            await time_loads(load, [tenant_id(i) for i in sample[:30]])  # warm-up
            big = await time_loads(load, [tenant_id(i) for i in sample[30:]])
            same10 = await time_loads(load, [rng.choice(first) for _ in range(loads)])

            # The rows that came back compile to exactly the in-memory policy.
            for i in (0, sample[-1]):
                tenant = tenant_id(i)
                expected = compile_rules(tenant, 1, tenant_rules(tenant, i))
                got = await load(tenant)
                assert got == expected, f"loaded policy of {tenant} differs"
            print(
                f"{'table':<34} {'loads':>6} {'p50 ms':>8} {'p90 ms':>8} "
                f"{'p99 ms':>8} {'max ms':>8}"
            )
            for label, s in (
                ("10 tenants (random of 10)", small),
                (f"{total:,} tenants (random, distinct)", big),
                (f"{total:,} tenants (the first 10)", same10),
            ):
                print(
                    f"{label:<34} {s.n:>6} {s.p50:>8.2f} {s.p90:>8.2f} {s.p99:>8.2f} {s.max:>8.2f}"
                )
            print(
                f"flat: p50 {total:,}/10 = {big.p50 / small.p50:.2f}, "
                f"p99 {total:,}/10 = {big.p99 / small.p99:.2f}; loaded policies match in-memory "
                "compile"
            )
        finally:
            await conn.close()
            await engine.dispose()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
        print(f"dropped {name}")


# ---- main -----------------------------------------------------------------------------------


async def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples (< 1 minute)")
    parser.add_argument("--skip-postgres", action="store_true", help="skip the cold path")
    args = parser.parse_args(argv)
    samples = 20_000 if args.quick else 200_000
    warmup = 5_000 if args.quick else 50_000
    raw_calls = 2_000 if args.quick else 20_000
    loads = 60 if args.quick else 300

    print(f"command: cd {shlex.quote(os.getcwd())} && {shlex.join([sys.executable, *sys.argv])}")
    print(
        f"date: {datetime.now(UTC).isoformat(timespec='seconds')}  host: {platform.node()}  "
        f"nproc: {os.cpu_count()}  python: {platform.python_version()}  "
        f"load avg: {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print(
        f"tenants: {', '.join(f'{c:,}' for c in TENANT_COUNTS)} x {USERS_PER_TENANT} users; "
        f"{samples:,} timed checks per count (warm-up {warmup:,}); gc enabled while timing"
    )
    began = time.perf_counter()
    result = await bench_decisions(samples, warmup)
    bench_raw_casbin(raw_calls)
    if not args.skip_postgres:
        await bench_cold_path(loads, TENANT_COUNTS[-1])
    stages = result["stages"]
    assert isinstance(stages, list)
    ok = bool(result["flat"]) and all(
        s.decide.p50 <= TARGET_P50_US and s.decide.p99 <= TARGET_P99_US for s in stages
    )
    print(
        f"\nP5 overall: {'PASS' if ok else 'FAIL'}  (wall time {time.perf_counter() - began:.1f} s)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
