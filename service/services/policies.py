"""Tenant policy administration: roles, assignments, permissions, dry runs, history.

Every edit runs the same steps in one transaction: lock the tenant's policy version, read
its rules through the Casbin adapter, compute the new rule set, refuse it if it breaks a
rule below, write the difference through the adapter, record the new version (with a
snapshot for rollback) and an audit event. Refused edits change nothing.

- every field matches ``^[a-z0-9_:-]{1,64}$`` and every rule's domain is the caller's tenant;
- no grant above the caller's own rank (no self-escalation);
- at least one member keeps ``policies edit`` (the last tenant admin cannot be removed).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from service.authz import ranks
from service.authz.compiled import TenantPolicy
from service.authz.enforcer import (
    Rule,
    compile_rules,
    default_rules,
    load_rules,
    platform_rules,
    save_diff,
)
from service.authz.fields import (
    PLATFORM_DOMAIN,
    USER_PREFIX,
    check_action,
    check_field,
    check_object,
    check_scope,
    role_subject,
    subject_of_user,
    user_subject,
)
from service.authz.guard import PolicyLoader
from service.domain.principal import Principal
from service.errors import Conflict, Forbidden, InvalidInput, NotFound
from service.models import PolicyChange
from service.models.base import utcnow
from service.services import audit
from service.services.runtime import Runtime, UnitOfWork
from service.store.store import StoreFactory

log = logging.getLogger(__name__)

SYSTEM = "system"


# ---- reading --------------------------------------------------------------------------


def describe(policy: TenantPolicy, rules: Sequence[Rule]) -> dict[str, Any]:
    roles: dict[str, dict[str, Any]] = {}
    members: dict[str, list[str]] = {}
    for rule in rules:
        if rule[0] == "p":
            entry = roles.setdefault(rule[1], {"permissions": [], "inherits": []})
            entry["permissions"].append({"object": rule[3], "action": rule[4], "scope": rule[5]})
        elif rule[1].startswith(USER_PREFIX):
            members.setdefault(subject_of_user(rule[1]), []).append(rule[2])
        else:
            roles.setdefault(rule[1], {"permissions": [], "inherits": []})["inherits"].append(
                rule[2]
            )
    return {
        "tenant_id": policy.tenant_id,
        "version": policy.version,
        "roles": roles,
        "members": {user: sorted(r) for user, r in sorted(members.items())},
    }


async def current_rules(uow: UnitOfWork, rt: Runtime, tenant_id: str) -> list[Rule]:
    return await load_rules(uow.store.session.get_bind(), tenant_id, uow.store.session)


async def view(rt: Runtime, principal: Principal) -> dict[str, Any]:
    await rt.authz.require(principal, "policies", "read")
    async with rt.transaction() as uow:
        rules = await current_rules(uow, rt, principal.tenant_id)
        version = await uow.store.policies.version(principal.tenant_id)
    return describe(compile_rules(principal.tenant_id, version, rules), rules)


async def export_rules(rt: Runtime, principal: Principal) -> dict[str, Any]:
    await rt.authz.require(principal, "policies", "read")
    async with rt.transaction() as uow:
        rules = await current_rules(uow, rt, principal.tenant_id)
        version = await uow.store.policies.version(principal.tenant_id)
    return {"tenant_id": principal.tenant_id, "version": version, "rules": sorted(rules)}


# ---- validation -----------------------------------------------------------------------


def validate_rules(rules: Sequence[Sequence[Any]], tenant_id: str) -> list[Rule]:
    """Every rule well-formed, every field plain, every domain the caller's tenant."""
    clean: list[Rule] = []
    for raw in rules:
        if not isinstance(raw, (list, tuple)) or not raw:
            raise InvalidInput(
                "each rule is a list: [p, sub, dom, obj, act, scope] or [g, user, role, dom]"
            )
        rule = [str(x) if isinstance(x, str) else "" for x in raw]
        if any(not isinstance(x, str) for x in raw):
            raise InvalidInput("rule fields are strings")
        for value in rule:
            check_field(value, "rule field")
        if rule[0] == "p" and len(rule) == 6:
            _, sub, dom, obj, act, scope = rule
            if not sub.startswith(("role:", USER_PREFIX)):
                raise InvalidInput("permission subjects are role:<name> or user:<id>")
            check_object(obj)
            check_action(act)
            check_scope(scope)
        elif rule[0] == "g" and len(rule) == 4:
            _, member, role, dom = rule
            if not role.startswith("role:") or not member.startswith(("role:", USER_PREFIX)):
                raise InvalidInput(
                    "assignments are [g, user:<id> | role:<name>, role:<name>, tenant]"
                )
        else:
            raise InvalidInput(
                "each rule is [p, sub, dom, obj, act, scope] or [g, user, role, dom]"
            )
        if dom != tenant_id:
            raise InvalidInput("rules may only name your own tenant")
        clean.append(rule)
    return clean


