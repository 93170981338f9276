"""The reviewer's inbox: pending interrupts, one item in context, decisions, live updates."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse
from sse_starlette.sse import EventSourceResponse

from service.api.deps import PrincipalDep, RuntimeDep, StreamSlotDep
from service.api.schemas.common import IsoDatetime, json_response
from service.api.schemas.inbox import (
    DecisionBody,
    DecisionOut,
    InboxItem,
    InboxPageOut,
    SettingsPatch,
    ThreadDecisions,
    decision_json,
    entry_of,
    item_json,
    resolved_json,
)
from service.api.schemas.runs import run_json
from service.api.sse import sse_response
from service.errors import InvalidInput
from service.services import inbox

router = APIRouter(tags=["inbox"])

IdempotencyKey = Header(default=None, alias="Idempotency-Key", max_length=255)


@router.get("/inbox", response_model=InboxPageOut)
async def list_inbox(
    rt: RuntimeDep,
    principal: PrincipalDep,
    type: list[str] | None = Query(default=None, max_length=50),
    graph_id: str | None = Query(default=None, max_length=128),
    metadata: str | None = Query(default=None, max_length=4096, description="JSON object"),
    created_before: IsoDatetime | None = None,
    created_after: IsoDatetime | None = None,
    decidable: bool = Query(default=False, description="only what the caller may decide"),
    limit: int = Query(default=50, ge=1, le=1000),
    cursor: str | None = Query(default=None, max_length=200),
    order: str = Query(default="asc", pattern="^(asc|desc)$"),
) -> Any:
    filters: dict[str, Any] | None = None
    if metadata:
        try:
            filters = orjson.loads(metadata)
        except orjson.JSONDecodeError as exc:
            raise InvalidInput("metadata must be a JSON object.") from exc
        if not isinstance(filters, dict):
            raise InvalidInput("metadata must be a JSON object.")
    page = await inbox.list_pending(
        rt,
        principal,
        types=type,
        graph_id=graph_id,
        metadata=filters,
        created_before=created_before,
        created_after=created_after,
        decidable_only=decidable,
        limit=limit,
        cursor=cursor,
        descending=order == "desc",
    )
    return json_response(
        {
            "items": [item_json(entry, page.reach) for entry in page.items],
            "next_cursor": page.next_cursor,
        }
    )


@router.get("/inbox/counts")
async def inbox_counts(
    rt: RuntimeDep, principal: PrincipalDep, decidable: bool = False
) -> dict[str, Any]:
    by_type = await inbox.counts(rt, principal, decidable_only=decidable)
    return {"total": sum(by_type.values()), "by_type": by_type}


@router.get("/inbox/stream")
async def inbox_stream(
    rt: RuntimeDep,
    principal: PrincipalDep,
    slot: StreamSlotDep,
    last_event_id: str | None = Header(default=None, max_length=64),
) -> EventSourceResponse:
    return sse_response(inbox.live(rt, principal, last_event_id), headers={}, slot=slot)


@router.get("/inbox/{item_id}")
async def get_inbox_item(item_id: str, rt: RuntimeDep, principal: PrincipalDep) -> Any:
    found = await inbox.get_item(rt, principal, item_id)
    entry = entry_of(found["row"], found["thread"])
    body = InboxItem.model_validate(item_json(entry, found["reach"]))
    return {
        **body.model_dump(),
        "thread": {**body.thread.model_dump(), "values": found["thread"].values},
        "resolution": resolved_json(found["row"]) if found["row"].status != "pending" else None,
        "history": found["history"],
        "runs": [run_json(r) for r in found["runs"]],
    }


def _accepted(body: dict[str, Any]) -> JSONResponse:
    run = body["run"]
    path = f"/threads/{run['thread_id']}/runs/{run['run_id']}"
    return JSONResponse(body, status_code=202, headers={"Location": path})


@router.post("/inbox/{item_id}/decision", status_code=202, responses={202: {"model": DecisionOut}})
async def decide(
    item_id: str,
    body: DecisionBody,
    rt: RuntimeDep,
    principal: PrincipalDep,
    idempotency_key: str | None = IdempotencyKey,
) -> JSONResponse:
    answer = inbox.Answer(item_id, body.decision, body.payload_hash, body.checkpoint_id)
    run, rows = await inbox.decide(rt, principal, None, [answer], idempotency_key=idempotency_key)
    return _accepted(decision_json(run, rows))


@router.post(
    "/threads/{thread_id}/decisions", status_code=202, responses={202: {"model": DecisionOut}}
)
async def decide_many(
    thread_id: str,
    body: ThreadDecisions,
    rt: RuntimeDep,
    principal: PrincipalDep,
    idempotency_key: str | None = IdempotencyKey,
) -> JSONResponse:
    answers = [
        inbox.Answer(d.interrupt, d.decision, d.payload_hash, d.checkpoint_id)
        for d in body.decisions
    ]
    run, rows = await inbox.decide(
        rt, principal, thread_id, answers, idempotency_key=idempotency_key
    )
    return _accepted(decision_json(run, rows))


@router.get("/tenant/settings")
async def get_tenant_settings(rt: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    return (await inbox.get_settings(rt, principal)).model_dump(mode="json")


@router.patch("/tenant/settings")
async def patch_tenant_settings(
    body: SettingsPatch, rt: RuntimeDep, principal: PrincipalDep
) -> dict[str, Any]:
    changes = body.model_dump(exclude_none=True)
    return (await inbox.update_settings(rt, principal, changes)).model_dump(mode="json")
