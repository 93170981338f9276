"""The audit chain: each event's hash covers the previous hash and the event's fields."""

from __future__ import annotations

import hashlib
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
