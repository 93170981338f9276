"""row-level security on the tenant tables (Postgres): a transaction acting for a tenant
sees and writes only that tenant's rows (S13); the role ``countersign_app`` the service's
login role is made a member of: every table, but audit_events append-only (S12)

The service sets ``app.tenant_id`` to the tenant of the verified caller for every
transaction of a request (``service/tenancy.py``); unset or empty is the service's
own work across tenants (the worker, the reaper, migrations, the operator's CLI). FORCE
applies the policy to the tables' owner too; superusers and BYPASSRLS roles are never
subject to it, so the service warns at start when it connects as one.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

from service.engine.checkpointer import checkpoint_row_security

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TENANT_TABLES = (
    "threads",
    "runs",
    "interrupts",
    "assistants",
    "audit_events",
    "idempotency_keys",
    "webhook_secrets",
    "webhook_subscriptions",
    "outbox_events",
    "webhook_deliveries",
)
APP_ROLE = "countersign_app"
OWN_ROWS = "coalesce(current_setting('app.tenant_id', true), '') IN ('', tenant_id)"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return  # SQLite: one process, one file; scoping is the queries' alone
    for table in TENANT_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_rows ON {table} USING ({OWN_ROWS}) WITH CHECK ({OWN_ROWS})"
        )
    op.execute(
        f"""DO $$ BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
                CREATE ROLE {APP_ROLE} NOLOGIN;
            END IF;
        END $$"""
    )
    op.execute(f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {APP_ROLE}")
    op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM {APP_ROLE}")
    op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}")
    for kind, rights in (
        ("TABLES", "SELECT, INSERT, UPDATE, DELETE"),
        ("SEQUENCES", "USAGE, SELECT"),
    ):
        op.execute(
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT {rights} ON {kind} TO {APP_ROLE}"
        )
    # LangGraph's tables, when its setup already made them (else it applies them after)
    if bind.exec_driver_sql("SELECT to_regclass('checkpoints')").scalar() is not None:
        for statement in checkpoint_row_security():
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TENANT_TABLES:
        op.execute(f"DROP POLICY IF EXISTS tenant_rows ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
