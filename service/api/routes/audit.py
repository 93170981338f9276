from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter, Query

from service.api.deps import PrincipalDep, RuntimeDep
from service.api.schemas.common import INT64_MAX, IsoDatetime
from service.api.schemas.policies import audit_json
from service.domain.audit import AuditQuery
from service.services import audit

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("")
async def list_audit(
    rt: RuntimeDep,
    principal: PrincipalDep,
    after_seq: int = Query(default=0, ge=0, le=INT64_MAX),
    limit: int = Query(default=100, ge=1, le=1000),
    target_type: str | None = Query(default=None, max_length=32),
    target_id: str | None = Query(default=None, max_length=200),
    action: str | None = Query(default=None, max_length=64),
    actor: str | None = Query(default=None, max_length=300, description="the subject who acted"),
    since: IsoDatetime | None = Query(default=None, description="created at or after"),
    until: IsoDatetime | None = Query(default=None, description="created before"),
) -> list[dict[str, Any]]:
    query = AuditQuery(after_seq, limit, target_type, target_id, action, actor, since, until)
    return [audit_json(row) for row in await audit.list_events(rt, principal, query)]


@router.get("/verify")
async def verify_audit(rt: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    return dataclasses.asdict(await audit.verify(rt, principal))
