"""The Authorizer port: cache per tenant (LRU), invalidation, token roles only when enabled."""

from __future__ import annotations

import asyncio

from service.authz.compiled import TenantPolicy
from service.authz.enforcer import compile_rules, default_rules
from service.authz.guard import Authorizer
from service.domain.principal import Principal


def _loader(loads: list[str]):  # type: ignore[no-untyped-def]
    async def load(tenant_id: str) -> TenantPolicy:
        loads.append(tenant_id)
        await asyncio.sleep(0.01)
        rules = [*default_rules(tenant_id), ["g", "user:ann", "role:reviewer", tenant_id]]
        return compile_rules(tenant_id, 1, rules)

    return load


async def test_loads_each_tenant_once_even_concurrently() -> None:
    loads: list[str] = []
    authz = Authorizer(_loader(loads))
    ann = Principal(tenant_id="acme", subject="ann")
    decisions = await asyncio.gather(
        *(authz.check(ann, "interrupt:refund", "decide") for _ in range(20))
    )
    assert all(d.allowed for d in decisions)
    assert loads == ["acme"]


async def test_lru_evicts_and_invalidate_reloads() -> None:
    loads: list[str] = []
    authz = Authorizer(_loader(loads), cache_size=2)
    for tenant in ("a", "b", "c", "a"):
        await authz.policy(tenant)
    assert loads == ["a", "b", "c", "a"]
    assert authz.cached_tenants() == 2
    authz.invalidate("a")
    await authz.policy("a")
    assert loads[-1] == "a"
    assert len(loads) == 5


async def test_token_roles_count_only_when_enabled() -> None:
    bob = Principal(tenant_id="acme", subject="bob", token_roles=frozenset({"tenant_admin"}))
    off = Authorizer(_loader([]))
    on = Authorizer(_loader([]), roles_from_token=True)
    assert not (await off.check(bob, "policies", "edit")).allowed
    decision = await on.check(bob, "policies", "edit")
    assert decision.allowed
    assert decision.grant is not None
    assert decision.grant.subject == "role:tenant_admin"


async def test_ownership_scope() -> None:
    authz = Authorizer(_loader([]))
    rules_owner = Principal(tenant_id="acme", subject="ann")
    assert (await authz.scope(rules_owner, "threads", "read")) == "any"
    assert (await authz.interrupt_types(rules_owner)) is None
    stranger = Principal(tenant_id="acme", subject="zed")
    assert (await authz.scope(stranger, "threads", "read")) is None
    assert (await authz.interrupt_types(stranger)) == frozenset()
