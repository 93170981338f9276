"""authorization and audit: casbin_rule, policy_changes, audit_events (append-only)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

PG_APPEND_ONLY = [
    """CREATE OR REPLACE FUNCTION countersign_audit_append_only() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION 'audit_events is append-only';
    END;
    $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
        FOR EACH ROW EXECUTE FUNCTION countersign_audit_append_only()""",
    """CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
        FOR EACH STATEMENT EXECUTE FUNCTION countersign_audit_append_only()""",
]

SQLITE_APPEND_ONLY = [
    """CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
       BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END""",
    """CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
       BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END""",
]


def upgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(
            sa.Column("policy_version", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("audit_seq", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(
            sa.Column("audit_head", sa.String(64), nullable=False, server_default="0" * 64)
        )

    op.create_table(
        "casbin_rule",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ptype", sa.String(255), nullable=False),
        *(sa.Column(f"v{i}", sa.String(255), nullable=True) for i in range(6)),
        sa.PrimaryKeyConstraint("id", name="pk_casbin_rule"),
    )
    op.create_index("ix_casbin_rule_p_domain", "casbin_rule", ["ptype", "v1"])
    op.create_index("ix_casbin_rule_g_domain", "casbin_rule", ["ptype", "v2", "v0"])

    op.create_table(
        "policy_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(63), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("detail", JSON, nullable=False),
        sa.Column("rules", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_policy_changes"),
    )
    op.create_index(
        "uq_policy_changes_tenant_version", "policy_changes", ["tenant_id", "version"], unique=True
    )
    op.create_index("ix_policy_changes_created", "policy_changes", ["created_at"])

    op.create_table(
        "audit_events",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(63), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target_type", sa.String(32), nullable=False),
        sa.Column("target_id", sa.String(200), nullable=False),
        sa.Column("detail", JSON, nullable=False),
        sa.Column("payload_hash", sa.String(64), nullable=True),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_events"),
    )
    op.create_index("uq_audit_events_tenant_seq", "audit_events", ["tenant_id", "seq"], unique=True)
    op.create_index(
        "ix_audit_events_tenant_target", "audit_events", ["tenant_id", "target_type", "target_id"]
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in PG_APPEND_ONLY if postgres else SQLITE_APPEND_ONLY:
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("audit_events")
    op.execute("DROP FUNCTION IF EXISTS countersign_audit_append_only()")
    op.drop_table("policy_changes")
    op.drop_table("casbin_rule")
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("audit_head")
        batch.drop_column("audit_seq")
        batch.drop_column("policy_version")
