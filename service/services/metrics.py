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


async def sample_once(rt: Runtime, labels: _Labels) -> int:
    """Read the counts and set the gauges; returns the pending-run total."""
    now = utcnow()
    async with rt.transaction(readonly=True) as uow:
        by_status = await uow.store.runs.count_by_status(now=now)
        interrupts = await uow.store.interrupts.pending_count()
        backlog = await uow.store.webhooks.backlog()
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
    counts: dict[tuple[str, ...], float] = {key: float(n) for key, (n, _) in interrupts.items()}
    ages: dict[tuple[str, ...], float] = {
        key: (now - oldest).total_seconds() for key, (_, oldest) in interrupts.items() if oldest
    }
    labels.update(INTERRUPTS_PENDING, counts)
    labels.update(INTERRUPT_OLDEST_AGE, ages)
    WEBHOOK_BACKLOG.set(backlog)
    return total


async def run_sampler(rt: Runtime, *, every: float = 1.0) -> None:
    labels = _Labels()
    while True:
        try:
            await sample_once(rt, labels)
        except Exception:
            log.warning("metrics sample failed", exc_info=True)
        await asyncio.sleep(every)
