"""The run worker: claim from the ledger, execute with the engine, finalize fenced.

A run is claimed with a lease (owner, expiry) and a fencing token (``fence``, bumped at
every claim). Every write of an attempt carries its fence, so an attempt whose lease
was taken over (a paused or partitioned worker) writes nothing. The worker renews its
leases, a reaper gives expired runs back to the queue until the attempt cap, and the
ledger (not the bell) decides what runs: a lost bell ring costs latency only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import orjson

from service.domain.runs import (
    CancelAction,
    RunResult,
    RunStatus,
    wait_answer,
    wait_output,
)
from service.errors import FencedWrite, Unavailable
from service.models import Run
from service.models.base import utcnow
from service.observability import FENCED_WRITES, QUEUE_WAIT, RUN_DURATION
from service.outbound.sender import WebhookSender
from service.queue.port import OUTCOME_CAP
from service.services import inbox, reaper, run_log, threads, webhook_dispatch, webhooks
from service.services.cron_scheduler import run_scheduler
from service.services.runtime import Runtime, every
from service.services.thread_ttl import run_sweeper
from service.store.runs import Lease

log = logging.getLogger(__name__)

Failpoint = Callable[[str], None]
T = TypeVar("T")
FINALIZE_TRIES = 5


def _no_failpoint(_name: str) -> None:
    return None


@dataclass(frozen=True)
class WorkerConfig:
    worker_id: str
    concurrency: int = 8
    lease_ttl: float = 60.0
    renew_every: float = 15.0
    reaper_every: float = 30.0
    poll_every: float = 5.0
    max_attempts: int = 3
    expiry_every: float = 2.0
    cron_every: float = 1.0  # the cron scheduler's tick (cron_scheduler.py)
    # which runs it claims: ``any``; ``clean`` (a supervised main process: none that crashed
    # a process); ``crashed`` (a quarantine process: only those, one at a time, polling)
    claims: str = "any"


@dataclass
class WorkerStats:
    claimed: int = 0
    finished: int = 0
    fenced_writes_rejected: int = 0
    requeued: int = 0
    failed_attempt_cap: int = 0


class _LateRollback(Exception):  # a signal inside the worker, never raised out of it
    """Finalize found a rollback requested after the graph ended: undo, then record."""


@dataclass
class _Active:
    run: Run
    lease: Lease
    task: asyncio.Task[RunResult] | None = None
    cancel_action: str | None = None
    lost: bool = False
    draining: bool = False


def _json(data: Any) -> bytes:
    return orjson.dumps(data, default=str, option=orjson.OPT_NON_STR_KEYS)


class RunWorker:
    def __init__(
        self,
        rt: Runtime,
        config: WorkerConfig,
        *,
        failpoint: Failpoint = _no_failpoint,
        webhooks: WebhookSender | None = None,
    ) -> None:
        self.rt = rt
        self.webhooks = webhooks  # None: this worker delivers no webhooks
        self.config = config
        self.failpoint = failpoint
        self.stats = WorkerStats()
        self._active: dict[str, _Active] = {}
        self._loops: list[asyncio.Task[None]] = []
        self._runs: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(config.concurrency)
        self._stopping = asyncio.Event()
        self.last_claim = time.monotonic()
        self.on_crashed_waiting: Callable[[], None] | None = None

    @property
    def active_runs(self) -> int:
        return len(self._active)

    # ---- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        self.rt.bus.on_control(self._on_control)
        self._loops = [
            asyncio.create_task(self._claim_loop(), name="worker-claim"),
            asyncio.create_task(self._renew_loop(), name="worker-renew"),
        ]
        if self.config.claims == "crashed":
            return  # a quarantine process runs crashed runs and nothing else
        self._loops += [
            asyncio.create_task(self._reap_loop(), name="worker-reap"),
            asyncio.create_task(self._expiry_loop(), name="worker-expiry"),
            asyncio.create_task(
                run_scheduler(self.rt, self.config.cron_every), name="worker-crons"
            ),
            asyncio.create_task(run_sweeper(self.rt), name="worker-thread-ttl"),
        ]
        if self.webhooks is not None:
            self._loops.append(
                asyncio.create_task(
                    webhook_dispatch.run_dispatcher(
                        self.rt,
                        self.webhooks,
                        owner=self.config.worker_id,
                        failpoint=self.failpoint,
                    ),
                    name="worker-webhooks",
                )
            )

    async def stop(self, grace: float = 30.0) -> None:
        """Claim nothing more; let runs finish for ``grace`` seconds, then hand them back."""
        self._stopping.set()
        for loop in self._loops:
            if loop.get_name() == "worker-claim":
                loop.cancel()
        if self._runs:
            _, still = await asyncio.wait(set(self._runs), timeout=grace)
            for active in list(self._active.values()):
                active.draining = True
                if active.task is not None:
                    active.task.cancel()
            if still:
                await asyncio.wait(still, timeout=10)
        for loop in self._loops:
            loop.cancel()
        for loop in self._loops:
            with contextlib.suppress(asyncio.CancelledError):
                await loop

    # ---- claiming -------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        """Claim as many runs as there are free slots in one statement; when fewer came
        back, nothing more was claimable then, so wait for the bell (or the poll)."""
        while not self._stopping.is_set():
            await self._slots.acquire()
            free = 1
            while free < self.config.concurrency and not self._slots.locked():
                await self._slots.acquire()
                free += 1
            try:
                runs = await self._claim(free)
            except Exception:
                log.warning("claim failed; retrying", exc_info=True)
                for _ in range(free):
                    self._slots.release()
                await asyncio.sleep(1.0)
                continue
            for _ in range(free - len(runs)):
                self._slots.release()
            for run in runs:
                task = asyncio.create_task(self._execute(run), name=f"run-{run.run_id}")
                self._runs.add(task)
                task.add_done_callback(self._run_done)
            if len(runs) < free and self.config.claims == "crashed":
                await asyncio.sleep(self.config.poll_every)  # the bell rings for others
            elif len(runs) < free:
                await self.rt.bell.wait(self.config.poll_every)

    def _run_done(self, task: asyncio.Task[None]) -> None:
        self._runs.discard(task)
        self._slots.release()
        if not task.cancelled() and task.exception() is not None:
            log.error("run task crashed", exc_info=task.exception())

    async def _claim(self, limit: int) -> list[Run]:
        async with self.rt.transaction(single_statement=True) as uow:
            runs = await uow.store.runs.claim(
                self.config.worker_id,
                now=utcnow(),
                lease_ttl=self.config.lease_ttl,
                limit=limit,
                claims=self.config.claims,
            )
        if runs:
            self.last_claim = time.monotonic()
        for run in runs:
            run_log.state(run, RunStatus.running.value)
            self.stats.claimed += 1
            if run.started_at is not None:
                QUEUE_WAIT.observe(max(0.0, (run.started_at - run.available_at).total_seconds()))
            self.failpoint("after_claim")
        return runs

    # ---- executing ------------------------------------------------------------------

    async def _emit(self, run_id: str, event: str, data: Any) -> None:
        try:
            await self.rt.bus.publish(run_id, event, _json(data))
        except Exception:  # streaming is best effort; the run and its state are not
            log.warning("could not publish %s event of run %s", event, run_id, exc_info=True)

    async def _execute(self, run: Run) -> None:
        lease = Lease(run.run_id, run.fence)
        active = _Active(run=run, lease=lease)
        self._active[run.run_id] = active
        try:
            await self._emit(run.run_id, "metadata", {"run_id": run.run_id, "attempt": run.attempt})
            spec = run.spec()

            async def emit(event: str, data: Any) -> None:
                if not active.lost:  # a stale attempt must not publish into the live stream
                    await self._emit(run.run_id, event, data)

            steps = 0

            def on_step() -> None:
                nonlocal steps
                steps += 1
                if steps == 1:
                    self.failpoint("mid_graph")

            began = time.monotonic()
            active.task = asyncio.create_task(self.rt.engine.execute(spec, emit, on_step))
            try:
                result = await active.task
            except asyncio.CancelledError:
                if active.lost:
                    log.warning("run %s: lease lost, attempt abandoned", run.run_id)
                    return
                if active.draining or (active.cancel_action is None and self._stopping.is_set()):
                    await self._release(lease)
                    return
                if active.cancel_action is None:
                    raise
                if active.cancel_action == CancelAction.rollback.value:
                    await self.rt.engine.rollback(run.thread_id, run.run_id)
                result = await self.rt.engine.current(
                    run.thread_id, run.graph_id, RunStatus.interrupted
                )
            except FencedWrite:
                log.warning("run %s: attempt %s was fenced out; stopping", run.run_id, run.attempt)
                return
            except Exception:
                # infrastructure failure (checkpointer, database): leave the lease to
                # expire so the reaper retries the run, up to the attempt cap
                log.exception(
                    "run %s: attempt %s failed outside the graph", run.run_id, run.attempt
                )
                return
            RUN_DURATION.labels(result.status.value).observe(time.monotonic() - began)
            self.failpoint("after_checkpoint_before_finalize")
            rollback = active.cancel_action == CancelAction.rollback.value
            await self._finalize(run, lease, result, rollback=rollback)
            self.failpoint("after_finalize_before_ack")
        finally:
            self._active.pop(run.run_id, None)

    async def _finalize(
        self, run: Run, lease: Lease, result: RunResult, *, rollback: bool = False
    ) -> None:
        """Record the attempt's end, fenced: run row, outbox event, thread, review index.

        A rolled-back run is deleted instead (multitask ``rollback``), its checkpoints
        already removed.
        """
        now = utcnow()
        delete_thread = run.temporary and run.on_completion == "delete"
        try:
            answer = await self._retrying(
                lambda: self._finalize_once(run, lease, result, rollback, now, delete_thread)
            )
        except _LateRollback:
            await self.rt.engine.rollback(run.thread_id, run.run_id)
            current = await self.rt.engine.current(
                run.thread_id, run.graph_id, RunStatus.interrupted
            )
            await self._finalize(run, lease, current, rollback=True)
            return
        except FencedWrite:
            self.stats.fenced_writes_rejected += 1
            FENCED_WRITES.labels("finalize").inc()
            log.warning("run %s: finalize rejected, a newer attempt owns it", run.run_id)
            return
        self.stats.finished += 1
        outcome = answer if answer is not None and len(answer) <= OUTCOME_CAP else None
        await self._end_stream(run.run_id, outcome)
        if delete_thread:
            await self.rt.engine.delete_thread(run.thread_id)

    async def _finalize_once(
        self,
        run: Run,
        lease: Lease,
        result: RunResult,
        rollback: bool,
        now: datetime,
        delete_thread: bool,
    ) -> bytes | None:
        """One try of the finalize; the run's ``/wait`` answer, told with its end (none for a
        rollback)."""
        async with self.rt.transaction() as uow:
            # lock order everywhere: the thread row first, then its runs and interrupts
            thread = await uow.store.threads.lock(run.thread_id, tenant_id=run.tenant_id)
            pending = [{"id": i.interrupt_id, "value": i.value} for i in result.interrupts]
            output = wait_output(result.values, pending) if run.temporary else None
            if not await uow.store.runs.finish(
                lease,
                status=result.status,
                error=result.error,
                now=now,
                output=output,
                unless_rollback=not rollback,
            ):
                if not rollback and (
                    await uow.store.runs.cancel_requested(run.run_id) == CancelAction.rollback.value
                ):
                    # a rollback committed while the graph was finishing: the run was
                    # still in flight when the newer run arrived, so it goes all the same
                    raise _LateRollback()
                raise FencedWrite()
            if rollback:
                await uow.store.runs.delete(run.run_id, tenant_id=run.tenant_id)
            else:
                await webhooks.run_completed(
                    uow,
                    run,
                    status=result.status.value,
                    thread_status=result.thread_status.value,
                    error=result.error,
                    values=result.values,
                )
            if thread is not None and delete_thread:
                await uow.store.threads.delete(thread.thread_id, tenant_id=run.tenant_id)
            elif thread is not None:
                queued = [r for r in await uow.store.runs.inflight_ids(thread) if r != run.run_id]
                await threads.apply_result(
                    uow,
                    thread,
                    result,
                    run_id=run.run_id,
                    graph_id=run.graph_id,
                    queued=queued,
                    resumed_by=run.run_id if run.carries_decision() else None,
                )
                if queued:
                    uow.jobs.ring()
                    pending = []  # the thread stays busy: nothing is pending for review yet
        if rollback:
            return None
        return _json(wait_answer(result.status.value, result.error, result.values, pending))

    @staticmethod
    async def _retrying(attempt: Callable[[], Awaitable[T]]) -> T:
        """``attempt`` again when the database was briefly unavailable (R7, R19): a fenced
        write that did commit is a no-op the second time, so retrying is safe; after
        ``FINALIZE_TRIES`` the lease expires and the reaper gives the run another attempt."""
        tries = 1
        while True:
            try:
                return await attempt()
            except Unavailable:
                if tries == FINALIZE_TRIES:
                    raise
                log.warning("database unavailable while finalizing; retry %d", tries)
                await asyncio.sleep(0.05 * 2**tries)
                tries += 1

    async def _end_stream(self, run_id: str, outcome: bytes | None = None) -> None:
        try:
            await self.rt.bus.finish(run_id, outcome)
        except Exception:
            log.warning("could not close the event stream of run %s", run_id, exc_info=True)

    async def _release(self, lease: Lease) -> None:
        with contextlib.suppress(Exception):
            async with self.rt.transaction() as uow:
                await uow.store.runs.release(lease, now=utcnow())
                uow.jobs.ring()

    # ---- control, leases, reaper ----------------------------------------------------

    async def _on_control(self, run_id: str, action: str) -> None:
        active = self._active.get(run_id)
        if active is None or not action.startswith("cancel:"):
            return
        self._cancel(active, action.removeprefix("cancel:"))

    @staticmethod
    def _cancel(active: _Active, action: str) -> None:
        if active.cancel_action is None:
            active.cancel_action = action
            if active.task is not None:
                active.task.cancel()

    async def _renew_loop(self) -> None:
        await every(self.config.renew_every, self.renew_once, "lease renewal")

    async def renew_once(self) -> None:
        held = [a.lease for a in self._active.values()]
        if not held:
            return
        async with self.rt.transaction() as uow:
            renewed = await uow.store.runs.renew(
                self.config.worker_id, held, now=utcnow(), lease_ttl=self.config.lease_ttl
            )
        still = {r.run_id: r for r in renewed}
        for lease in held:
            active = self._active.get(lease.run_id)
            if active is None:
                continue
            renewal = still.get(lease.run_id)
            if renewal is None:
                active.lost = True  # a newer attempt owns the run: this one stops, writes nothing
                self.stats.fenced_writes_rejected += 1
                FENCED_WRITES.labels("renew").inc()
                if active.task is not None:
                    active.task.cancel()
            elif renewal.cancel_requested:
                self._cancel(active, renewal.cancel_requested)

    async def _reap_loop(self) -> None:
        await every(self.config.reaper_every, self.reap_once, "reaper pass")

    async def _expiry_loop(self) -> None:
        await every(self.config.expiry_every, lambda: inbox.expire_due(self.rt), "interrupt expiry")

    async def reap_once(self) -> int:
        """Reap expired leases (``reaper.reap``); a supervised main process also asks for a
        quarantine process when crashed runs wait for one."""
        reaped = await reaper.reap(self.rt, max_attempts=self.config.max_attempts)
        self.stats.requeued += reaped.requeued
        self.stats.failed_attempt_cap += len(reaped.failed)
        for run_id in reaped.failed:
            await self._end_stream(run_id)
        if self.on_crashed_waiting is not None and await reaper.crashed_waiting(self.rt):
            self.on_crashed_waiting()
        return reaped.requeued + len(reaped.failed)
