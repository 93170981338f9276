"""Webhook subscriptions, the signing secret and deliveries. No secret is ever listed."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from service.api.schemas.common import Body, iso
from service.models import WebhookDelivery, WebhookSubscription


class WebhookCreate(Body):
    url: str = Field(min_length=1, max_length=2048)
    events: list[str] = Field(min_length=1, max_length=16)
    description: str | None = Field(default=None, max_length=500)


class WebhookOut(BaseModel):
    id: str
    url: str
    events: list[str]
    description: str | None
    active: bool
    created_by: str
    created_at: str | None


class WebhookCreated(WebhookOut):
    secret: str | None = Field(
        default=None,
        description="The tenant's signing secret, only when this request created it (shown once)",
    )


class SecretOut(BaseModel):
    secret: str = Field(description="The new signing secret; it is not shown again")


class DeliveryOut(BaseModel):
    id: str
    event_id: str
    url: str
    subscription_id: str | None
    status: str
    attempts: int
    last_status: int | None
    last_error: str | None
    next_attempt_at: str | None
    created_at: str | None
    delivered_at: str | None


def subscription_json(row: WebhookSubscription) -> dict[str, Any]:
    return {
        "id": row.id,
        "url": row.url,
        "events": list(row.events),
        "description": row.description,
        "active": row.active,
        "created_by": row.created_by,
        "created_at": iso(row.created_at),
    }


def delivery_json(row: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": row.id,
        "event_id": row.event_id,
        "url": row.url,
        "subscription_id": row.subscription_id,
        "status": row.status,
        "attempts": row.attempts,
        "last_status": row.last_status,
        "last_error": row.last_error,
        "next_attempt_at": iso(row.next_attempt_at),
        "created_at": iso(row.created_at),
        "delivered_at": iso(row.delivered_at),
    }
