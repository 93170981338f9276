"""``POST /threads/{id}/copy`` and ``POST /threads/prune``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from service.api.deps import PrincipalDep, RuntimeDep
from service.api.schemas.threads import ThreadOut, ThreadPrune, ThreadPruneOut, thread_json
from service.services import thread_copy

router = APIRouter(prefix="/threads", tags=["threads"])


@router.post("/prune", response_model=ThreadPruneOut)
async def prune_threads(body: ThreadPrune, rt: RuntimeDep, principal: PrincipalDep) -> Any:
    pruned = await thread_copy.prune(rt, principal, body.thread_ids, body.strategy)
    return {"pruned_count": pruned}


@router.post("/{thread_id}/copy", response_model=ThreadOut)
async def copy_thread(thread_id: str, rt: RuntimeDep, principal: PrincipalDep) -> Any:
    return thread_json(await thread_copy.copy(rt, principal, thread_id))
