"""The audit chain: each event's hash covers the previous hash and the event's fields."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from service.domain.interrupts import canonical_json

GENESIS = "0" * 64
HASHED_FIELDS = (
    "id",
    "tenant_id",
    "seq",
    "actor",
    "action",
    "target_type",
    "target_id",
    "detail",
    "payload_hash",
    "request_id",
    "created_at",
)


def chain_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    body = canonical_json({name: fields.get(name) for name in HASHED_FIELDS})
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


@dataclass(frozen=True)
class AuditQuery:
    """Which of a tenant's audit events to list, in chain order after ``after_seq``."""

    after_seq: int = 0
    limit: int = 100
    target_type: str | None = None
    target_id: str | None = None
    action: str | None = None
    actor: str | None = None  # the subject who acted (audit events are per tenant)
    since: datetime | None = None  # created at or after
    until: datetime | None = None  # created before