def _guard(before: TenantPolicy, after: TenantPolicy, caller: str, added: list[Rule]) -> None:
    caller_rank = ranks.user_rank(before, caller)
    for rule in added:
        if rule[0] == "g":
            granted = ranks.role_rank(after, rule[2])
        else:
            granted = ranks.permission_rank(rule[3], rule[4])
        if granted > caller_rank:
            raise Forbidden("You cannot grant more than you hold.", reason="escalation")
    if caller != SYSTEM and not any(
        after.decide(user, "policies", "edit", own=False).allowed for user in after.members()
    ):
        raise Conflict("The tenant must keep at least one tenant admin.")


async def _apply(
    rt: Runtime,
    principal: Principal | None,
    tenant_id: str,
    action: str,
    detail: dict[str, Any],
    change: Callable[[list[Rule]], list[Rule]],
    *,
    expected_version: int | None = None,
) -> dict[str, Any]:
    caller = user_subject(principal.subject) if principal else SYSTEM
    async with rt.transaction() as uow:
        version = await uow.store.policies.lock_version(tenant_id)
        if expected_version is not None and expected_version != version:
            raise Conflict(f"Policy is at version {version}, not {expected_version}.")
        before_rules = await current_rules(uow, rt, tenant_id)
        after_rules = validate_rules(change([list(r) for r in before_rules]), tenant_id)
        before = compile_rules(tenant_id, version, before_rules)
        after = compile_rules(tenant_id, version + 1, after_rules)
        old = {tuple(r) for r in before_rules}
        added = [r for r in after_rules if tuple(r) not in old]
        removed = [r for r in before_rules if tuple(r) not in {tuple(a) for a in after_rules}]
        if principal is not None:
            _guard(before, after, caller, added)
        if not added and not removed:
            return describe(before, before_rules)
        await save_diff(uow.store.session.get_bind(), uow.store.session, before_rules, after_rules)
        await uow.store.policies.record(
            PolicyChange(
                tenant_id=tenant_id,
                version=version + 1,
                actor=principal.subject if principal else SYSTEM,
                action=action,
                detail=detail,
                rules=sorted(after_rules),
                created_at=utcnow(),
            )
        )
        await audit.record(
            uow,
            tenant_id=tenant_id,
            actor=principal.subject if principal else SYSTEM,
            action=f"policy.{action}",
            target_type="policy",
            target_id=str(version + 1),
            detail={**detail, "added": added, "removed": removed},
            request_id=principal.request_id if principal else None,
        )
    rt.authz.invalidate(tenant_id)
    return describe(after, after_rules)


async def _edit(
    rt: Runtime,
    principal: Principal,
    action: str,
    detail: dict[str, Any],
    change: Callable[[list[Rule]], list[Rule]],
    expected_version: int | None,
) -> dict[str, Any]:
    await rt.authz.require(principal, "policies", "edit")
    return await _apply(
        rt,
        principal,
        principal.tenant_id,
        action,
        detail,
        change,
        expected_version=expected_version,
    )


# ---- edits ----------------------------------------------------------------------------


