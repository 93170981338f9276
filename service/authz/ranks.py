"""How powerful a permission, a role or a user is: no one grants above their own rank.

1  read anything
2  start work and decide interrupts (runs/threads create, interrupt decide, cancel)
3  change what others see or do (state update, interrupt edit, deletes, assistants,
   webhooks)
4  change who may do what (policies edit)
5  manage tenants (platform)
"""

from __future__ import annotations

from service.authz.compiled import TenantPolicy

_BY_ACTION = {
    ("policies", "edit"): 4,
    ("tenants", "manage"): 5,
    ("state", "update"): 3,
    ("threads", "delete"): 3,
    ("runs", "delete"): 3,
    ("assistants", "write"): 3,
    ("webhooks", "write"): 3,
    ("audit", "read"): 2,
    ("policies", "read"): 2,
    ("threads", "create"): 2,
    ("threads", "update"): 2,
    ("runs", "create"): 2,
    ("runs", "cancel"): 2,
    ("store", "write"): 2,
    ("crons", "write"): 2,
}


def permission_rank(obj: str, act: str) -> int:
    if obj.startswith("interrupt:"):
        return 3 if act == "edit" else 2
    return _BY_ACTION.get((obj, act), 1 if act == "read" else 2)


def _rank(policy: TenantPolicy, subject: str, roles: frozenset[str]) -> int:
    best = 0
    for subject_name in (subject, *roles):
        for grant in policy.grants_of.get(subject_name, ()):
            best = max(best, permission_rank(grant.obj, grant.act))
    return best


def user_rank(policy: TenantPolicy, user: str) -> int:
    if user == "system":
        return 99
    return _rank(policy, user, policy.roles(user))


def role_rank(policy: TenantPolicy, role: str) -> int:
    return _rank(policy, role, policy.role_closure.get(role, frozenset({role})))
