"""assistant ids are unique per tenant: primary key (tenant_id, assistant_id)

With the id alone as the key, a tenant choosing an assistant id that another tenant holds got a
409, which told it that id exists elsewhere; now each tenant has its own id space.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("assistants", recreate="auto") as batch:
        batch.drop_constraint("pk_assistants", type_="primary")
        batch.create_primary_key("pk_assistants", ["tenant_id", "assistant_id"])


def downgrade() -> None:
    with op.batch_alter_table("assistants", recreate="auto") as batch:
        batch.drop_constraint("pk_assistants", type_="primary")
        batch.create_primary_key("pk_assistants", ["assistant_id"])
