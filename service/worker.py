"""Worker composition root: ``countersign worker`` claims and executes runs.

Before it reports ready it prewarms: graphs are imported and compiled, database and
checkpoint pools opened, and every graph runs once against an in-memory checkpointer.
It serves ``/ok``, ``/readyz`` and ``/metrics`` on ``worker_health_port``. On SIGTERM it
claims nothing new, lets runs finish for ``grace`` seconds, then hands the rest back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from service.bootstrap import build_worker, open_runtime
from service.errors import Unavailable
from service.observability import serve_health, settle_heap
from service.queue.local_socket import SocketEventBus
from service.services import reaper
from service.services.execution import RunWorker
from service.settings import Settings

T = TypeVar("T")

log = logging.getLogger(__name__)


async def run_worker(settings: Settings, *, grace: float = 30.0) -> None:
    started = time.monotonic()
    stop = asyncio.Event()
    ready = False
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    health_stop = asyncio.Event()
    idle: asyncio.Task[None] | None = None
    health = asyncio.create_task(
        serve_health(
            settings.worker_health_host,
            settings.worker_health_port,
            lambda: ready and not stop.is_set(),
            health_stop,
        )
        # the child of `serve` (its API answers for it) and a quarantine process serve none
        if not settings.bus_socket and settings.worker_slot != "quarantine"
        else health_stop.wait(),
        name="worker-health",
    )
    try:
        async with open_runtime(settings, role="worker") as rt:
            if settings.prewarm and settings.worker_slot != "quarantine":  # it starts rarely
                await rt.engine.prewarm()
            worker = build_worker(rt, settings, role="worker")
            worker_id = worker.config.worker_id
            report = _reporter(settings.supervisor_fd)
            if settings.worker_slot:  # supervised: take over what a dead predecessor held
                worker.on_crashed_waiting = lambda: report(b"q")
                expired = await _start_step(lambda: reaper.expire_crashed(rt, worker_id))
                if expired:
                    await _start_step(worker.reap_once)
            settle_heap()
            worker.start()
            ready = True
            report(b"r")
            if settings.worker_slot == "main":
                # crashed runs left by any process: ask for quarantine
                await _start_step(worker.reap_once)
            if settings.worker_slot == "quarantine":
                idle = asyncio.create_task(_exit_when_idle(worker, settings, stop))
            if isinstance(rt.bus, SocketEventBus):
                await rt.bus.ready()
                rt.bus.on_lost(stop.set)  # the API process is gone: so are we
            log.info(
                "worker ready in %.2f s (graphs: %s)",
                time.monotonic() - started,
                ", ".join(rt.engine.graph_ids),
            )
            await stop.wait()
            if idle is not None:
                idle.cancel()
            log.info("worker stopping: no new claims, %d runs in flight", worker.active_runs)
            await worker.stop(grace=grace)
    finally:
        health_stop.set()
        with contextlib.suppress(Exception):
            await health


def _reporter(fd: int) -> Callable[[bytes], None]:
    """Writes one-byte reports to the supervisor (``r`` ready, ``q`` crashed runs wait)."""

    def report(message: bytes) -> None:
        if fd >= 0:
            with contextlib.suppress(OSError):  # the supervisor is gone: so are we, soon
                os.write(fd, message)

    return report


async def _exit_when_idle(worker: RunWorker, settings: Settings, stop: asyncio.Event) -> None:
    """A quarantine process ends when it ran nothing for a while: the supervisor starts
    another when a crashed run waits again."""
    while not stop.is_set():
        await asyncio.sleep(1.0)
        quiet = time.monotonic() - worker.last_claim
        if not worker.active_runs and quiet >= settings.quarantine_idle_seconds:
            log.info("quarantine idle for %.0f s: exiting", quiet)
            stop.set()


async def _start_step(step: Callable[[], Awaitable[T]], attempts: int = 5) -> T:
    """A start-up statement, tried again when the database blinked (R19): a worker that
    exits on the first transient fault would be restarted only to meet the next one."""
    for attempt in range(1, attempts + 1):
        try:
            return await step()
        except Unavailable:
            if attempt == attempts:
                raise
            await asyncio.sleep(0.2 * attempt)
    raise AssertionError("unreachable")
