from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, JSONType, TenantMixin, TimestampMixin, utcnow


class Thread(TenantMixin, TimestampMixin, Base):
    """The service row of a thread; its state lives in the checkpointer."""

    __tablename__ = "threads"
    __table_args__ = (
        Index("ix_threads_tenant_status_updated", "tenant_id", "status", "updated_at"),
        Index("ix_threads_tenant_created", "tenant_id", "created_at"),
    )

    thread_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default="idle")
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)
    values: Mapped[Any] = mapped_column(JSONType, nullable=True, default=None)
    config: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    error: Mapped[Any] = mapped_column(JSONType, nullable=True, default=None)
    state_updated_at: Mapped[datetime] = mapped_column(default=utcnow)
