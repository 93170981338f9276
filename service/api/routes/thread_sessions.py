"""Thread streaming sessions of the current SDK (``client.threads.stream(...)``):
``POST /threads/{id}/commands`` (JSON in, JSON out) and ``POST /threads/{id}/stream/events``
(SSE: the thread's protocol events as a filtered stream)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import APIRouter
from sse_starlette.sse import EventSourceResponse

from service.api.deps import PrincipalDep, RuntimeDep, StreamSlotDep
from service.api.openapi import SSE
from service.api.schemas.common import json_response
from service.api.schemas.thread_sessions import CommandAnswer, EventStreamRequest, SessionCommand
from service.api.sse import sse_response
from service.queue.port import StreamEvent
from service.services import thread_sessions

router = APIRouter(prefix="/threads", tags=["threads"])


@router.post("/{thread_id}/commands", response_model=CommandAnswer)
async def thread_command(
    thread_id: str, body: SessionCommand, rt: RuntimeDep, principal: PrincipalDep
) -> Any:
    """One protocol command (``run.start``, ``input.respond``); the protocol's answer."""
    try:
        answer = await thread_sessions.command(rt, principal, thread_id, body.method, body.params)
    except thread_sessions.ProtocolError as exc:
        refused = {"type": "error", "id": body.id, "error": exc.code, "message": exc.message}
        return json_response(refused)
    out: dict[str, Any] = {"type": "success", "id": body.id, "result": answer.result}
    if answer.applied_through_seq is not None:
        out["meta"] = {"applied_through_seq": answer.applied_through_seq}
    return json_response(out)


@router.post("/{thread_id}/stream/events", responses={200: {"content": SSE}})
async def thread_events(
    thread_id: str,
    body: EventStreamRequest,
    rt: RuntimeDep,
    principal: PrincipalDep,
    slot: StreamSlotDep,
) -> EventSourceResponse:
    """The thread's runs as protocol events, filtered, until the client leaves."""
    try:
        events = await thread_sessions.open_events(
            rt, principal, thread_id, body.to_filter(), body.since
        )
    except BaseException:
        slot.release()
        raise
    return sse_response(_framed(events), headers={}, slot=slot)


async def _framed(events: AsyncIterator[dict[str, Any]]) -> AsyncIterator[StreamEvent]:
    async for event in events:
        name = str(event.get("method") or event.get("type"))
        yield StreamEvent(str(event.get("event_id") or ""), name, orjson.dumps(event))
