"""One log line per run state change: claimed by a worker (``running``) and ended, whichever
way it ended (a worker's finalize, a cancel before any worker took it, the reaper's attempt
cap): the end is written with the run's one outbox event (``webhooks.run_completed``) and
logged once that transaction commits."""

from __future__ import annotations

import logging

from service.models import Run

log = logging.getLogger("countersign.runs")


def state(run: Run, status: str) -> None:
    log.info(
        "run %s %s",
        run.run_id,
        status,
        extra={
            "fields": {
                "run_id": run.run_id,
                "tenant": run.tenant_id,
                "thread_id": run.thread_id,
                "status": status,
                "attempt": run.attempt,
            }
        },
    )