def _with(rule: Rule) -> Callable[[list[Rule]], list[Rule]]:
    def change(rules: list[Rule]) -> list[Rule]:
        return rules if rule in rules else [*rules, rule]

    return change


def _without(rule: Rule) -> Callable[[list[Rule]], list[Rule]]:
    def change(rules: list[Rule]) -> list[Rule]:
        if rule not in rules:
            raise NotFound("No such rule.")
        return [r for r in rules if r != rule]

    return change


async def assign_role(
    rt: Runtime, principal: Principal, user: str, role: str, *, expected_version: int | None = None
) -> dict[str, Any]:
    rule = ["g", user_subject(user), role_subject(role), principal.tenant_id]
    return await _edit(
        rt, principal, "assign", {"user": user, "role": rule[2]}, _with(rule), expected_version
    )


async def revoke_role(
    rt: Runtime, principal: Principal, user: str, role: str, *, expected_version: int | None = None
) -> dict[str, Any]:
    rule = ["g", user_subject(user), role_subject(role), principal.tenant_id]
    return await _edit(
        rt, principal, "revoke", {"user": user, "role": rule[2]}, _without(rule), expected_version
    )


async def set_inheritance(
    rt: Runtime,
    principal: Principal,
    role: str,
    parent: str,
    *,
    present: bool,
    expected_version: int | None = None,
) -> dict[str, Any]:
    rule = ["g", role_subject(role), role_subject(parent), principal.tenant_id]
    change = _with(rule) if present else _without(rule)
    action = "inherit" if present else "uninherit"
    return await _edit(
        rt, principal, action, {"role": rule[1], "parent": rule[2]}, change, expected_version
    )


async def set_permission(
    rt: Runtime,
    principal: Principal,
    role: str,
    obj: str,
    act: str,
    scope: str,
    *,
    present: bool,
    expected_version: int | None = None,
) -> dict[str, Any]:
    rule = [
        "p",
        role_subject(role),
        principal.tenant_id,
        check_object(obj),
        check_action(act),
        check_scope(scope),
    ]
    change = _with(rule) if present else _without(rule)
    action = "grant" if present else "ungrant"
    detail = {"role": rule[1], "object": obj, "action": act, "scope": scope}
    return await _edit(rt, principal, action, detail, change, expected_version)


async def import_rules(
    rt: Runtime,
    principal: Principal,
    rules: Sequence[Sequence[Any]],
    *,
    expected_version: int | None = None,
) -> dict[str, Any]:
    wanted = validate_rules(rules, principal.tenant_id)
    return await _edit(
        rt, principal, "import", {"rules": len(wanted)}, lambda _old: wanted, expected_version
    )


async def rollback(
    rt: Runtime, principal: Principal, version: int, *, expected_version: int | None = None
) -> dict[str, Any]:
    await rt.authz.require(principal, "policies", "edit")
    async with rt.transaction() as uow:
        target = await uow.store.policies.at_version(principal.tenant_id, version)
    if target is None:
        raise NotFound("No such policy version.")
    snapshot = [list(r) for r in target.rules]
    return await _edit(
        rt, principal, "rollback", {"to_version": version}, lambda _old: snapshot, expected_version
    )


async def history(
    rt: Runtime, principal: Principal, *, limit: int, before_version: int | None
) -> list[PolicyChange]:
    await rt.authz.require(principal, "policies", "read")
    async with rt.transaction() as uow:
        return await uow.store.policies.history(
            principal.tenant_id, limit=min(limit, rt.limits.list_cap), before_version=before_version
        )


# ---- system-side helpers (CLI, tenant creation, tests) --------------------------------


async def seed_tenant(rt: Runtime, tenant_id: str, admins: Sequence[str] = ()) -> None:
    """Default roles for a new tenant (if it has no rules yet), plus its first admins."""

    def change(rules: list[Rule]) -> list[Rule]:
        base = rules or default_rules(tenant_id)
        extra = [["g", user_subject(a), "role:tenant_admin", tenant_id] for a in admins]
        return base + [r for r in extra if r not in base]

    await _apply(rt, None, tenant_id, "seed", {"admins": list(admins)}, change)


