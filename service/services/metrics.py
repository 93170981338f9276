"""Gauges sampled from the database: queue depth (the scaling signal), interrupts, webhooks."""

from __future__ import annotations

import asyncio
import logging

from service.models.base import utcnow
from service.observability import (
    INTERRUPT_OLDEST_AGE,
    INTERRUPTS_PENDING,
    RUNS_PENDING,
    RUNS_PENDING_TOTAL,
    RUNS_RUNNING,
    WEBHOOK_BACKLOG,
)
from service.services.runtime import Runtime

log = logging.getLogger(__name__)


class _Labels:
    """Remembers which label sets a gauge has, so vanished ones are removed, not left stale."""

    def __init__(self) -> None:
        self.seen: dict[int, set[tuple[str, ...]]] = {}

    def update(self, gauge: object, values: dict[tuple[str, ...], float]) -> None:
        seen = self.seen.setdefault(id(gauge), set())
        for labels, value in values.items():
            gauge.labels(*labels).set(value)  # type: ignore[attr-defined]
        for gone in seen - set(values):
            gauge.remove(*gone)  # type: ignore[attr-defined]
        self.seen[id(gauge)] = set(values)


async def sample_runs(rt: Runtime, labels: _Labels) -> int:
    """The queue-depth gauges (the scaling signal); returns the pending-run total."""
    now = utcnow()
    async with rt.transaction(readonly=True) as uow:
        by_status = await uow.store.runs.count_by_status(now=now)
    pending: dict[tuple[str, ...], float] = {
        (t,): float(n) for (t, status), n in by_status.items() if status == "pending"
    }
    running: dict[tuple[str, ...], float] = {
        (t,): float(n) for (t, status), n in by_status.items() if status == "running"
    }
    total = int(sum(pending.values()))
    labels.update(RUNS_PENDING, pending)
    labels.update(RUNS_RUNNING, running)
    RUNS_PENDING_TOTAL.set(total)
    return total


async def sample_reviews(rt: Runtime, labels: _Labels) -> None:
    """Pending interrupts by tenant and type (count, oldest age) and the webhook backlog."""
    now = utcnow()
    async with rt.transaction(readonly=True) as uow:
        interrupts = await uow.store.interrupts.pending_count()
        backlog = await uow.store.webhooks.backlog()
    counts: dict[tuple[str, ...], float] = {key: float(n) for key, (n, _) in interrupts.items()}
    ages: dict[tuple[str, ...], float] = {
        key: (now - oldest).total_seconds() for key, (_, oldest) in interrupts.items() if oldest
    }
    labels.update(INTERRUPTS_PENDING, counts)
    labels.update(INTERRUPT_OLDEST_AGE, ages)
    WEBHOOK_BACKLOG.set(backlog)


async def run_sampler(rt: Runtime, *, every: float = 1.0, reviews_every: float = 15.0) -> None:
    """Queue depth every ``every`` seconds (workers scale on it); the review gauges, which
    aggregate over every pending interrupt, every ``reviews_every`` seconds."""
    labels = _Labels()
    loop = asyncio.get_running_loop()
    next_reviews = 0.0
    while True:
        try:
            await sample_runs(rt, labels)
            if loop.time() >= next_reviews:
                next_reviews = loop.time() + reviews_every
                await sample_reviews(rt, labels)
        except Exception:
            log.warning("metrics sample failed", exc_info=True)
        await asyncio.sleep(every)
