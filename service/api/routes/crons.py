"""Crons as LangGraph Server serves them (``client.crons`` of the SDKs)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from service.api.deps import PrincipalDep, RuntimeDep
from service.api.schemas.crons import (
    CronCount,
    CronCreate,
    CronOut,
    CronPatch,
    CronSearch,
    cron_json,
)
from service.services import crons

router = APIRouter(tags=["crons"])


@router.post("/threads/{thread_id}/runs/crons", response_model=CronOut)
async def create_thread_cron(
    thread_id: str, body: CronCreate, rt: RuntimeDep, principal: PrincipalDep
) -> Any:
    return cron_json(await crons.create(rt, principal, thread_id, body.to_request()))


@router.post("/runs/crons", response_model=CronOut)
async def create_cron(body: CronCreate, rt: RuntimeDep, principal: PrincipalDep) -> Any:
    return cron_json(await crons.create(rt, principal, None, body.to_request()))


@router.post("/runs/crons/search", response_model=list[CronOut])
async def search_crons(body: CronSearch, rt: RuntimeDep, principal: PrincipalDep) -> Any:
    rows = await crons.search(
        rt,
        principal,
        assistant_id=body.assistant_id,
        thread_id=body.thread_id,
        enabled=body.enabled,
        metadata=body.metadata,
        limit=body.limit,
        offset=body.offset,
        sort_by=body.sort_by or "created_at",
        descending=(body.sort_order or "desc") == "desc",
    )
    return [cron_json(row) for row in rows]


@router.post("/runs/crons/count", response_model=int)
async def count_crons(body: CronCount, rt: RuntimeDep, principal: PrincipalDep) -> int:
    return await crons.count(
        rt,
        principal,
        assistant_id=body.assistant_id,
        thread_id=body.thread_id,
        metadata=body.metadata,
    )


@router.patch("/runs/crons/{cron_id}", response_model=CronOut)
async def update_cron(
    cron_id: str, body: CronPatch, rt: RuntimeDep, principal: PrincipalDep
) -> Any:
    return cron_json(await crons.update(rt, principal, cron_id, changes=body.changes()))


@router.delete("/runs/crons/{cron_id}", status_code=204)
async def delete_cron(cron_id: str, rt: RuntimeDep, principal: PrincipalDep) -> Response:
    await crons.delete(rt, principal, cron_id)
    return Response(status_code=204)
