"""Webhook delivery (the dispatcher) and webhook management (subscriptions, the secret).

Events and their deliveries are written to the outbox by ``webhooks`` in the same
transaction as the change they report. The dispatcher claims due deliveries with a lease,
sends each outside any transaction, signed with the tenant's secret (Standard Webhooks),
then records the attempt: 2xx is delivered; anything else (3xx included: redirects are
never followed) is retried after ``min(2**attempts, 30)`` seconds plus jitter, and given up
(``dead``) after ``max_attempts``. The body is the event's payload serialized the same way
on every attempt and ``webhook-id`` is the event id, so a receiver can drop duplicates
(a crash between sending and recording repeats an attempt: delivery is at least once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson

from service.domain.ids import uuid7
from service.domain.principal import Principal
from service.errors import InvalidInput, NotFound
from service.models import OutboxEvent, WebhookDelivery, WebhookSecret, WebhookSubscription
from service.models.base import utcnow
from service.outbound import signing
from service.outbound.sender import SendResult, WebhookSender
from service.outbound.ssrf import check_url, parse_target
from service.services import audit
from service.services.runtime import Runtime, UnitOfWork
from service.services.webhooks import EVENT_TYPES, SUBSCRIPTIONS, delivery_body

log = logging.getLogger(__name__)

DELIVERED, PENDING, DEAD = "delivered", "pending", "dead"
WAKE_STREAM = "webhooks"  # ``webhooks._write`` publishes here after commit
SECRET_ACTION = "webhook.secret"
MAX_SUBSCRIPTIONS = 100
MAX_BACKOFF = 30

Backoff = Callable[[int], float]


def retry_delay(attempts: int) -> float:
    """Seconds until the next attempt after ``attempts`` failed ones."""
    base = float(min(2**attempts, MAX_BACKOFF))
    return base + random.uniform(0, base / 4)  # noqa: S311  (jitter, not a secret)


def event_body(payload: Any) -> bytes:
    """The delivered bytes: the same on every attempt (sorted keys, compact)."""
    return orjson.dumps(payload, option=orjson.OPT_SORT_KEYS, default=str)


def webhook_not_found() -> NotFound:
    return NotFound("Webhook not found.")


def _allow(rt: Runtime) -> tuple[str, ...]:
    """The configured allow-list of hosts and networks exempt from the SSRF policy."""
    return rt.limits.webhook_allow


async def _ensure_secret(
    uow: UnitOfWork, tenant_id: str, *, principal: Principal | None
) -> tuple[str, bool]:
    """The tenant's signing secret, created when missing; ``(secret, created_now)``.

    Safe against a concurrent creator: the insert skips an existing row and the secret is
    read back, so every writer ends up with the one stored secret.
    """
    existing = await uow.store.webhooks.secret(tenant_id)
    if existing is not None:
        return existing, False
    fresh = signing.new_secret()
    await uow.store.webhooks.insert_ignore(
        WebhookSecret, [{"tenant_id": tenant_id, "secret": fresh, "created_at": utcnow()}]
    )
    stored = await uow.store.webhooks.secret(tenant_id)
    if stored is None:  # pragma: no cover - the insert above guarantees a row
        raise RuntimeError("webhook secret was not stored")
    created = stored == fresh
    if created:
        detail = {"created": True}
        if principal is not None:
            await audit.record_for(
                uow, principal, SECRET_ACTION, "webhook_secret", tenant_id, detail
            )
        else:
            await audit.record(
                uow,
                tenant_id=tenant_id,
                actor=audit.SYSTEM_ACTOR,
                action=SECRET_ACTION,
                target_type="webhook_secret",
                target_id=tenant_id,
                detail={**detail, "reason": "first delivery"},
            )
    return stored, created


# ---- the dispatcher ----------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    delivery_id: str
    url: str
    attempts: int
    msg_id: str
    body: bytes
    secret: str


async def _claim(rt: Runtime, *, owner: str, batch: int, lease_seconds: float) -> list[_Job]:
    async with rt.transaction() as uow:
        now = utcnow()
        rows = await uow.store.webhooks.claim_due(
            owner, now=now, lease_seconds=lease_seconds, limit=batch
        )
        if not rows:
            return []
        secrets = await uow.store.webhooks.secrets(sorted({row.tenant_id for row in rows}))
        events: dict[str, OutboxEvent | None] = {}
        jobs: list[_Job] = []
        for row in rows:
            if row.event_id not in events:
                event = await uow.store.webhooks.get_event(row.event_id)
                ok = event is not None and event.tenant_id == row.tenant_id
                events[row.event_id] = event if ok else None
            found = events[row.event_id]
            body = (
                event_body(delivery_body(found.payload, subscription_id=row.subscription_id))
                if found is not None
                else None
            )
            if body is None:
                await uow.store.webhooks.finish_attempt(
                    row.id,
                    owner=owner,
                    status=DEAD,
                    attempts=row.attempts,
                    next_attempt_at=now,
                    last_status=None,
                    last_error="event missing",
                    now=now,
                )
                continue
            if row.tenant_id not in secrets:
                secrets[row.tenant_id], _ = await _ensure_secret(uow, row.tenant_id, principal=None)
            jobs.append(
                _Job(
                    delivery_id=row.id,
                    url=row.url,
                    attempts=row.attempts,
                    msg_id=row.event_id,
                    body=body,
                    secret=secrets[row.tenant_id],
                )
            )
        return jobs


def _no_failpoint(_name: str) -> None:
    return None


async def _record(
    rt: Runtime,
    *,
    owner: str,
    jobs: Sequence[_Job],
    results: Sequence[SendResult],
    max_attempts: int,
    backoff: Backoff,
) -> None:
    async with rt.transaction() as uow:
        now = utcnow()
        for job, (status, error) in zip(jobs, results, strict=True):
            attempts = job.attempts + 1
            if status is not None and 200 <= status < 300:
                state, next_at, error = DELIVERED, now, None
            else:
                state = DEAD if attempts >= max_attempts else PENDING
                next_at = now + timedelta(seconds=backoff(attempts))
                error = error or f"HTTP {status}"
            recorded = await uow.store.webhooks.finish_attempt(
                job.delivery_id,
                owner=owner,
                status=state,
                attempts=attempts,
                next_attempt_at=next_at,
                last_status=status,
                last_error=error,
                now=now,
            )
            if not recorded:
                log.warning("webhook delivery %s: lease taken over meanwhile", job.delivery_id)


async def dispatch_once(
    rt: Runtime,
    sender: WebhookSender,
    *,
    owner: str,
    batch: int = 20,
    lease_seconds: float = 30.0,
    max_attempts: int = 20,
    backoff: Backoff = retry_delay,
    failpoint: Callable[[str], None] = _no_failpoint,
) -> int:
    """Claim up to ``batch`` due deliveries, send them concurrently, record each attempt.

    Returns how many deliveries were claimed.
    """
    jobs = await _claim(rt, owner=owner, batch=batch, lease_seconds=lease_seconds)
    if not jobs:
        return 0
    results = await asyncio.gather(
        *(sender.send(j.url, msg_id=j.msg_id, body=j.body, secret=j.secret) for j in jobs)
    )
    failpoint("webhook_mid_send")  # sent, not yet recorded: the retry repeats the same webhook-id
    await _record(
        rt, owner=owner, jobs=jobs, results=results, max_attempts=max_attempts, backoff=backoff
    )
    return len(jobs)


async def _listen(rt: Runtime, wake: asyncio.Event) -> None:
    """Wake the dispatcher when new deliveries are committed (polling stays the truth)."""
    while True:
        try:
            async for _ in rt.bus.subscribe(WAKE_STREAM, from_end=True):
                wake.set()
        except Exception as exc:
            log.debug("webhook wake-ups unavailable (%s)", type(exc).__name__)
        await asyncio.sleep(5.0)


async def run_dispatcher(
    rt: Runtime,
    sender: WebhookSender,
    *,
    owner: str,
    interval: float = 1.0,
    batch: int = 20,
    max_attempts: int | None = None,
    failpoint: Callable[[str], None] = _no_failpoint,
) -> None:
    """Deliver until cancelled; never dies on errors. Closes ``sender`` when it ends.

    ``max_attempts`` defaults to the sender's (``webhook_max_attempts`` in settings).
    """
    attempts_cap = sender.max_attempts if max_attempts is None else max_attempts
    wake = asyncio.Event()
    listener = asyncio.create_task(_listen(rt, wake), name="webhooks-wake")
    try:
        while True:
            try:
                claimed = await dispatch_once(
                    rt,
                    sender,
                    owner=owner,
                    batch=batch,
                    max_attempts=attempts_cap,
                    failpoint=failpoint,
                )
            except Exception as exc:  # logged without bodies, URLs or secrets
                log.warning("webhook dispatch pass failed (%s)", type(exc).__name__)
                claimed = 0
            if claimed >= batch:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), interval)
            wake.clear()
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
        await sender.aclose()


# ---- management (API) --------------------------------------------------------------


def _events(events: Sequence[str]) -> list[str]:
    wanted = list(dict.fromkeys(events))
    if not wanted:
        raise InvalidInput("Subscribe to at least one event type.")
    unknown = [e for e in wanted if e not in EVENT_TYPES]
    if unknown:
        raise InvalidInput(f"Unknown event types {unknown}; known types are {list(EVENT_TYPES)}.")
    return wanted


async def check_run_webhook(url: str | None, allow: Sequence[str]) -> str | None:
    """A run's own ``webhook`` URL, checked like a subscription's (InvalidInput -> 422)."""
    if url is None:
        return None
    return await check_url(url, allow=allow)


async def create_subscription(
    rt: Runtime,
    principal: Principal,
    *,
    url: str,
    events: Sequence[str],
    description: str | None = None,
    allow: Sequence[str] | None = None,
) -> tuple[WebhookSubscription, str | None]:
    """Subscribe ``url``; the tenant's secret is returned only when this call created it."""
    await rt.authz.require(principal, "webhooks", "write")
    wanted = _events(events)
    await check_url(url, allow=_allow(rt) if allow is None else allow)
    row = WebhookSubscription(
        id=uuid7(),
        tenant_id=principal.tenant_id,
        url=url,
        events=wanted,
        description=description,
        active=True,
        created_by=principal.subject,
        created_at=utcnow(),
    )
    async with rt.transaction() as uow:
        current = await uow.store.webhooks.subscriptions(principal.tenant_id, active_only=False)
        if len(current) >= MAX_SUBSCRIPTIONS:
            raise InvalidInput(f"A tenant may have at most {MAX_SUBSCRIPTIONS} webhooks.")
        uow.store.webhooks.add_subscription(row)
        secret, created = await _ensure_secret(uow, principal.tenant_id, principal=principal)
        await audit.record_for(
            uow,
            principal,
            "webhook.create",
            "webhook",
            row.id,
            {"events": wanted, "host": parse_target(url).host},
        )
    rt.recent.forget(SUBSCRIPTIONS, principal.tenant_id)
    return row, secret if created else None


