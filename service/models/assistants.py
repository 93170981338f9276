from __future__ import annotations

from typing import Any

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, JSONType, TenantMixin, TimestampMixin


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
