"""Prometheus metrics of the service, and the worker's small health/metrics HTTP server.

The queue-depth gauge that scales workers (``countersign_runs_pending_total``) is computed
from the database by the API processes, never from Redis: after a Redis FLUSHALL a list
length would read 0 while runs are waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

log = logging.getLogger(__name__)

REGISTRY = CollectorRegistry(auto_describe=True)

RUNS_PENDING = Gauge(
    "countersign_runs_pending",
    "Runs waiting to be claimed, by tenant",
    ["tenant"],
    registry=REGISTRY,
)
RUNS_PENDING_TOTAL = Gauge(
    "countersign_runs_pending_total",
    "Runs waiting to be claimed (the worker scaling signal)",
    registry=REGISTRY,
)
RUNS_RUNNING = Gauge(
    "countersign_runs_running", "Runs being executed, by tenant", ["tenant"], registry=REGISTRY
)
RUN_DURATION = Histogram(
    "countersign_run_duration_seconds",
    "Execution time of one run attempt",
    ["status"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
    registry=REGISTRY,
)
QUEUE_WAIT = Histogram(
    "countersign_queue_wait_seconds",
    "Time from a run becoming claimable to a worker claiming it",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
    registry=REGISTRY,
)
INTERRUPTS_PENDING = Gauge(
    "countersign_interrupts_pending",
    "Pending interrupts, by tenant and type",
    ["tenant", "type"],
    registry=REGISTRY,
)
INTERRUPT_OLDEST_AGE = Gauge(
    "countersign_interrupt_oldest_age_seconds",
    "Age of the oldest pending interrupt, by tenant and type",
    ["tenant", "type"],
    registry=REGISTRY,
)
WEBHOOK_BACKLOG = Gauge(
    "countersign_webhook_backlog", "Webhook deliveries not yet delivered", registry=REGISTRY
)
AUTHZ_LATENCY = Histogram(
    "countersign_authz_decision_seconds",
    "Time of one authorization decision (policy cached)",
    buckets=(1e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 1e-2),
    registry=REGISTRY,
)
FENCED_WRITES = Counter(
    "countersign_fenced_write_rejected",
    "Writes of stale run attempts refused by their fencing token",
    ["kind"],
    registry=REGISTRY,
)
REQUEUED = Counter(
    "countersign_runs_requeued", "Runs given back to the queue by the reaper", registry=REGISTRY
)
# leak detectors for the soak (R16): read when /metrics is scraped, on the event loop's thread
ASYNC_TASKS = Gauge(
    "countersign_asyncio_tasks", "asyncio tasks alive in this process", registry=REGISTRY
)
OPEN_STREAMS = Gauge(
    "countersign_open_streams", "Event streams open in this API process", registry=REGISTRY
)


def _tasks_alive() -> int:
    try:
        return len(asyncio.all_tasks())
    except RuntimeError:  # scraped off the event loop (no loop running): nothing to count
        return 0


ASYNC_TASKS.set_function(_tasks_alive)


def settle_heap() -> None:
    """After start-up: move every object alive now out of the garbage collector's way.

    A full collection otherwise walks the ~250k objects of the imported libraries and
    compiled graphs (100-200 ms pauses seen under load); frozen, they are never scanned.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 50)


def render() -> tuple[bytes, str]:
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


async def serve_health(
    host: str, port: int, ready: Callable[[], bool], stop: asyncio.Event
) -> None:
    """``/ok``, ``/readyz`` and ``/metrics`` over plain asyncio (workers have no web framework)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass
            parts = request_line.decode("latin-1").split()
            path = parts[1] if len(parts) >= 2 else "/"
            if path == "/metrics":
                body, content_type, status = *render(), "200 OK"
            elif path == "/ok":
                body, content_type, status = b'{"ok":true}', "application/json", "200 OK"
            elif path == "/readyz":
                good = ready()
                body = b'{"ok":true}' if good else b'{"ok":false}'
                content_type, status = (
                    "application/json",
                    "200 OK" if good else "503 Service Unavailable",
                )
            else:
                body, content_type, status = (
                    b'{"detail":"Not found.","code":"not_found"}',
                    "application/json",
                    "404 Not Found",
                )
            head = (
                f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + body)
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    server = await asyncio.start_server(handle, host, port)
    log.info("health server listening on %s:%s", host, port)
    async with server:
        await stop.wait()
