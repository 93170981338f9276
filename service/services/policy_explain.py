"""Explaining a tenant's policy: would a request be allowed (against the stored rules or a
draft), what a user may do and through which role, who may decide an interrupt. Read-only;
changes are ``policies.py``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from service.authz import ranks
from service.authz.enforcer import compile_rules, enforce_explained
from service.authz.fields import (
    check_action,
    check_object,
    interrupt_object,
    role_subject,
    subject_of_user,
    user_subject,
)
from service.domain.interrupts import InterruptStatus
from service.domain.principal import Principal
from service.errors import InvalidInput, NotFound
from service.services.policies import current_rules, validate_rules
from service.services.runtime import Runtime


@dataclass(frozen=True)
class DryRun:
    allowed: bool
    rule: list[str] | None
    roles: list[str]
    casbin_allowed: bool
    casbin_rule: list[str]


async def dry_run(
    rt: Runtime,
    principal: Principal,
    *,
    user: str | None,
    role: str | None,
    obj: str,
    act: str,
    own: bool,
    rules: Sequence[Sequence[Any]] | None = None,
) -> DryRun:
    """Would this be allowed? Against the stored policy, or against ``rules`` before saving."""
    await rt.authz.require(principal, "policies", "read")
    if (user is None) == (role is None):
        raise InvalidInput("Give either a user or a role.")
    subject = user_subject(user) if user is not None else role_subject(role or "")
    check_object(obj)
    check_action(act)
    async with rt.transaction() as uow:
        stored = await current_rules(uow, rt, principal.tenant_id)
        version = await uow.store.policies.version(principal.tenant_id)
    candidate = validate_rules(rules, principal.tenant_id) if rules is not None else stored
    policy = compile_rules(principal.tenant_id, version, candidate)
    decision = policy.decide(subject, obj, act, own=own)
    casbin_allowed, casbin_rule = await enforce_explained(
        candidate, [subject, principal.tenant_id, obj, act, "own" if own else "other"]
    )
    return DryRun(
        allowed=decision.allowed,
        rule=decision.grant.rule(principal.tenant_id) if decision.grant else None,
        roles=list(decision.roles),
        casbin_allowed=casbin_allowed,
        casbin_rule=casbin_rule,
    )


async def effective(rt: Runtime, principal: Principal, user: str) -> dict[str, Any]:
    await rt.authz.require(principal, "policies", "read")
    policy = await rt.authz.policy(principal.tenant_id)
    subject = user_subject(user)
    grants = policy.grants(subject)
    return {
        "user": user,
        "roles": sorted(policy.roles(subject)),
        "permissions": [
            {"object": obj, "action": act, "scope": scope, "via": via}
            for obj, act, scope, via in sorted(
                {(g.obj, g.act, g.scope, g.subject) for found in grants.values() for g in found}
            )
        ],
        "rank": ranks.user_rank(policy, subject),
    }


async def who_can_decide(
    rt: Runtime, principal: Principal, interrupt_row_id: str
) -> dict[str, Any]:
    """Members who may decide one pending interrupt (accept/respond/ignore, and edit)."""
    await rt.authz.require(principal, "policies", "read")
    async with rt.transaction() as uow:
        row = await uow.store.interrupts.get(interrupt_row_id, tenant_id=principal.tenant_id)
        thread = (
            await uow.store.threads.get(row.thread_id, tenant_id=principal.tenant_id)
            if row
            else None
        )
    if row is None or thread is None or row.status != InterruptStatus.pending.value:
        raise NotFound("Interrupt not found.")
    policy = await rt.authz.policy(principal.tenant_id)
    obj = interrupt_object(row.type)
    result: dict[str, list[str]] = {"decide": [], "edit": []}
    for member in sorted(policy.members()):
        owner = thread.owner == subject_of_user(member)
        for act in result:
            if policy.decide(member, obj, act, own=owner).allowed:
                result[act].append(subject_of_user(member))
    return {"interrupt_id": row.id, "type": row.type, "thread_owner": thread.owner, **result}
