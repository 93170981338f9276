from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column, query_expression

from service.models.base import Base, JSONType, TenantMixin, TimestampMixin, utcnow


class Thread(TenantMixin, TimestampMixin, Base):
    """The service row of a thread; its state lives in the checkpointer."""

    __tablename__ = "threads"
    __table_args__ = (
        Index("ix_threads_tenant_status_updated", "tenant_id", "status", "updated_at"),
        Index("ix_threads_tenant_created", "tenant_id", "created_at"),
        Index("ix_threads_expires", "expires_at"),
    )

    thread_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default="idle")
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)
    values: Mapped[Any] = mapped_column(JSONType, nullable=True, default=None)
    config: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    error: Mapped[Any] = mapped_column(JSONType, nullable=True, default=None)
    state_updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # time to live (services/thread_ttl.py): ``delete`` or ``keep_latest`` after ``ttl_minutes``
    # without activity; ``expires_at`` moves on with each update and run
    ttl_strategy: Mapped[str | None] = mapped_column(String(16), nullable=True, default=None)
    ttl_minutes: Mapped[float | None] = mapped_column(nullable=True, default=None)
    expires_at: Mapped[datetime | None] = mapped_column(nullable=True, default=None)
    # the thread's latest state as get_state answers it, without ``values`` (the column
    # above): written with the values by whatever changed the checkpoints (a run's end, a
    # state update), NULL when they changed otherwise; loaded only by get_state
    state_view: Mapped[dict[str, Any] | None] = mapped_column(
        JSONType, nullable=True, default=None, deferred=True
    )
    # the thread's runs in flight, comma-separated: read with the row's lock (store/threads.py),
    # None when the query did not ask for them
    inflight_runs: Mapped[str | None] = query_expression()
    # how many of its interrupts are pending, read with the row's lock likewise (None: not
    # asked, or not known from the statement's snapshot; every change of interrupts commits
    # with an update of the thread's row)
    pending_interrupts: Mapped[int | None] = query_expression()

    @property
    def inflight_ids(self) -> list[str] | None:
        """The ids of the thread's runs in flight when its row was locked, if read then."""
        if self.inflight_runs is None:
            return None
        return self.inflight_runs.split(",") if self.inflight_runs else []
