from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, JSONType, TenantMixin, TimestampMixin, utcnow


class Assistant(TenantMixin, TimestampMixin, Base):
    __tablename__ = "assistants"
    __table_args__ = (Index("ix_assistants_tenant_graph", "tenant_id", "graph_id"),)

    # ids are per tenant: another tenant's id must look free, not taken
    tenant_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    assistant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    graph_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    config: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    context: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)
    version: Mapped[int] = mapped_column(Integer, default=1)


class AssistantVersion(TenantMixin, Base):
    """What an assistant was at one version: every create and update writes one; the
    assistant row holds the current one (``POST /assistants/{id}/latest`` picks it)."""

    __tablename__ = "assistant_versions"

    tenant_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    assistant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    graph_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    config: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    context: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
