"""The WebSocket transport of thread streaming sessions (``client.threads.stream(...,
transport="websocket")``): ``GET /threads/{id}/stream/events`` upgraded. The client's first
frame is a ``subscription.subscribe`` command whose params are the stream's filter; the
answer to it comes first, then the events, one JSON frame each, until either side closes.

A WebSocket cannot carry the HTTP routers' bearer dependency, so the caller is verified here,
with the same function, before anything else. A refusal after the upgrade closes with
``4000 + status`` (``4401``, ``4404``, ``4422``, ``4429``) and the detail as the reason: a
browser cannot read the status of a refused upgrade.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, cast

import orjson
from fastapi import APIRouter, Request, WebSocket
from pydantic import ValidationError
from starlette.websockets import WebSocketDisconnect

from service.api.deps import get_app_state, get_principal
from service.api.schemas.thread_sessions import EventStreamRequest, SessionCommand
from service.errors import InvalidInput, ServiceError
from service.services import thread_sessions

router = APIRouter()
SUBSCRIBE = "subscription.subscribe"
FIRST_FRAME_SECONDS = 10.0


@router.websocket("/threads/{thread_id}/stream/events")
async def thread_events_ws(websocket: WebSocket, thread_id: str) -> None:
    await websocket.accept()
    slot = None
    try:
        principal = await get_principal(cast(Request, websocket))  # the same checks as HTTP
        state = get_app_state(cast(Request, websocket))
        slot = state.streams.take(principal.tenant_id)
        first = await asyncio.wait_for(websocket.receive_text(), FIRST_FRAME_SECONDS)
        subscribe, wanted = _subscription(first)
        events = await thread_sessions.open_events(
            state.runtime, principal, thread_id, wanted.to_filter(), wanted.since
        )
        await _send(
            websocket, {"type": "success", "id": subscribe.id, "result": {"subscription_id": "1"}}
        )
        await _pump(websocket, events)
    except ServiceError as exc:
        await _close(websocket, 4000 + exc.status_code, exc.detail)
    except (TimeoutError, WebSocketDisconnect):
        await _close(websocket, 1000, "")
    finally:
        if slot is not None:
            slot.release()


def _subscription(frame: str) -> tuple[SessionCommand, EventStreamRequest]:
    try:
        command = SessionCommand.model_validate(orjson.loads(frame))
        if command.method != SUBSCRIBE:
            raise InvalidInput(f"The first frame must be a {SUBSCRIBE} command.")
        return command, EventStreamRequest.model_validate(command.params)
    except (orjson.JSONDecodeError, ValidationError) as exc:
        raise InvalidInput("The first frame must be a subscription.subscribe command.") from exc


async def _pump(websocket: WebSocket, events: Any) -> None:
    """Send the events until the stream or the client ends (the client's frames are read,
    and ignored, only to hear it leave)."""

    async def listen() -> None:
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                await websocket.receive_text()

    listener = asyncio.create_task(listen())
    try:
        while True:
            step = asyncio.ensure_future(anext(events))
            finished, _ = await asyncio.wait({step, listener}, return_when=asyncio.FIRST_COMPLETED)
            if step not in finished:  # the client left
                step.cancel()
                with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                    await step
                return
            try:
                event = step.result()
            except StopAsyncIteration:
                break
            await _send(websocket, event)
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await listener
        await events.aclose()
    await _close(websocket, 1000, "")


async def _send(websocket: WebSocket, message: dict[str, Any]) -> None:
    await websocket.send_text(orjson.dumps(message).decode())


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(Exception):
        await websocket.close(code=code, reason=reason[:120])
