from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, JSONType, TenantMixin, utcnow


class Interrupt(TenantMixin, Base):
    """The review index: one row per LangGraph ``Interrupt`` a run left pending.

    The inbox reads this table, never the checkpoints. A row moves
    ``pending -> resolved | expired | cancelled`` exactly once.
    """

    __tablename__ = "interrupts"
    __table_args__ = (
        Index(
            "uq_interrupts_pending_per_thread",
            "thread_id",
            "interrupt_id",
            unique=True,
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        Index(
            "ix_interrupts_inbox_pending",
            "tenant_id",
            "created_at",
            "id",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        Index(
            "ix_interrupts_inbox_pending_type",
            "tenant_id",
            "type",
            "created_at",
            "id",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        Index(
            "ix_interrupts_expiring",
            "expires_at",
            postgresql_where=text("status = 'pending' AND expires_at IS NOT NULL"),
            sqlite_where=text("status = 'pending' AND expires_at IS NOT NULL"),
        ),
        Index("ix_interrupts_thread", "thread_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    thread_id: Mapped[str] = mapped_column(String(200))
    run_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    interrupt_id: Mapped[str] = mapped_column(String(64))
    task_id: Mapped[str] = mapped_column(String(64))
    node: Mapped[str] = mapped_column(String(128))
    type: Mapped[str] = mapped_column(String(64))
    allowed: Mapped[list[str]] = mapped_column(JSONType, default=list)
    agent_inbox: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    value: Mapped[Any] = mapped_column(JSONType, nullable=True)
    # the JSON schema of the answer, when the interrupt published one (enforced on decisions)
    response_schema: Mapped[dict[str, Any] | None] = mapped_column(
        JSONType, nullable=True, default=None
    )
    payload_hash: Mapped[str] = mapped_column(String(64))
    graph_id: Mapped[str] = mapped_column(String(128))
    checkpoint_id: Mapped[str | None] = mapped_column(String(64), nullable=True, default=None)
    default_decision: Mapped[Any] = mapped_column(JSONType, nullable=True, default=None)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    resolved_by: Mapped[str | None] = mapped_column(String(128), default=None)
    decision: Mapped[Any] = mapped_column(JSONType, nullable=True, default=None)
    resume_run_id: Mapped[str | None] = mapped_column(String(36), default=None)
