"""``countersign worker``: a supervisor around the processes that run graphs.

A graph runs arbitrary code, and a node may take its process down (``os._exit``, a crash in
a native library, the kernel's OOM killer). So the supervisor runs the worker in a child
process (``main``) and starts a new one when it dies. The new process first ends the leases
its predecessor held, counting a crash on each of those runs (``services/reaper.py``), so
they are retried at once instead of when their leases run out. A run with a crash is
claimed only by a second child (``quarantine``), started on demand, that runs such runs one
at a time and exits when idle: from then on a poison run crashes only that process, and
ends ``error`` at the attempt cap like any failing run, while ``main`` runs the rest (R11).

The children die with the supervisor (``PR_SET_PDEATHSIG``), stop on its SIGTERM, and
report over a pipe: ``r`` ready, ``q`` crashed runs wait for a quarantine process. A
``main`` that exits before its first ``r`` (a startup error) ends the supervisor with its
exit code; one that exits 0 by itself (its embedded API went away) ends it with 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import socket
import sys
import time

log = logging.getLogger(__name__)

RESTART_DELAYS = (0.2, 1.0, 2.0, 5.0, 10.0)
STABLE_AFTER = 60.0  # a child that lived this long starts its restart backoff afresh
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if sys.platform == "linux":
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class Child:
    """One supervised worker process, started again by its keeper after it exits."""

    def __init__(self, slot: str, worker_id: str, wanted: asyncio.Event) -> None:
        self.slot = slot
        self.worker_id = worker_id
        self.wanted_quarantine = wanted
        self.process: asyncio.subprocess.Process | None = None
        self.ready = False  # reported ready at least once

    async def run(self) -> int:
        """Start the process; its exit code once it ends (negative: killed by a signal)."""
        read_fd, write_fd = os.pipe()
        env = {
            **os.environ,
            "COUNTERSIGN_WORKER_SLOT": self.slot,
            "COUNTERSIGN_WORKER_ID": self.worker_id,
            "COUNTERSIGN_SUPERVISOR_FD": str(write_fd),
        }
        try:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "service.cli",
                "worker",
                env=env,
                pass_fds=(write_fd,),
                preexec_fn=_die_with_parent,  # the supervisor runs no threads: fork-safe
            )
        finally:
            os.close(write_fd)
        reports = asyncio.create_task(self._read_reports(read_fd))
        code = await self.process.wait()
        await reports  # the pipe closed with the process
        return code

    async def _read_reports(self, fd: int) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", buffering=0)
        )
        try:
            while message := await reader.read(1):
                if message == b"r":
                    self.ready = True
                elif message == b"q":
                    self.wanted_quarantine.set()
        finally:
            transport.close()

    def signal(self, sig: int) -> None:
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(sig)


class Supervisor:
    def __init__(self, *, grace: float) -> None:
        self.grace = grace
        name = f"{socket.gethostname()}-{os.getpid()}"  # runs.lease_owner names the supervisor
        self.wanted = asyncio.Event()
        self.main = Child("main", f"worker-{name}", self.wanted)
        self.quarantine = Child("quarantine", f"quarantine-{name}", self.wanted)
        self.stopping = asyncio.Event()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        main = asyncio.create_task(self._keep_main(), name="supervise-main")
        quarantine = asyncio.create_task(self._keep_quarantine(), name="supervise-quarantine")
        stop = asyncio.create_task(self.stopping.wait())
        await asyncio.wait({main, stop}, return_when=asyncio.FIRST_COMPLETED)
        self.stopping.set()
        for child in (self.main, self.quarantine):
            child.signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(main, self.grace + 5)
        except TimeoutError:
            log.error("the worker did not stop in %.0f s: killing it", self.grace + 5)
            self.main.signal(signal.SIGKILL)
            code = 0
        if self.quarantine.process is not None:
            try:  # it had SIGTERM with the main process: its run had the same grace
                await asyncio.wait_for(self.quarantine.process.wait(), 5)
            except TimeoutError:
                self.quarantine.signal(signal.SIGKILL)
        quarantine.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await quarantine
        stop.cancel()
        return code

    async def _keep_main(self) -> int:
        restarts = 0
        while True:
            began = time.monotonic()
            code = await self.main.run()
            if self.stopping.is_set():
                return 0
            if not self.main.ready:
                return code or 1  # it never started: the reason is in its last log line
            if code == 0:
                return 0  # it ended by itself (its embedded API went away)
            if time.monotonic() - began >= STABLE_AFTER:
                restarts = 0
            delay = RESTART_DELAYS[min(restarts, len(RESTART_DELAYS) - 1)]
            restarts += 1
            log.error(
                "worker process died (%s); restarting it in %.1f s, its runs go to quarantine",
                _describe(code),
                delay,
            )
            self.wanted.set()
            await asyncio.sleep(delay)

    async def _keep_quarantine(self) -> None:
        restarts = 0
        while True:
            await self.wanted.wait()
            self.wanted.clear()
            began = time.monotonic()
            code = await self.quarantine.run()
            if self.stopping.is_set():
                return
            if code == 0:  # idle
                restarts = 0
                continue
            if time.monotonic() - began >= STABLE_AFTER:
                restarts = 0
            delay = RESTART_DELAYS[min(restarts, len(RESTART_DELAYS) - 1)]
            restarts += 1
            # a poison run, most likely: the next quarantine process ends its attempt
            log.warning(
                "quarantine process died (%s); starting another in %.1f s", _describe(code), delay
            )
            self.wanted.set()
            await asyncio.sleep(delay)


def _describe(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


def supervise(*, grace: float = 30.0) -> int:
    """Run the supervisor until SIGTERM/SIGINT or the end of its main worker process."""
    return asyncio.run(Supervisor(grace=grace).run())
