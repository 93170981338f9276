"""core tables: tenants, assistants, threads, runs (ledger), interrupts (review index)

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def ts(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("tenant_id", sa.String(63), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("settings", JSON, nullable=False),
        ts("created_at"),
        ts("updated_at"),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_tenants"),
    )
    op.create_table(
        "assistants",
        sa.Column("assistant_id", sa.String(64), nullable=False),
        sa.Column("tenant_id", sa.String(63), nullable=False),
        sa.Column("graph_id", sa.String(128), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("config", JSON, nullable=False),
        sa.Column("context", JSON, nullable=False),
        sa.Column("metadata", JSON, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        ts("created_at"),
        ts("updated_at"),
        sa.PrimaryKeyConstraint("assistant_id", name="pk_assistants"),
    )
    op.create_index("ix_assistants_tenant_graph", "assistants", ["tenant_id", "graph_id"])

    op.create_table(
        "threads",
        sa.Column("thread_id", sa.String(200), nullable=False),
        sa.Column("tenant_id", sa.String(63), nullable=False),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("metadata", JSON, nullable=False),
        sa.Column("values", JSON, nullable=True),
        sa.Column("config", JSON, nullable=False),
        sa.Column("error", JSON, nullable=True),
        ts("state_updated_at"),
        ts("created_at"),
        ts("updated_at"),
        sa.PrimaryKeyConstraint("thread_id", name="pk_threads"),
    )
    op.create_index("ix_threads_tenant_created", "threads", ["tenant_id", "created_at"])
    op.create_index(
        "ix_threads_tenant_status_updated", "threads", ["tenant_id", "status", "updated_at"]
    )

    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(63), nullable=False),
        sa.Column("thread_id", sa.String(200), nullable=False),
        sa.Column("assistant_id", sa.String(64), nullable=False),
        sa.Column("graph_id", sa.String(128), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("multitask_strategy", sa.String(16), nullable=False),
        sa.Column("kwargs", JSON, nullable=False),
        sa.Column("metadata", JSON, nullable=False),
        sa.Column("temporary", sa.Boolean(), nullable=False),
        sa.Column("on_completion", sa.String(16), nullable=True),
        sa.Column("webhook", sa.String(2048), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("fence", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(128), nullable=True),
        ts("lease_expires_at", nullable=True),
        ts("available_at"),
        sa.Column("cancel_requested", sa.String(16), nullable=True),
        ts("started_at", nullable=True),
        ts("ended_at", nullable=True),
        sa.Column("error", JSON, nullable=True),
        sa.Column("output", JSON, nullable=True),
        ts("created_at"),
        ts("updated_at"),
        sa.PrimaryKeyConstraint("run_id", name="pk_runs"),
    )
    running = sa.text("status = 'running'")
    pending = sa.text("status = 'pending'")
    op.create_index(
        "uq_runs_one_running_per_thread",
        "runs",
        ["thread_id"],
        unique=True,
        postgresql_where=running,
        sqlite_where=running,
    )
    op.create_index(
        "ix_runs_claimable",
        "runs",
        ["available_at"],
        postgresql_where=pending,
        sqlite_where=pending,
    )
    op.create_index("ix_runs_thread_created", "runs", ["thread_id", "created_at"])
    op.create_index("ix_runs_tenant_status", "runs", ["tenant_id", "status"])

    op.create_table(
        "interrupts",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(63), nullable=False),
        sa.Column("thread_id", sa.String(200), nullable=False),
        sa.Column("run_id", sa.String(36), nullable=True),
        sa.Column("interrupt_id", sa.String(64), nullable=False),
        sa.Column("task_id", sa.String(64), nullable=False),
        sa.Column("node", sa.String(128), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("allowed", JSON, nullable=False),
        sa.Column("agent_inbox", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("value", JSON, nullable=True),
        sa.Column("payload_hash", sa.String(64), nullable=False),
        sa.Column("graph_id", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        ts("created_at"),
        ts("expires_at", nullable=True),
        ts("resolved_at", nullable=True),
        sa.Column("resolved_by", sa.String(128), nullable=True),
        sa.Column("decision", JSON, nullable=True),
        sa.Column("resume_run_id", sa.String(36), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_interrupts"),
    )
    op.create_index(
        "uq_interrupts_pending_per_thread",
        "interrupts",
        ["thread_id", "interrupt_id"],
        unique=True,
        postgresql_where=pending,
        sqlite_where=pending,
    )
    op.create_index(
        "ix_interrupts_inbox", "interrupts", ["tenant_id", "status", "type", "created_at"]
    )
    op.create_index("ix_interrupts_thread", "interrupts", ["thread_id", "status"])


def downgrade() -> None:
    for table in ("interrupts", "runs", "threads", "assistants", "tenants"):
        op.drop_table(table)