async def list_subscriptions(rt: Runtime, principal: Principal) -> list[WebhookSubscription]:
    await rt.authz.require(principal, "webhooks", "read")
    async with rt.transaction(readonly=True) as uow:
        return await uow.store.webhooks.subscriptions(principal.tenant_id, active_only=False)


async def get_subscription(rt: Runtime, principal: Principal, sub_id: str) -> WebhookSubscription:
    await rt.authz.require(principal, "webhooks", "read")
    async with rt.transaction(readonly=True) as uow:
        row = await uow.store.webhooks.get_subscription(sub_id, tenant_id=principal.tenant_id)
    if row is None:
        raise webhook_not_found()
    return row


async def delete_subscription(rt: Runtime, principal: Principal, sub_id: str) -> None:
    """Unsubscribe; another tenant's id is answered exactly like an unknown one."""
    await rt.authz.require(principal, "webhooks", "write")
    async with rt.transaction() as uow:
        if not await uow.store.webhooks.delete_subscription(sub_id, tenant_id=principal.tenant_id):
            raise webhook_not_found()
        await audit.record_for(uow, principal, "webhook.delete", "webhook", sub_id)
    rt.recent.forget(SUBSCRIPTIONS, principal.tenant_id)


async def rotate_secret(rt: Runtime, principal: Principal) -> str:
    """A new signing secret for the tenant, returned this once (never audited or listed)."""
    await rt.authz.require(principal, "webhooks", "write")
    fresh = signing.new_secret()
    async with rt.transaction() as uow:
        tenant_id = principal.tenant_id
        previous = await uow.store.webhooks.secret(tenant_id)
        if previous is None:  # a concurrent first creator cannot make this insert fail
            await uow.store.webhooks.insert_ignore(
                WebhookSecret, [{"tenant_id": tenant_id, "secret": fresh, "created_at": utcnow()}]
            )
        await uow.store.webhooks.set_secret(tenant_id, fresh, now=utcnow())
        await audit.record_for(
            uow,
            principal,
            SECRET_ACTION,
            "webhook_secret",
            tenant_id,
            {"rotated": previous is not None, "created": previous is None},
        )
    return fresh


async def list_deliveries(
    rt: Runtime, principal: Principal, *, event_id: str | None = None, limit: int = 100
) -> list[WebhookDelivery]:
    await rt.authz.require(principal, "webhooks", "read")
    async with rt.transaction(readonly=True) as uow:
        return await uow.store.webhooks.deliveries(
            tenant_id=principal.tenant_id, event_id=event_id, limit=min(limit, rt.limits.list_cap)
        )
