"""the store and cron permissions for tenants that existed before them

New tenants are seeded from policies/default_policy.csv, which now grants `store` and
`crons`. A tenant seeded earlier gets the same grants here, for each built-in role it still
has (a role an admin deleted stays deleted), unless the rule is there already. Admins edit
them like any other rule; running processes see them after their restart (migrate, then
start).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# (role, object, action, scope): the rules default_policy.csv gained with the store and crons
GRANTS = (
    ("role:viewer", "store", "read", "any"),
    ("role:viewer", "crons", "read", "any"),
    ("role:agent", "store", "read", "any"),
    ("role:agent", "store", "write", "any"),
    ("role:agent", "crons", "read", "own"),
    ("role:agent", "crons", "write", "own"),
    ("role:tenant_admin", "store", "write", "any"),
    ("role:tenant_admin", "crons", "write", "any"),
)

_GRANT = sa.text(
    "INSERT INTO casbin_rule (ptype, v0, v1, v2, v3, v4) "
    "SELECT DISTINCT 'p', :role, r.v1, :obj, :act, :scope FROM casbin_rule r "
    "WHERE r.ptype = 'p' AND r.v0 = :role AND r.v1 <> '_tenant' AND NOT EXISTS ("
    "SELECT 1 FROM casbin_rule x WHERE x.ptype = 'p' AND x.v0 = :role AND x.v1 = r.v1 "
    "AND x.v2 = :obj AND x.v3 = :act)"
)
_REVOKE = sa.text(
    "DELETE FROM casbin_rule WHERE ptype = 'p' AND v0 = :role AND v2 = :obj AND v3 = :act "
    "AND v4 = :scope"
)


def upgrade() -> None:
    bind = op.get_bind()
    for role, obj, act, scope in GRANTS:
        bind.execute(_GRANT, {"role": role, "obj": obj, "act": act, "scope": scope})


def downgrade() -> None:
    bind = op.get_bind()
    for role, obj, act, scope in GRANTS:
        bind.execute(_REVOKE, {"role": role, "obj": obj, "act": act, "scope": scope})
