"""Webhook secrets, subscriptions, the outbox and its deliveries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, func, select, update

from service.models import OutboxEvent, WebhookDelivery, WebhookSecret, WebhookSubscription
from service.store.base import Repository

PENDING = "pending"


_SUBSCRIPTIONS = (
    select(WebhookSubscription)
    .where(WebhookSubscription.tenant_id == bindparam("tenant_id"))
    .order_by(WebhookSubscription.created_at)
)
_ACTIVE_SUBSCRIPTIONS = _SUBSCRIPTIONS.where(WebhookSubscription.active.is_(True))


class WebhookRepository(Repository):
    async def secret(self, tenant_id: str) -> str | None:
        row = await self.session.get(WebhookSecret, tenant_id)
        return row.secret if row else None

    async def secrets(self, tenant_ids: Sequence[str]) -> dict[str, str]:
        if not tenant_ids:
            return {}
        stmt = select(WebhookSecret).where(WebhookSecret.tenant_id.in_(list(tenant_ids)))
        return {row.tenant_id: row.secret for row in (await self.session.scalars(stmt)).all()}

    async def set_secret(self, tenant_id: str, secret: str, *, now: datetime) -> None:
        existing = await self.session.get(WebhookSecret, tenant_id)
        if existing is None:
            self.session.add(WebhookSecret(tenant_id=tenant_id, secret=secret, created_at=now))
        else:
            existing.secret, existing.created_at = secret, now
        await self.session.flush()

    async def subscriptions(
        self, tenant_id: str, *, event_type: str | None = None, active_only: bool = True
    ) -> list[WebhookSubscription]:
        stmt = _ACTIVE_SUBSCRIPTIONS if active_only else _SUBSCRIPTIONS
        rows = list((await self.session.scalars(stmt, {"tenant_id": tenant_id})).all())
        if event_type is None:
            return rows
        return [row for row in rows if event_type in row.events]

    def add_subscription(self, row: WebhookSubscription) -> None:
        self.session.add(row)

    async def get_subscription(self, sub_id: str, *, tenant_id: str) -> WebhookSubscription | None:
        stmt = select(WebhookSubscription).where(
            WebhookSubscription.id == sub_id, WebhookSubscription.tenant_id == tenant_id
        )
        return (await self.session.scalars(stmt)).one_or_none()

    async def delete_subscription(self, sub_id: str, *, tenant_id: str) -> bool:
        stmt = delete(WebhookSubscription).where(
            WebhookSubscription.id == sub_id, WebhookSubscription.tenant_id == tenant_id
        )
        result = await self.session.execute(stmt)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def add_event(self, event: OutboxEvent, deliveries: Sequence[WebhookDelivery]) -> None:
        self.session.add(event)
        self.session.add_all(list(deliveries))

    async def get_event(self, event_id: str) -> OutboxEvent | None:
        return await self.session.get(OutboxEvent, event_id)

    async def claim_due(
        self, owner: str, *, now: datetime, lease_seconds: float, limit: int
    ) -> list[WebhookDelivery]:
        """Take due deliveries (pending, next attempt reached, lease free or expired)."""
        stmt = (
            select(WebhookDelivery)
            .where(
                WebhookDelivery.status == PENDING,
                WebhookDelivery.next_attempt_at <= now,
                (WebhookDelivery.lease_expires_at.is_(None))
                | (WebhookDelivery.lease_expires_at < now),
            )
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(limit)
        )
        if self.postgres:
            stmt = stmt.with_for_update(skip_locked=True)
        rows = list((await self.session.scalars(stmt)).all())
        for row in rows:
            row.lease_owner = owner
            row.lease_expires_at = now + timedelta(seconds=lease_seconds)
        await self.session.flush()
        return rows

    async def finish_attempt(
        self,
        delivery_id: str,
        *,
        owner: str,
        status: str,
        attempts: int,
        next_attempt_at: datetime,
        last_status: int | None,
        last_error: str | None,
        now: datetime,
    ) -> bool:
        """Record one attempt; False when the lease was taken over meanwhile."""
        stmt = (
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id, WebhookDelivery.lease_owner == owner)
            .values(
                status=status,
                attempts=attempts,
                next_attempt_at=next_attempt_at,
                last_status=last_status,
                last_error=last_error,
                lease_owner=None,
                lease_expires_at=None,
                delivered_at=now if status == "delivered" else None,
            )
            .execution_options(synchronize_session=False)
        )
        result = await self.session.execute(stmt)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def deliveries(
        self, *, tenant_id: str, event_id: str | None = None, limit: int = 100
    ) -> list[WebhookDelivery]:
        stmt = select(WebhookDelivery).where(WebhookDelivery.tenant_id == tenant_id)
        if event_id:
            stmt = stmt.where(WebhookDelivery.event_id == event_id)
        stmt = stmt.order_by(WebhookDelivery.created_at.desc()).limit(limit)
        return list((await self.session.scalars(stmt)).all())

    async def backlog(self) -> int:
        stmt = (
            select(func.count())
            .select_from(WebhookDelivery)
            .where(WebhookDelivery.status == PENDING)
        )
        return int((await self.session.execute(stmt)).scalar_one())
