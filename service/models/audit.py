from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, JSONType, TenantMixin, utcnow


class AuditEvent(TenantMixin, Base):
    """Append-only, hash-chained per tenant: ``hash = sha256(prev_hash || canonical(row))``.

    A database trigger refuses UPDATE and DELETE on this table (both backends).
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("uq_audit_events_tenant_seq", "tenant_id", "seq", unique=True),
        Index("ix_audit_events_tenant_target", "tenant_id", "target_type", "target_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    payload_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
