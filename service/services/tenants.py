"""Tenants: provisioned on first sight of a verified token (when allowed), with defaults."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from service import tenancy
from service.domain.ids import is_tenant_slug
from service.domain.principal import Principal
from service.errors import Forbidden, InvalidInput
from service.services import policies
from service.services.runtime import Runtime

ASSISTANT_NAMESPACE = uuid.UUID("6f0c5e1e-9f2b-4c53-8e59-3c1d2b7a6c10")


def default_assistant_id(tenant_id: str, graph_id: str) -> str:
    return str(uuid.uuid5(ASSISTANT_NAMESPACE, f"{tenant_id}:{graph_id}"))


async def create_tenant(
    rt: Runtime, tenant_id: str, name: str | None = None, admins: Sequence[str] = ()
) -> None:
    """Create the tenant (idempotent) with its default assistants and default roles."""
    if not is_tenant_slug(tenant_id):
        raise InvalidInput("Tenant id must match ^[a-z0-9][a-z0-9-]{0,62}$.")
    with tenancy.acting_for(tenant_id):  # a platform admin creates another tenant's rows
        async with rt.transaction() as uow:
            await uow.store.tenants.ensure(tenant_id, name)
            await uow.store.assistants.ensure_defaults(
                tenant_id,
                {default_assistant_id(tenant_id, g): g for g in rt.engine.graph_ids},
            )
        await policies.seed_tenant(rt, tenant_id, admins)
    rt.known_tenants.add(tenant_id)


def bind_caller(principal: Principal) -> None:
    """The rest of this request's database work acts for the caller's tenant: Postgres shows
    and accepts that tenant's rows only (row-level security, ``service/tenancy.py``)."""
    tenancy.bind(principal.tenant_id)


async def ensure_tenant(rt: Runtime, principal: Principal, *, auto_provision: bool) -> None:
    """Make sure the caller's tenant exists (cached per process)."""
    tenant_id = principal.tenant_id
    if tenant_id in rt.known_tenants:
        return
    async with rt.transaction() as uow:
        exists = await uow.store.tenants.get(tenant_id) is not None
    if not exists and not auto_provision:
        raise Forbidden("Tenant is not provisioned.")
    await create_tenant(rt, tenant_id)


async def create_as_platform_admin(
    rt: Runtime, principal: Principal, tenant_id: str, *, name: str | None, admins: Sequence[str]
) -> dict[str, Any]:
    await policies.require_platform_admin(rt, principal)
    await create_tenant(rt, tenant_id, name, admins)
    return {"tenant_id": tenant_id, "name": name or tenant_id, "admins": list(admins)}


async def list_as_platform_admin(
    rt: Runtime, principal: Principal, *, limit: int, offset: int
) -> list[dict[str, Any]]:
    await policies.require_platform_admin(rt, principal)
    async with rt.transaction() as uow:
        rows = await uow.store.tenants.list_all(limit=limit, offset=offset)
    return [
        {"tenant_id": t.tenant_id, "name": t.name, "created_at": t.created_at.isoformat()}
        for t in rows
        if is_tenant_slug(t.tenant_id)
    ]
