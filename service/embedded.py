"""The embedded default's worker child: ``countersign serve`` runs the API in its own process
and the worker in a child process (``countersign worker`` with ``COUNTERSIGN_BUS_SOCKET``), so
a single command uses two cores. The child shares the SQLite files and reaches the API's
in-process bell and bus over a Unix socket (``queue/local_socket.py``). It is restarted if it
dies (its runs are taken over once their leases expire, as with any worker), stopped with the
API (SIGTERM, then the grace period), and stops by itself if the API goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path
from types import TracebackType

log = logging.getLogger(__name__)

RESTART_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0)


class WorkerChild:
    def __init__(self, bus_socket: Path, *, grace: float = 30.0) -> None:
        self.bus_socket = bus_socket
        self.grace = grace
        self._process: asyncio.subprocess.Process | None = None
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> WorkerChild:
        self._task = asyncio.create_task(self._supervise(), name="worker-child")
        return self

    async def __aexit__(
        self,
        _type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self._stopping = True
        process = self._process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), self.grace + 5)
            except TimeoutError:
                log.error("the worker process did not stop in %.0f s: killing it", self.grace + 5)
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _supervise(self) -> None:
        env = {**os.environ, "COUNTERSIGN_BUS_SOCKET": str(self.bus_socket)}
        restarts = 0
        while not self._stopping:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "service.cli", "worker", env=env
            )
            code = await self._process.wait()
            if self._stopping:
                return
            delay = RESTART_DELAYS[min(restarts, len(RESTART_DELAYS) - 1)]
            log.error("the worker process exited with %s; restarting it in %.1f s", code, delay)
            restarts += 1
            await asyncio.sleep(delay)
