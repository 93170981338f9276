"""SQLAlchemy ORM tables of the service (checkpoint tables belong to the saver)."""

from service.models.assistants import Assistant, AssistantVersion
from service.models.audit import AuditEvent
from service.models.base import Base
from service.models.crons import Cron
from service.models.idempotency import IdempotencyKey
from service.models.interrupts import Interrupt
from service.models.policies import CasbinRule, PolicyChange
from service.models.runs import Run
from service.models.tenants import Tenant
from service.models.threads import Thread
from service.models.webhooks import (
    OutboxEvent,
    WebhookDelivery,
    WebhookSecret,
    WebhookSubscription,
)

__all__ = [
    "Assistant",
    "AssistantVersion",
    "AuditEvent",
    "Base",
    "CasbinRule",
    "Cron",
    "IdempotencyKey",
    "Interrupt",
    "OutboxEvent",
    "PolicyChange",
    "Run",
    "Tenant",
    "Thread",
    "WebhookDelivery",
    "WebhookSecret",
    "WebhookSubscription",
]
