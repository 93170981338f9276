"""interrupts keep the response_schema LangGraph published with them (LangChain per-call review)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.add_column("interrupts", sa.Column("response_schema", JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("interrupts") as batch:
        batch.drop_column("response_schema")
