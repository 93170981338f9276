"""R18 (model-based test): a Hypothesis ``RuleBasedStateMachine`` drives the live cluster
(2 APIs, 2 workers, its own Redis, Postgres) with the catalogue's rules: create a thread,
start a run, resume (through the runs route or the inbox), cancel, update_state, ``kill -9``
a worker, restart Redis, terminate every Postgres backend of the cluster's database.

After every step: no answer was a server error other than a 503 with ``Retry-After`` (a fault
in progress), at most one run of a thread is ``running`` (INV-3) and no run made more than
3 attempts (INV-8). At the end of each example the cluster settles and all of INV-1…8 are
checked (``harness.check_invariants``), with the 202s this example saw per interrupt (INV-5).

CI: 20 examples x 25 steps, derandomized (the same examples on every run);
``HITL_FULL=1``: 100 x 25, random. A shrunk counterexample becomes a test of its own below.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from typing import Any

import httpx
import psycopg
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from tests.reliability.harness import (
    FULL,
    MAX_ATTEMPTS,
    T_REC,
    Cluster,
    Driver,
    check_invariants,
    iterations,
    log,
    timeout,
)

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(timeout(1500, 7200))]

DECISIONS = st.sampled_from(
    [
        {"type": "accept", "args": None},
        {"type": "edit", "args": {"action": "approve_refund", "args": {"amount": 1}}},
        {"type": "response", "args": "not like this"},
        {"type": "ignore", "args": None},
    ]
)
APIS = st.integers(min_value=0, max_value=1)
FAULTS_PER_EXAMPLE = 3
THREADS_PER_EXAMPLE = 4  # more would leave few steps for the calls on them


def acceptable(reply: httpx.Response, *allowed: int) -> None:
    """An expected status, or a 503 with Retry-After while a fault lasts; never a 500."""
    if reply.status_code == 503:
        assert reply.headers.get("retry-after"), reply.text
        return
    assert reply.status_code in allowed, (reply.status_code, reply.text[:300])


class HitlModel(RuleBasedStateMachine):
    """One example: a few threads of ``hitl_pipeline`` under a random mix of calls and faults."""

    cluster: Cluster  # set by the test before the run
    tally: Counter[str] = Counter()  # step outcomes over all examples, for the log
    threads = Bundle("threads")

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.driver = Driver(self.cluster)
        self.accepted: Counter[str] = Counter()  # interrupt row id -> 202s seen
        self.steps: list[str] = []
        self.faults = 0
        self.mine: set[str] = set()  # this example's threads: the invariants judge these

    @initialize(target=threads)
    def first_thread(self) -> str:
        """Every example starts with a thread whose run is on its way to the interrupt."""
        thread = self.create_thread(0)
        self.start_run(thread, 0, 1)
        return thread

    def wait(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def note(self, step: str, outcome: object = "") -> None:
        self.steps.append(f"{step}: {outcome}" if outcome != "" else step)
        self.tally[f"{step.split()[0]} {outcome}".strip()] += 1

    @precondition(lambda self: len(self.mine) < THREADS_PER_EXAMPLE)
    @rule(target=threads, api=APIS)
    def create_thread(self, api: int) -> str:
        reply = self.wait(self.driver.api(api).post("/threads", json={}))
        acceptable(reply, 200)
        if reply.status_code != 200:
            return ""  # a thread the fault refused: later rules on it get 404
        thread_id = str(reply.json()["thread_id"])
        self.mine.add(thread_id)
        self.note(f"create {thread_id}", 200)
        return thread_id

    @rule(thread=threads, api=APIS, tool_calls=st.integers(min_value=0, max_value=2))
    def start_run(self, thread: str, api: int, tool_calls: int) -> None:
        if not thread:
            return
        reply = self.wait(
            self.driver.start_run(
                thread,
                "hitl_pipeline",
                {"request": {"tool_calls": tool_calls}},
                api=api,
                expect=None,
            )
        )
        acceptable(reply, 202, 409)  # 409: the thread is busy (multitask reject)
        self.note(f"start {thread}", reply.status_code)

    @rule(thread=threads, api=APIS, decision=DECISIONS, inbox=st.booleans())
    def resume(self, thread: str, api: int, decision: dict[str, Any], inbox: bool) -> None:
        """A reviewer answers what the thread shows once it rests (or a stale screen, if the
        thread never comes to rest within 5 s: then 409)."""
        if not thread:
            return
        self.wait(self._at_rest(thread))
        pending = self.wait(self.driver.pending_interrupts(thread))
        if inbox and pending:
            item = pending[0]
            reply = self.wait(
                self.driver.decide(
                    item["id"],
                    item["payload_hash"],
                    key=f"r18-{item['id']}",
                    api=api,
                    decision=decision,
                )
            )
        else:
            reply = self.wait(self.driver.resume(thread, decision, api=api, expect=None))
        # 409: nothing pending, a stale view or a busy thread; 404: no run has touched it
        acceptable(reply, 202, 409, 404, 422)
        if reply.status_code == 202 and pending:
            self.accepted[pending[0]["id"]] += 1
        self.note(f"resume {thread} {'inbox' if inbox else 'runs'}", reply.status_code)

    @rule(thread=threads, api=APIS)
    def cancel(self, thread: str, api: int) -> None:
        if not thread:
            return
        listed = self.wait(self.driver.api(api).get(f"/threads/{thread}/runs"))
        acceptable(listed, 200)
        if listed.status_code != 200:
            return
        live = [r for r in listed.json() if r["status"] in ("pending", "running")]
        if not live:
            return
        run_id = live[0]["run_id"]
        reply = self.wait(self.driver.api(api).post(f"/threads/{thread}/runs/{run_id}/cancel"))
        acceptable(reply, 200, 202, 204, 404, 409)
        self.note(f"cancel {run_id}", reply.status_code)

    @rule(thread=threads, api=APIS, n=st.integers(min_value=0, max_value=9))
    def update_state(self, thread: str, api: int, n: int) -> None:
        if not thread:
            return
        reply = self.wait(
            self.driver.api(api).post(
                f"/threads/{thread}/state", json={"values": {"trace": [f"edited#{n}"]}}
            )
        )
        # 409: a run is in flight; 404/422/400: nothing to update (no graph has run on it yet)
        acceptable(reply, 200, 400, 404, 409, 422)
        self.note(f"update_state {thread}", reply.status_code)

    @rule(thread=threads)
    def let_it_run(self, thread: str) -> None:
        """Time passes: up to 5 s for the thread's runs to stop (at an interrupt or the end)."""
        if not thread:
            return

        self.wait(self._at_rest(thread))
        self.note(f"wait {thread}", self.wait(self.driver.thread_status(thread)))

    async def _at_rest(self, thread: str) -> None:
        async def resting() -> bool:
            return await self.driver.thread_status(thread) in ("idle", "interrupted", "error")

        with contextlib.suppress(AssertionError):
            await self.driver.wait_for("the thread at rest", resting, timeout=5)

    @precondition(lambda self: self.faults < FAULTS_PER_EXAMPLE)
    @rule(kind=st.sampled_from(["kill worker 0", "kill worker 1", "restart redis", "pg backends"]))
    def fault(self, kind: str) -> None:
        """A fault, at most ``FAULTS_PER_EXAMPLE`` per example (calls are the model's subject;
        without a cap Hypothesis would spend most steps on faults, which need no thread)."""
        self.faults += 1
        if kind.startswith("kill worker"):
            index = int(kind[-1])
            pid = self.cluster.kill_worker(index)
            self.cluster.restart_worker(index, wait_ready=False)
            self.note(f"fault kill -9 worker {index} (pid {pid})")
        elif kind == "restart redis":
            self.cluster.redis_restart()
            self.note("fault restart redis")
        else:
            with psycopg.connect(self.cluster.dsn, autocommit=True) as conn:
                row = conn.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                ).fetchone()
            self.note(f"fault pg_terminate_backend x {row[0] if row else 0}")

    @invariant()
    def one_runner_and_capped_attempts(self) -> None:
        rows = self.cluster.sql(
            "SELECT (SELECT count(*) FROM (SELECT thread_id FROM runs WHERE status = 'running' "
            "GROUP BY 1 HAVING count(*) > 1) twice), (SELECT coalesce(max(attempt), 0) FROM runs)"
        )
        twice, top = rows[0]
        assert twice == 0, f"INV-3: {twice} threads with two running runs"
        assert top <= MAX_ATTEMPTS, f"INV-8: a run made {top} attempts"

    def teardown(self) -> None:
        try:
            self.cluster.ensure_workers()
            self.wait(
                check_invariants(
                    self.cluster,
                    accepted=dict(self.accepted),
                    settle=2 * T_REC,
                    threads=self.mine,
                )
            )
        except BaseException:
            log("R18 example:\n  " + "\n  ".join(self.steps))
            raise
        finally:
            self.wait(self.driver.aclose())
            self.loop.close()


def test_r18_model_based(cluster: Cluster) -> None:
    HitlModel.cluster = cluster
    examples = iterations(20, 100)
    runner = HitlModel.TestCase
    runner.settings = settings(
        max_examples=examples,
        stateful_step_count=25,
        deadline=None,
        derandomize=not FULL,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )
    HitlModel.tally.clear()
    try:
        runner("runTest").runTest()
    finally:
        rows = cluster.sql("SELECT status, count(*) FROM runs GROUP BY 1 ORDER BY 1")
        log(f"R18: {examples} examples x 25 steps; runs by status {dict(rows)}")
        log(f"R18 steps: {dict(sorted(HitlModel.tally.items()))}")
        live = cluster.sql(
            "SELECT run_id, thread_id, status, attempt, lease_owner, started_at, updated_at "
            "FROM runs WHERE status IN ('pending', 'running')"
        )
        if live:
            log(f"R18 runs still in flight: {live}")
