from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from service.domain.runs import RunSpec
from service.models.base import Base, JSONType, TenantMixin, TimestampMixin, utcnow


class Run(TenantMixin, TimestampMixin, Base):
    """The run ledger: the source of truth the worker claims from, with lease and fence."""

    __tablename__ = "runs"
    __table_args__ = (
        Index(
            "uq_runs_one_running_per_thread",
            "thread_id",
            unique=True,
            postgresql_where=text("status = 'running'"),
            sqlite_where=text("status = 'running'"),
        ),
        Index("ix_runs_thread_created", "thread_id", "created_at"),
        Index(
            "ix_runs_claimable",
            "available_at",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        Index("ix_runs_tenant_status", "tenant_id", "status"),
        Index(
            "ix_runs_claimable_by_tenant",
            "tenant_id",
            "available_at",
            "created_at",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
    )

    run_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    thread_id: Mapped[str] = mapped_column(String(200))
    assistant_id: Mapped[str] = mapped_column(String(64))
    graph_id: Mapped[str] = mapped_column(String(128))
    created_by: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    multitask_strategy: Mapped[str] = mapped_column(String(16), default="enqueue")
    kwargs: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)
    temporary: Mapped[bool] = mapped_column(Boolean, default=False)
    on_completion: Mapped[str | None] = mapped_column(String(16), default=None)
    webhook: Mapped[str | None] = mapped_column(String(2048), default=None)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    fence: Mapped[int] = mapped_column(Integer, default=0)
    # worker processes that died holding this run: a run that took one down (and the runs
    # that shared its process) is retried only in a quarantine process, one at a time
    crashes: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    lease_owner: Mapped[str | None] = mapped_column(String(128), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    available_at: Mapped[datetime] = mapped_column(default=utcnow)
    cancel_requested: Mapped[str | None] = mapped_column(String(16), default=None)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    error: Mapped[Any] = mapped_column(JSONType, nullable=True, default=None)
    output: Mapped[Any] = mapped_column(JSONType, nullable=True, default=None)

    def carries_decision(self) -> bool:
        """Whether the run resumes an interrupt (``command.resume``): a decision's run."""
        command = (self.kwargs or {}).get("command")
        return isinstance(command, dict) and command.get("resume") is not None

    def spec(self) -> RunSpec:
        """What the engine needs to execute this attempt of the run."""
        kwargs = self.kwargs
        return RunSpec(
            run_id=self.run_id,
            thread_id=self.thread_id,
            graph_id=self.graph_id,
            assistant_id=self.assistant_id,
            attempt=self.attempt,
            fence=self.fence,
            input=kwargs.get("input"),
            command=kwargs.get("command"),
            config=kwargs.get("config") or {},
            context=kwargs.get("context"),
            metadata=self.metadata_,
            stream_mode=tuple(kwargs.get("stream_mode") or ("values",)),
            stream_subgraphs=bool(kwargs.get("subgraphs")),
            interrupt_before=kwargs.get("interrupt_before"),
            interrupt_after=kwargs.get("interrupt_after"),
            checkpoint_id=kwargs.get("checkpoint_id"),
            durability=kwargs.get("durability"),
            temporary=self.temporary,
        )
