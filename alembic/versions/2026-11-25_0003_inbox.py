"""review inbox: partial indexes on pending interrupts, expiry, checkpoint binding, idempotency

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
PENDING = sa.text("status = 'pending'")
EXPIRING = sa.text("status = 'pending' AND expires_at IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("interrupts") as batch:
        batch.add_column(sa.Column("checkpoint_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("default_decision", JSON, nullable=True))
    op.drop_index("ix_interrupts_inbox", table_name="interrupts")
    op.create_index(
        "ix_interrupts_inbox_pending",
        "interrupts",
        ["tenant_id", "created_at", "id"],
        postgresql_where=PENDING,
        sqlite_where=PENDING,
    )
    op.create_index(
        "ix_interrupts_inbox_pending_type",
        "interrupts",
        ["tenant_id", "type", "created_at", "id"],
        postgresql_where=PENDING,
        sqlite_where=PENDING,
    )
    op.create_index(
        "ix_interrupts_expiring",
        "interrupts",
        ["expires_at"],
        postgresql_where=EXPIRING,
        sqlite_where=EXPIRING,
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("tenant_id", sa.String(63), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("body", JSON, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "key", name="pk_idempotency_keys"),
    )


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    op.drop_index("ix_interrupts_expiring", table_name="interrupts")
    op.drop_index("ix_interrupts_inbox_pending_type", table_name="interrupts")
    op.drop_index("ix_interrupts_inbox_pending", table_name="interrupts")
    op.create_index(
        "ix_interrupts_inbox", "interrupts", ["tenant_id", "status", "type", "created_at"]
    )
    with op.batch_alter_table("interrupts") as batch:
        batch.drop_column("default_decision")
        batch.drop_column("checkpoint_id")
