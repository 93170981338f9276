"""Worker composition root: ``countersign worker`` claims and executes runs."""

from __future__ import annotations

import asyncio
import logging
import signal

from service.bootstrap import build_worker, open_runtime
from service.settings import Settings

log = logging.getLogger(__name__)


async def run_worker(settings: Settings, *, grace: float = 30.0) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with open_runtime(settings, role="worker") as rt:
        worker = build_worker(rt, settings, role="worker")
        worker.start()
        log.info("worker ready", extra={"graphs": rt.engine.graph_ids})
        await stop.wait()
        log.info("worker stopping")
        await worker.stop(grace=grace)
