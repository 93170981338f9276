"""Tenant admins edit their own tenant's policy; every edit is versioned and audited."""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter, Query

from service.api.deps import PrincipalDep, RuntimeDep
from service.api.schemas.common import INT64_MAX
from service.api.schemas.policies import (
    DryRunBody,
    DryRunOut,
    ImportBody,
    ParentBody,
    PermissionBody,
    PolicyOut,
    RoleAssignment,
    RollbackBody,
    change_json,
)
from service.services import policies, policy_explain

router = APIRouter(prefix="/policies", tags=["policies"])


@router.get("", response_model=PolicyOut)
async def get_policy(rt: RuntimeDep, principal: PrincipalDep) -> Any:
    return await policies.view(rt, principal)


@router.get("/export")
async def export_policy(rt: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    return await policies.export_rules(rt, principal)


@router.put("/import", response_model=PolicyOut)
async def import_policy(body: ImportBody, rt: RuntimeDep, principal: PrincipalDep) -> Any:
    return await policies.import_rules(
        rt, principal, body.rules, expected_version=body.expected_version
    )


@router.post("/members/{user}/roles", response_model=PolicyOut)
async def assign_role(
    user: str, body: RoleAssignment, rt: RuntimeDep, principal: PrincipalDep
) -> Any:
    return await policies.assign_role(
        rt, principal, user, body.role, expected_version=body.expected_version
    )


@router.delete("/members/{user}/roles/{role}", response_model=PolicyOut)
async def revoke_role(
    user: str,
    role: str,
    rt: RuntimeDep,
    principal: PrincipalDep,
    expected_version: int | None = Query(default=None, ge=0, le=INT64_MAX),
) -> Any:
    return await policies.revoke_role(rt, principal, user, role, expected_version=expected_version)


@router.post("/roles/{role}/permissions", response_model=PolicyOut)
async def grant_permission(
    role: str, body: PermissionBody, rt: RuntimeDep, principal: PrincipalDep
) -> Any:
    return await policies.set_permission(
        rt,
        principal,
        role,
        body.object,
        body.action,
        body.scope,
        present=True,
        expected_version=body.expected_version,
    )


@router.post("/roles/{role}/permissions/remove", response_model=PolicyOut)
async def remove_permission(
    role: str, body: PermissionBody, rt: RuntimeDep, principal: PrincipalDep
) -> Any:
    return await policies.set_permission(
        rt,
        principal,
        role,
        body.object,
        body.action,
        body.scope,
        present=False,
        expected_version=body.expected_version,
    )


@router.post("/roles/{role}/parents", response_model=PolicyOut)
async def add_parent(role: str, body: ParentBody, rt: RuntimeDep, principal: PrincipalDep) -> Any:
    return await policies.set_inheritance(
        rt, principal, role, body.parent, present=True, expected_version=body.expected_version
    )


@router.delete("/roles/{role}/parents/{parent}", response_model=PolicyOut)
async def remove_parent(
    role: str,
    parent: str,
    rt: RuntimeDep,
    principal: PrincipalDep,
    expected_version: int | None = Query(default=None, ge=0, le=INT64_MAX),
) -> Any:
    return await policies.set_inheritance(
        rt, principal, role, parent, present=False, expected_version=expected_version
    )


@router.post("/test", response_model=DryRunOut)
async def dry_run(body: DryRunBody, rt: RuntimeDep, principal: PrincipalDep) -> Any:
    result = await policy_explain.dry_run(
        rt,
        principal,
        user=body.user,
        role=body.role,
        obj=body.object,
        act=body.action,
        own=body.own,
        rules=body.rules,
    )
    return dataclasses.asdict(result)


@router.get("/effective/{user}")
async def effective_permissions(user: str, rt: RuntimeDep, principal: PrincipalDep) -> Any:
    return await policy_explain.effective(rt, principal, user)


@router.get("/who-can-decide/{interrupt_id}")
async def who_can_decide(interrupt_id: str, rt: RuntimeDep, principal: PrincipalDep) -> Any:
    return await policy_explain.who_can_decide(rt, principal, interrupt_id)


@router.get("/history")
async def policy_history(
    rt: RuntimeDep,
    principal: PrincipalDep,
    limit: int = Query(default=20, ge=1, le=1000),
    before_version: int | None = Query(default=None, ge=1, le=INT64_MAX),
) -> list[dict[str, Any]]:
    rows = await policies.history(rt, principal, limit=limit, before_version=before_version)
    return [change_json(row) for row in rows]


@router.post("/rollback", response_model=PolicyOut)
async def rollback_policy(body: RollbackBody, rt: RuntimeDep, principal: PrincipalDep) -> Any:
    return await policies.rollback(
        rt, principal, body.version, expected_version=body.expected_version
    )
