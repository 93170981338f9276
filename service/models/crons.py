from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, JSONType, TenantMixin, TimestampMixin

ENABLED = text("enabled")


class Cron(TenantMixin, TimestampMixin, Base):
    """A scheduled run: the worker's scheduler creates a run from ``payload`` when due."""

    __tablename__ = "crons"
    __table_args__ = (
        Index(
            "ix_crons_due",
            "next_run_date",
            postgresql_where=ENABLED,
            sqlite_where=ENABLED,
        ),
        Index("ix_crons_tenant_created", "tenant_id", "created_at"),
    )

    tenant_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    cron_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    assistant_id: Mapped[str] = mapped_column(String(64))
    # namespaced ``tenant:session`` like the threads' rows; None: a stateless cron
    thread_id: Mapped[str | None] = mapped_column(String(200), nullable=True, default=None)
    user_id: Mapped[str] = mapped_column(String(128))
    # the roles the owner's token carried (they count when the authorizer reads token roles):
    # a firing acts for the owner, and stops when the owner may no longer start the run
    owner_roles: Mapped[list[str]] = mapped_column(JSONType, default=list)
    schedule: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str | None] = mapped_column(String(64), nullable=True, default=None)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)
    end_time: Mapped[datetime | None] = mapped_column(nullable=True, default=None)
    next_run_date: Mapped[datetime | None] = mapped_column(nullable=True, default=None)
    on_run_completed: Mapped[str | None] = mapped_column(String(16), nullable=True, default=None)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
