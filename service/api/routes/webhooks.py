"""Webhooks: subscriptions, the tenant's signing secret (shown once), delivery status."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Response

from service.api.deps import PrincipalDep, RuntimeDep
from service.api.schemas.webhooks import (
    DeliveryOut,
    SecretOut,
    WebhookCreate,
    WebhookCreated,
    WebhookOut,
    delivery_json,
    subscription_json,
)
from service.services import webhook_dispatch

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


@router.post("", status_code=201, response_model=WebhookCreated)
async def create_webhook(body: WebhookCreate, rt: RuntimeDep, principal: PrincipalDep) -> Any:
    row, secret = await webhook_dispatch.create_subscription(
        rt, principal, url=body.url, events=body.events, description=body.description
    )
    return {**subscription_json(row), "secret": secret}


@router.get("", response_model=list[WebhookOut])
async def list_webhooks(rt: RuntimeDep, principal: PrincipalDep) -> Any:
    return [
        subscription_json(row) for row in await webhook_dispatch.list_subscriptions(rt, principal)
    ]


@router.post("/secret", response_model=SecretOut)
async def rotate_secret(rt: RuntimeDep, principal: PrincipalDep) -> Any:
    return {"secret": await webhook_dispatch.rotate_secret(rt, principal)}


@router.get("/deliveries", response_model=list[DeliveryOut])
async def list_deliveries(
    rt: RuntimeDep,
    principal: PrincipalDep,
    event_id: str | None = Query(default=None, max_length=36),
    limit: int = Query(default=100, ge=1, le=1000),
) -> Any:
    rows = await webhook_dispatch.list_deliveries(rt, principal, event_id=event_id, limit=limit)
    return [delivery_json(row) for row in rows]


@router.get("/{webhook_id}", response_model=WebhookOut)
async def get_webhook(webhook_id: str, rt: RuntimeDep, principal: PrincipalDep) -> Any:
    return subscription_json(await webhook_dispatch.get_subscription(rt, principal, webhook_id))


@router.delete("/{webhook_id}", status_code=204)
async def delete_webhook(webhook_id: str, rt: RuntimeDep, principal: PrincipalDep) -> Response:
    await webhook_dispatch.delete_subscription(rt, principal, webhook_id)
    return Response(status_code=204)
