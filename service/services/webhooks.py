"""Webhooks: events written to the outbox in the same transaction as the change they report.

Delivery (retries, signatures, SSRF guard) is done by the dispatcher in ``webhook_dispatch``.
Event types: ``run.completed`` (every finished run; delivered to the run's own ``webhook``
URL and to subscriptions), ``interrupt.created``, ``interrupt.resolved``,
``interrupt.expired``, ``interrupt.cancelled`` (to subscriptions).
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

from service.domain.ids import uuid7
from service.models import Interrupt, OutboxEvent, Run, WebhookDelivery
from service.models.base import utcnow
from service.services import run_log
from service.services.runtime import UnitOfWork

RUN_COMPLETED = "run.completed"
# the body for the run's own ``webhook`` URL, kept beside the envelope subscriptions receive
RUN_WEBHOOK_BODY = "run_webhook_body"
INTERRUPT_EVENTS = (
    "interrupt.created",
    "interrupt.resolved",
    "interrupt.expired",
    "interrupt.cancelled",
)
EVENT_TYPES = (RUN_COMPLETED, *INTERRUPT_EVENTS)


class Subscribed(NamedTuple):
    id: str
    url: str
    events: tuple[str, ...]


SUBSCRIPTIONS = "webhook_subscriptions"


async def _subscriptions(uow: UnitOfWork, tenant_id: str, event_type: str) -> list[Subscribed]:
    """The tenant's active subscriptions to ``event_type``, as this process read them at
    most a second ago (``Recent``): one made or removed by another process applies to the
    events committed a second after it at the latest."""

    async def load() -> tuple[Subscribed, ...]:
        rows = await uow.store.webhooks.subscriptions(tenant_id)
        return tuple(Subscribed(row.id, row.url, tuple(row.events)) for row in rows)

    subscribed = await uow.recent.get(SUBSCRIPTIONS, tenant_id, load)
    return [sub for sub in subscribed if event_type in sub.events]


async def _write(
    uow: UnitOfWork,
    *,
    tenant_id: str,
    event_type: str,
    payload: dict[str, Any],
    run_id: str | None,
    thread_id: str | None,
    extra_urls: list[str],
    run_body: dict[str, Any] | None = None,
) -> OutboxEvent:
    now = utcnow()
    envelope = {"type": event_type, "timestamp": now.isoformat(), "data": payload}
    event = OutboxEvent(
        id=uuid7(),
        tenant_id=tenant_id,
        type=event_type,
        run_id=run_id,
        thread_id=thread_id,
        payload={**envelope, RUN_WEBHOOK_BODY: run_body} if run_body is not None else envelope,
        created_at=now,
    )
    targets: dict[str, str | None] = dict.fromkeys(extra_urls)
    for sub in await _subscriptions(uow, tenant_id, event_type):
        targets.setdefault(sub.url, sub.id)
    deliveries = [
        WebhookDelivery(
            id=uuid7(),
            tenant_id=tenant_id,
            event_id=event.id,
            url=url,
            subscription_id=sub_id,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        for url, sub_id in targets.items()
    ]
    uow.store.webhooks.add_event(event, deliveries)
    if deliveries:
        uow.jobs.publish("webhooks", "due", b"")  # wakes a dispatcher early; polling is the truth
    return event


def delivery_body(payload: dict[str, Any], *, subscription_id: str | None) -> dict[str, Any]:
    """What one delivery of an event posts: the run's own ``webhook`` (no subscription) gets
    the run as LangGraph Server posts it; subscriptions get the envelope."""
    if subscription_id is None and RUN_WEBHOOK_BODY in payload:
        body: dict[str, Any] = payload[RUN_WEBHOOK_BODY]
        return body
    return {k: v for k, v in payload.items() if k != RUN_WEBHOOK_BODY}


async def run_completed(
    uow: UnitOfWork,
    run: Run,
    *,
    status: str,
    thread_status: str | None,
    error: Any,
    values: Any = None,
) -> OutboxEvent:
    """The one outbox event of a finished run (written in its fenced finalize), and its log
    line once the transaction commits."""
    uow.jobs.after(functools.partial(run_log.state, run, status))
    payload = {
        "run_id": run.run_id,
        "thread_id": run.thread_id,
        "assistant_id": run.assistant_id,
        "graph_id": run.graph_id,
        "status": status,
        "thread_status": thread_status,
        "attempt": run.attempt,
        "error": error,
    }
    return await _write(
        uow,
        tenant_id=run.tenant_id,
        event_type=RUN_COMPLETED,
        payload=payload,
        run_id=run.run_id,
        thread_id=run.thread_id,
        extra_urls=[run.webhook] if run.webhook else [],
        run_body=_langgraph_run_body(run, status, error, values) if run.webhook else None,
    )


def _langgraph_run_body(run: Run, status: str, error: Any, values: Any) -> dict[str, Any]:
    """The run at the top level, as LangGraph Server posts to a run's ``webhook``."""
    body = {
        "run_id": run.run_id,
        "thread_id": run.thread_id,
        "assistant_id": run.assistant_id,
        "created_at": run.created_at.isoformat() if run.created_at else None,
        "updated_at": utcnow().isoformat(),
        "status": status,
        "metadata": run.metadata_ or {},
        "kwargs": run.kwargs or {},
        "multitask_strategy": run.multitask_strategy,
        "run_started_at": run.started_at.isoformat() if run.started_at else None,
        "run_ended_at": utcnow().isoformat(),
        "values": values,
    }
    if error:
        body["error"] = error
    return body


async def interrupt_changed(uow: UnitOfWork, row: Interrupt, event_type: str) -> None:
    """An interrupt event, written only when the tenant subscribes to it."""
    if not await _subscriptions(uow, row.tenant_id, event_type):
        return
    payload = {
        "id": row.id,
        "thread_id": row.thread_id,
        "interrupt_id": row.interrupt_id,
        "type": row.type,
        "status": row.status,
        "payload_hash": row.payload_hash,
        "resolved_by": row.resolved_by,
        "decision": row.decision,
    }
    await _write(
        uow,
        tenant_id=row.tenant_id,
        event_type=event_type,
        payload=payload,
        run_id=None,
        thread_id=row.thread_id,
        extra_urls=[],
    )