async def grant_members(rt: Runtime, tenant_id: str, user: str, roles: Sequence[str]) -> None:
    """Give ``user`` the roles (system actor: dev tokens, tests, bootstrap)."""
    wanted = [["g", user_subject(user), role_subject(r), tenant_id] for r in roles]

    def change(rules: list[Rule]) -> list[Rule]:
        return rules + [r for r in wanted if r not in rules]

    await _apply(rt, None, tenant_id, "assign", {"user": user, "roles": list(roles)}, change)


def platform_subject(principal: Principal) -> str:
    return user_subject(f"{principal.tenant_id}|{principal.subject}")


async def require_platform_admin(rt: Runtime, principal: Principal) -> None:
    policy = await rt.authz.policy(PLATFORM_DOMAIN)
    if not policy.decide(platform_subject(principal), "tenants", "manage", own=False).allowed:
        raise Forbidden("Platform administrators only.")


async def changes_since(rt: Runtime, since_seconds: float) -> list[tuple[int, str]]:
    async with rt.transaction() as uow:
        return await uow.store.policies.changed_since(utcnow() - timedelta(seconds=since_seconds))


async def grant_platform_admin(rt: Runtime, tenant_id: str, subject: str) -> None:
    """Make ``subject`` of ``tenant_id`` a platform admin (CLI only)."""
    async with rt.transaction() as uow:
        await uow.store.tenants.ensure(PLATFORM_DOMAIN, "platform")
    member = ["g", user_subject(f"{tenant_id}|{subject}"), "role:platform_admin", PLATFORM_DOMAIN]

    def change(rules: list[Rule]) -> list[Rule]:
        base = rules or platform_rules()
        return base if member in base else [*base, member]

    await _apply(rt, None, PLATFORM_DOMAIN, "platform_admin", {"member": member[1]}, change)


def policy_loader(stores: StoreFactory) -> PolicyLoader:
    """How the authorizer loads one tenant: its version and its rules, then compiled."""

    async def load(tenant_id: str) -> TenantPolicy:
        async with stores.transaction(readonly=True) as store:
            version = await store.policies.version(tenant_id)
            rules = await load_rules(store.session.get_bind(), tenant_id, store.session)
        return compile_rules(tenant_id, version, rules)

    return load


async def watch_changes(rt: Runtime, *, interval: float = 1.0, window: float = 30.0) -> None:
    """Drop cached policies of tenants changed by any process (runs until cancelled).

    Polls the ``policy_changes`` feed every ``interval`` seconds over a trailing window
    and dedupes by change id, so a change committed late (out of id order) is still seen.
    This works through PgBouncer in transaction mode, where LISTEN/NOTIFY does not.
    """
    seen: dict[int, float] = {}
    while True:
        try:
            for change_id, tenant_id in await changes_since(rt, window):
                if change_id not in seen:
                    seen[change_id] = asyncio.get_running_loop().time()
                    rt.authz.invalidate(tenant_id)
            horizon = asyncio.get_running_loop().time() - 2 * window
            for change_id in [c for c, t in seen.items() if t < horizon]:
                del seen[change_id]
        except Exception:
            log.warning("policy change poll failed", exc_info=True)
        await asyncio.sleep(interval)


async def export_system(rt: Runtime, tenant_id: str) -> dict[str, Any]:
    async with rt.transaction() as uow:
        rules = await current_rules(uow, rt, tenant_id)
        version = await uow.store.policies.version(tenant_id)
    return {"tenant_id": tenant_id, "version": version, "rules": sorted(rules)}


async def import_system(rt: Runtime, tenant_id: str, rules: Sequence[Sequence[Any]]) -> None:
    """Replace a tenant's rules (operator CLI); the same validation as the admin API."""
    wanted = validate_rules(rules, tenant_id)
    await _apply(rt, None, tenant_id, "import", {"rules": len(wanted)}, lambda _old: wanted)
