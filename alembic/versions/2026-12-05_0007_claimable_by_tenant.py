"""pending runs indexed by tenant and age: the fair claim reads each tenant's oldest first

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_runs_claimable_by_tenant",
        "runs",
        ["tenant_id", "available_at", "created_at"],
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index("ix_runs_claimable_by_tenant", table_name="runs")
