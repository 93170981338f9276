"""Casbin: the model file, the SQLAlchemy adapter, per-tenant filtered loading.

Rules live in ``casbin_rule`` through casbin-async-sqlalchemy-adapter. A tenant's rules are
the ``p`` lines with the tenant in ``v1`` and the ``g`` lines with it in ``v2``; they are
loaded with two filters into a small enforcer, never the whole table.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import casbin
from casbin_async_sqlalchemy_adapter.adapter import Adapter, Filter

from service.authz.compiled import TenantPolicy, compile_policy
from service.authz.fields import PLATFORM_DOMAIN
from service.models import CasbinRule
from service.paths import app_root

MODEL_PATH = app_root() / "policies" / "model.conf"
DEFAULT_POLICY_PATH = app_root() / "policies" / "default_policy.csv"
TEMPLATE_DOMAIN = "_tenant"

Rule = list[str]  # ["p", sub, dom, obj, act, scope] or ["g", user, role, dom]


def read_rules_file(path: Path, domain: str) -> list[Rule]:
    """Rules of a Casbin CSV policy file, with the template domain replaced."""
    rules = []
    with path.open() as handle:
        for row in csv.reader(line for line in handle if line.strip() and not line.startswith("#")):
            fields = [field.strip() for field in row]
            rules.append([domain if f == TEMPLATE_DOMAIN else f for f in fields])
    return rules


def default_rules(tenant_id: str) -> list[Rule]:
    return read_rules_file(DEFAULT_POLICY_PATH, tenant_id)


def platform_rules() -> list[Rule]:
    return [["p", "role:platform_admin", PLATFORM_DOMAIN, "tenants", "manage", "any"]]


def _filters(tenant_id: str) -> tuple[Filter, Filter]:
    p_filter, g_filter = Filter(), Filter()
    p_filter.ptype, p_filter.v1 = ["p"], [tenant_id]
    g_filter.ptype, g_filter.v2 = ["g"], [tenant_id]
    return p_filter, g_filter


def new_enforcer(rules: Iterable[Rule] = ()) -> casbin.Enforcer:
    """An in-memory enforcer of our model holding ``rules`` (compiling, dry runs, tests)."""
    enforcer = casbin.Enforcer(str(MODEL_PATH))
    model = enforcer.get_model()
    for rule in rules:
        model.add_policy("p" if rule[0] == "p" else "g", rule[0], rule[1:])
    enforcer.build_role_links()
    return enforcer


def adapter(bind: Any, session: Any = None) -> Adapter:
    """The adapter on our ``casbin_rule`` table; with ``session``, inside that transaction."""
    return Adapter(bind, db_class=CasbinRule, filtered=True, db_session=session)


async def load_rules(bind: Any, tenant_id: str, session: Any = None) -> list[Rule]:
    """The tenant's current rules, read through the adapter with filters on the domain columns."""
    enforcer = casbin.AsyncEnforcer(str(MODEL_PATH), adapter(bind, session))
    p_filter, g_filter = _filters(tenant_id)
    await enforcer.load_filtered_policy(p_filter)
    await enforcer.load_increment_filtered_policy(g_filter)
    return rules_of(enforcer)


def rules_of(enforcer: casbin.Enforcer | casbin.AsyncEnforcer) -> list[Rule]:
    return [["p", *r] for r in enforcer.get_policy()] + [
        ["g", *r] for r in enforcer.get_grouping_policy()
    ]


def compile_rules(tenant_id: str, version: int, rules: Sequence[Rule]) -> TenantPolicy:
    """Compile rules with Casbin's own role manager resolving each subject's implicit roles."""
    enforcer = new_enforcer(rules)
    subjects = {r[1] for r in rules if r[0] == "g"}
    implicit = {s: enforcer.get_implicit_roles_for_user(s, tenant_id) for s in subjects}
    return compile_policy(
        tenant_id,
        version,
        [r[1:] for r in rules if r[0] == "p"],
        [r[1:] for r in rules if r[0] == "g"],
        implicit,
    )


async def save_diff(bind: Any, session: Any, before: Sequence[Rule], after: Sequence[Rule]) -> None:
    """Persist the change from ``before`` to ``after`` through the adapter, in ``session``."""
    store = adapter(bind, session)
    old = {tuple(r) for r in before}
    new = {tuple(r) for r in after}
    for ptype in ("p", "g"):
        removed = [list(r[1:]) for r in old - new if r[0] == ptype]
        added = [list(r[1:]) for r in sorted(new - old) if r[0] == ptype]
        for rule in removed:
            await store.remove_policy(ptype, ptype, rule)
        if added:
            await store.add_policies(ptype, ptype, added)


async def enforce_explained(
    rules: Sequence[Rule], request: Sequence[str]
) -> tuple[bool, list[str]]:
    """Casbin's own answer and the rule that decided it (admin dry runs)."""
    enforcer = new_enforcer(rules)
    allowed, explain = enforcer.enforce_ex(*request)
    return bool(allowed), [str(x) for x in explain]
