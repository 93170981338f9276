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
import signal
import time

from service.bootstrap import build_worker, open_runtime
from service.observability import serve_health, settle_heap
from service.queue.local_socket import SocketEventBus
from service.settings import Settings

log = logging.getLogger(__name__)


async def run_worker(settings: Settings, *, grace: float = 30.0) -> None:
    started = time.monotonic()
    stop = asyncio.Event()
    ready = False
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    health_stop = asyncio.Event()
    health = asyncio.create_task(
        serve_health(
            settings.worker_health_host,
            settings.worker_health_port,
            lambda: ready and not stop.is_set(),
            health_stop,
        )
        if not settings.bus_socket  # the child of `serve`: its API answers for it
        else health_stop.wait(),
        name="worker-health",
    )
    try:
        async with open_runtime(settings, role="worker") as rt:
            if settings.prewarm:
                await rt.engine.prewarm()
            worker = build_worker(rt, settings, role="worker")
            settle_heap()
            worker.start()
            ready = True
            if isinstance(rt.bus, SocketEventBus):
                await rt.bus.ready()
                rt.bus.on_lost(stop.set)  # the API process is gone: so are we
            log.info(
                "worker ready in %.2f s (graphs: %s)",
                time.monotonic() - started,
                ", ".join(rt.engine.graph_ids),
            )
            await stop.wait()
            log.info("worker stopping: no new claims, %d runs in flight", worker.active_runs)
            await worker.stop(grace=grace)
    finally:
        health_stop.set()
        with contextlib.suppress(Exception):
            await health
