"""crons: scheduled runs of a thread or stateless, fired by the worker's scheduler

Row-level security and the ``countersign_app`` grants as 0010 gives the tenant tables.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ENABLED = sa.text("enabled")
APP_ROLE = "countersign_app"
OWN_ROWS = "coalesce(current_setting('app.tenant_id', true), '') IN ('', tenant_id)"


def ts(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "crons",
        sa.Column("tenant_id", sa.String(63), nullable=False),
        sa.Column("cron_id", sa.String(36), nullable=False),
        sa.Column("assistant_id", sa.String(64), nullable=False),
        sa.Column("thread_id", sa.String(200), nullable=True),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("owner_roles", JSON, nullable=False),
        sa.Column("schedule", sa.String(200), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=True),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("metadata", JSON, nullable=False),
        ts("end_time", nullable=True),
        ts("next_run_date", nullable=True),
        sa.Column("on_run_completed", sa.String(16), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        ts("created_at"),
        ts("updated_at"),
        sa.PrimaryKeyConstraint("tenant_id", "cron_id", name="pk_crons"),
    )
    op.create_index(
        "ix_crons_due",
        "crons",
        ["next_run_date"],
        postgresql_where=ENABLED,
        sqlite_where=ENABLED,
    )
    op.create_index("ix_crons_tenant_created", "crons", ["tenant_id", "created_at"])
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE crons ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE crons FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY tenant_rows ON crons USING ({OWN_ROWS}) WITH CHECK ({OWN_ROWS})")
    # 0010 made the role and its default privileges; granted explicitly all the same
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON crons TO {APP_ROLE}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP POLICY IF EXISTS tenant_rows ON crons")
    op.drop_index("ix_crons_tenant_created", table_name="crons")
    op.drop_index("ix_crons_due", table_name="crons")
    op.drop_table("crons")
