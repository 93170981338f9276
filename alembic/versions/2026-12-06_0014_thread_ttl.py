"""threads: time to live (``ttl`` of ``POST /threads`` and ``PATCH /threads/{id}``, or
``langgraph.json``'s ``checkpointer.ttl.default_ttl``): its strategy, its minutes, and when
the thread expires if nothing happens on it before (the worker's sweeper acts then).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("threads") as batch:
        batch.add_column(sa.Column("ttl_strategy", sa.String(16), nullable=True))
        batch.add_column(sa.Column("ttl_minutes", sa.Float(), nullable=True))
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_threads_expires", "threads", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_threads_expires", table_name="threads")
    with op.batch_alter_table("threads") as batch:
        batch.drop_column("expires_at")
        batch.drop_column("ttl_minutes")
        batch.drop_column("ttl_strategy")
