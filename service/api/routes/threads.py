from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Header, Query, Response
from sse_starlette.sse import EventSourceResponse

from service.api.deps import PrincipalDep, RuntimeDep, StreamSlotDep
from service.api.schemas.common import json_response
from service.api.schemas.threads import (
    HistoryQuery,
    StateAtCheckpoint,
    StateUpdate,
    StateUpdateOut,
    ThreadCount,
    ThreadCreate,
    ThreadOut,
    ThreadPatch,
    ThreadSearch,
    ThreadStateOut,
    thread_json,
    thread_ttl,
)
from service.api.sse import sse_response
from service.errors import InvalidInput
from service.services import run_streams, threads

router = APIRouter(prefix="/threads", tags=["threads"])


@router.post("", response_model=ThreadOut)
async def create_thread(body: ThreadCreate, rt: RuntimeDep, principal: PrincipalDep) -> Any:
    view = await threads.create(
        rt,
        principal,
        thread_id=body.thread_id,
        metadata=body.metadata,
        if_exists=body.if_exists,
        ttl=thread_ttl(body.ttl),
    )
    return thread_json(view)


@router.post("/search", response_model=list[ThreadOut])
async def search_threads(body: ThreadSearch, rt: RuntimeDep, principal: PrincipalDep) -> Any:
    views = await threads.search(
        rt,
        principal,
        ids=body.ids,
        metadata=body.metadata,
        values=body.values,
        status=body.status,
        limit=body.limit,
        offset=body.offset,
        sort_by=body.sort_by or "created_at",
        descending=(body.sort_order or "desc") == "desc",
    )
    return json_response([thread_json(view) for view in views])


@router.post("/count", response_model=int)
async def count_threads(body: ThreadCount, rt: RuntimeDep, principal: PrincipalDep) -> int:
    return await threads.count(
        rt, principal, metadata=body.metadata, values=body.values, status=body.status
    )


@router.get("/{thread_id}", response_model=ThreadOut)
async def get_thread(thread_id: str, rt: RuntimeDep, principal: PrincipalDep) -> Any:
    return json_response(thread_json(await threads.get(rt, principal, thread_id)))


@router.patch("/{thread_id}", response_model=ThreadOut)
async def patch_thread(
    thread_id: str, body: ThreadPatch, rt: RuntimeDep, principal: PrincipalDep
) -> Any:
    view = await threads.update(
        rt, principal, thread_id, metadata=body.metadata, ttl=thread_ttl(body.ttl)
    )
    return thread_json(view)


@router.delete("/{thread_id}", status_code=204)
async def delete_thread(thread_id: str, rt: RuntimeDep, principal: PrincipalDep) -> Response:
    await threads.delete(rt, principal, thread_id)
    return Response(status_code=204)


@router.get("/{thread_id}/state", response_model=ThreadStateOut)
async def get_thread_state(
    thread_id: str, rt: RuntimeDep, principal: PrincipalDep, subgraphs: bool = False
) -> Any:
    return await threads.get_state(rt, principal, thread_id, subgraphs=subgraphs)


@router.get("/{thread_id}/state/{checkpoint_id}", response_model=ThreadStateOut)
async def get_thread_state_at(
    thread_id: str,
    checkpoint_id: str,
    rt: RuntimeDep,
    principal: PrincipalDep,
    subgraphs: bool = False,
) -> Any:
    return await threads.get_state(
        rt, principal, thread_id, checkpoint_id=checkpoint_id, subgraphs=subgraphs
    )


@router.post("/{thread_id}/state/checkpoint", response_model=ThreadStateOut)
async def post_thread_state_at(
    thread_id: str, body: StateAtCheckpoint, rt: RuntimeDep, principal: PrincipalDep
) -> Any:
    return await threads.get_state(
        rt,
        principal,
        thread_id,
        checkpoint_id=body.checkpoint.checkpoint_id,
        checkpoint_ns=body.checkpoint.checkpoint_ns or "",
        subgraphs=body.subgraphs,
    )


@router.post("/{thread_id}/state", response_model=StateUpdateOut)
async def update_thread_state(
    thread_id: str, body: StateUpdate, rt: RuntimeDep, principal: PrincipalDep
) -> Any:
    return await threads.update_state(
        rt,
        principal,
        thread_id,
        values=body.values,
        as_node=body.as_node,
        checkpoint_id=body.target_checkpoint(),
    )


@router.post("/{thread_id}/history", response_model=list[ThreadStateOut])
async def post_thread_history(
    thread_id: str, body: HistoryQuery, rt: RuntimeDep, principal: PrincipalDep
) -> Any:
    return await threads.history(
        rt,
        principal,
        thread_id,
        limit=body.limit,
        before=body.before_id(),
        metadata=body.metadata,
        checkpoint_id=body.checkpoint.checkpoint_id if body.checkpoint else None,
        checkpoint_ns=(body.checkpoint.checkpoint_ns or "") if body.checkpoint else "",
    )


@router.get("/{thread_id}/history", response_model=list[ThreadStateOut])
async def get_thread_history(
    thread_id: str,
    rt: RuntimeDep,
    principal: PrincipalDep,
    limit: int = Query(default=10, ge=1, le=1000),
    before: str | None = Query(default=None, max_length=64),
) -> Any:
    return await threads.history(
        rt, principal, thread_id, limit=limit, before=before, metadata=None, checkpoint_id=None
    )


@router.get("/{thread_id}/stream")
async def join_thread_stream(
    thread_id: str,
    rt: RuntimeDep,
    principal: PrincipalDep,
    slot: StreamSlotDep,
    stream_mode: list[str] | None = Query(default=None, max_length=3),
    stream_modes: list[str] | None = Query(default=None, max_length=3),
    last_event_id: str | None = Header(default=None, max_length=200),
) -> EventSourceResponse:
    """The thread's runs' events, as they come, until the client leaves (``joinStream``)."""
    asked = [m.strip() for raw in (stream_mode or stream_modes or []) for m in raw.split(",")]
    modes = frozenset(asked or ["run_modes"])
    if not modes <= run_streams.THREAD_MODES:
        slot.release()
        raise InvalidInput(f"stream_mode must be among {sorted(run_streams.THREAD_MODES)}")
    try:
        events = await run_streams.join_thread(rt, principal, thread_id, last_event_id, modes)
    except BaseException:
        slot.release()
        raise
    return sse_response(events, headers={}, slot=slot)
