"""``Authorizer``: may this principal do this to this object, and why.

Each tenant's policy is loaded on first use (filtered), compiled, and kept in an LRU of
``cache_size`` tenants, so a decision costs the same at 10 or 10,000 tenants. A policy
change anywhere drops the tenant from every process's cache: locally at once, elsewhere
through the change feed (``invalidate``), well within 5 s.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from service.authz.compiled import Access, Decision, TenantPolicy
from service.authz.fields import interrupt_object, user_subject
from service.domain.principal import Principal
from service.errors import Forbidden

PolicyLoader = Callable[[str], Awaitable[TenantPolicy]]
HOT_LIMIT = 1_000_000  # (tenant, subject) -> resolved access entries kept
OBSERVE_EVERY = 16  # latency histogram samples one decision in this many
LatencyObserver = Callable[[float], None]


def _ignore(_seconds: float) -> None:
    return None


@dataclass
class Authorizer:
    loader: PolicyLoader
    cache_size: int = 10_000
    roles_from_token: bool = False
    observe: LatencyObserver = _ignore
    _cache: OrderedDict[str, TenantPolicy] = field(default_factory=OrderedDict)
    _loading: dict[str, asyncio.Future[TenantPolicy]] = field(default_factory=dict)
    _subjects: dict[str, str] = field(default_factory=dict)
    _hot: dict[tuple[str, str, frozenset[str] | None], tuple[TenantPolicy, Access]] = field(
        default_factory=dict
    )
    _decisions: int = 0

    # ---- cache ----------------------------------------------------------------------

    async def policy(self, tenant_id: str) -> TenantPolicy:
        """The tenant's compiled policy (recency is refreshed here, not on every decision)."""
        cached = self._cache.get(tenant_id)
        if cached is not None:
            self._cache.move_to_end(tenant_id)
            return cached
        pending = self._loading.get(tenant_id)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[TenantPolicy] = asyncio.get_running_loop().create_future()
        self._loading[tenant_id] = future
        try:
            loaded = await self.loader(tenant_id)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved
            raise
        finally:
            self._loading.pop(tenant_id, None)
        if not future.done():
            future.set_result(loaded)
        self._cache[tenant_id] = loaded
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return loaded

    def invalidate(self, tenant_id: str) -> None:
        self._cache.pop(tenant_id, None)

    def cached_tenants(self) -> int:
        return len(self._cache)

    # ---- decisions ------------------------------------------------------------------

    def _user(self, principal: Principal) -> str:
        subject = self._subjects.get(principal.subject)
        if subject is None:
            subject = self._subjects[principal.subject] = user_subject(principal.subject)
            if len(self._subjects) > 1_000_000:
                self._subjects.clear()
        return subject

    def _extra(self, principal: Principal) -> frozenset[str]:
        if not self.roles_from_token or not principal.token_roles:
            return frozenset()
        return frozenset(f"role:{r.removeprefix('role:')}" for r in principal.token_roles)

    async def check(
        self, principal: Principal, obj: str, act: str, *, owner: str | None = None
    ) -> Decision:
        started = time.perf_counter()
        tenant_id = principal.tenant_id
        key = (
            tenant_id,
            principal.subject,
            principal.token_roles if self.roles_from_token else None,
        )
        hot = self._hot.get(key)
        if hot is None or hot[0] is not self._cache.get(tenant_id):
            policy = await self.policy(tenant_id)
            started = time.perf_counter()  # time the decision, not the policy load
            if len(self._hot) > HOT_LIMIT:
                self._hot.clear()
            hot = self._hot[key] = (
                policy,
                policy.access(self._user(principal), self._extra(principal)),
            )
        decision = hot[1].decide(obj, act, own=owner is not None and owner == principal.subject)
        self._decisions += 1
        if self._decisions % OBSERVE_EVERY == 0:
            self.observe(time.perf_counter() - started)
        return decision

    async def require(
        self, principal: Principal, obj: str, act: str, *, owner: str | None = None
    ) -> Decision:
        decision = await self.check(principal, obj, act, owner=owner)
        if not decision.allowed:
            raise Forbidden(f"Not allowed to {act} {obj}.", reason=decision.reason)
        return decision

    async def require_decision(
        self, principal: Principal, interrupt_type: str, act: str, *, owner: str | None = None
    ) -> Decision:
        return await self.require(principal, interrupt_object(interrupt_type), act, owner=owner)

    async def scope(self, principal: Principal, obj: str, act: str) -> str | None:
        """``any``, ``own`` or None: which objects of the tenant the caller may ``act`` on."""
        policy = await self.policy(principal.tenant_id)
        return policy.scope_for(self._user(principal), obj, act, self._extra(principal))

    async def interrupt_types(
        self, principal: Principal, act: str = "decide"
    ) -> frozenset[str] | None:
        """Interrupt types the caller may decide; None means every type."""
        policy = await self.policy(principal.tenant_id)
        return policy.interrupt_types(self._user(principal), act, self._extra(principal))

    async def decidable_types(
        self, principal: Principal, act: str = "decide"
    ) -> tuple[frozenset[str] | None, frozenset[str] | None]:
        """``(types on any thread, types on own threads)``; None means every type."""
        policy = await self.policy(principal.tenant_id)
        return policy.decidable_types(self._user(principal), act, self._extra(principal))

    async def roles(self, principal: Principal) -> frozenset[str]:
        policy = await self.policy(principal.tenant_id)
        return policy.roles(self._user(principal), self._extra(principal))
