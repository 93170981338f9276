"""Platform administration: tenants (platform admins only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from service.api.deps import PrincipalDep, RuntimeDep
from service.api.schemas.common import INT64_MAX
from service.api.schemas.policies import TenantCreate
from service.services import tenants

router = APIRouter(prefix="/platform", tags=["platform"])


@router.post("/tenants", status_code=201)
async def create_tenant(body: TenantCreate, rt: RuntimeDep, principal: PrincipalDep) -> Any:
    return await tenants.create_as_platform_admin(
        rt, principal, body.tenant_id, name=body.name, admins=body.admins
    )


@router.get("/tenants")
async def list_tenants(
    rt: RuntimeDep,
    principal: PrincipalDep,
    limit: int = Query(default=100, ge=1, le=1000),
    offset: int = Query(default=0, ge=0, le=INT64_MAX),
) -> list[dict[str, Any]]:
    return await tenants.list_as_platform_admin(rt, principal, limit=limit, offset=offset)
