"""assistant_versions: what each assistant was at each version (create and update write one;
``POST /assistants/{id}/latest`` makes one current again)

Backfill: every assistant's current row becomes its version ``assistants.version``.
Row-level security and the ``countersign_app`` grants as 0010 gives the tenant tables.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
APP_ROLE = "countersign_app"
OWN_ROWS = "coalesce(current_setting('app.tenant_id', true), '') IN ('', tenant_id)"


def upgrade() -> None:
    op.create_table(
        "assistant_versions",
        sa.Column("tenant_id", sa.String(63), nullable=False),
        sa.Column("assistant_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("graph_id", sa.String(128), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("config", JSON, nullable=False),
        sa.Column("context", JSON, nullable=False),
        sa.Column("metadata", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "assistant_id", "version", name="pk_assistant_versions"
        ),
    )
    op.execute(
        "INSERT INTO assistant_versions (tenant_id, assistant_id, version, graph_id, name, "
        "description, config, context, metadata, created_at) "
        "SELECT tenant_id, assistant_id, version, graph_id, name, description, config, "
        "context, metadata, updated_at FROM assistants"
    )
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE assistant_versions ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE assistant_versions FORCE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY tenant_rows ON assistant_versions "
        f"USING ({OWN_ROWS}) WITH CHECK ({OWN_ROWS})"
    )
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON assistant_versions TO {APP_ROLE}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP POLICY IF EXISTS tenant_rows ON assistant_versions")
    op.drop_table("assistant_versions")
