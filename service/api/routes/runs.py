from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Query, Response
from fastapi.responses import JSONResponse
from sse_starlette.sse import EventSourceResponse

from service.api.deps import PrincipalDep, RuntimeDep, StreamSlotDep
from service.api.keepalive import keepalive_json
from service.api.schemas.common import INT64_MAX
from service.api.schemas.runs import RunCreate, RunOut, RunsCancel, run_json
from service.api.sse import StreamSlot, sse_response
from service.domain.principal import Principal
from service.domain.runs import CancelAction
from service.models import Run
from service.services import run_bulk, run_streams, runs
from service.services.runtime import Runtime

router = APIRouter(tags=["runs"])

# a joined run answers its thread's values as it ended, whatever the graph's state is (an error
# object when the run failed): a JSON value of the graph's making, not a schema of ours
FINAL_VALUES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the thread's values when the run ended",
        "content": {
            "application/json": {
                "schema": {"title": "ThreadValues", "description": "any JSON value the graph holds"}
            }
        },
    }
}


@dataclass(frozen=True)
class Guards:
    """What a client may add to a run request: an ``Idempotency-Key`` (a retry gets the first
    answer's run), and for a resume ``If-Match`` with the payload hashes it saw (a request that
    changed since is a 409, as on the inbox decision route)."""

    idempotency_key: str | None
    seen_hashes: frozenset[str] | None


async def guards(
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)] = None,
    if_match: Annotated[str | None, Header(alias="If-Match", max_length=8192)] = None,
) -> Guards:
    seen = None
    if if_match is not None:
        seen = frozenset(
            tag.strip().removeprefix("W/").strip('"') for tag in if_match.split(",") if tag.strip()
        )
    return Guards(idempotency_key, seen or None)


GuardsDep = Annotated[Guards, Depends(guards)]


def _request(body: RunCreate, thread_id: str | None, given: Guards) -> runs.RunRequest:
    request = body.to_request()
    request.idempotency = runs.idempotency(
        given.idempotency_key, [thread_id, body.model_dump(mode="json")]
    )
    request.seen_hashes = given.seen_hashes
    return request


def _run_path(run: Run) -> str:
    return f"/threads/{run.thread_id}/runs/{run.run_id}"


def _created(run: Run, prefer: str | None) -> JSONResponse:
    """The durable run: ``200`` as LangGraph Server answers (the JS SDK drops a 202's body),
    ``202`` + ``Location`` when the client asked ``Prefer: respond-async`` (RFC 7240)."""
    path = _run_path(run)
    asked = {p.strip().split("=", 1)[0].lower() for p in (prefer or "").split(",")}
    if "respond-async" in asked:
        headers = {
            "Location": path,
            "Content-Location": path,
            "Preference-Applied": "respond-async",
        }
        return JSONResponse(run_json(run), status_code=202, headers=headers)
    return JSONResponse(run_json(run), headers={"Content-Location": path})


async def _stream(
    rt: Runtime,
    principal: Principal,
    slot: StreamSlot,
    start: Awaitable[Run],
    last_event_id: str | None = None,
    only: list[str] | None = None,
) -> EventSourceResponse:
    """The run ``start`` creates or finds, as SSE; the slot goes back if that fails."""
    try:
        run = await start
    except BaseException:
        slot.release()
        raise
    path = _run_path(run)
    return sse_response(
        run_streams.stream(rt, principal, run, last_event_id),
        headers={"Location": f"{path}/stream", "Content-Location": path},
        slot=slot,
        only=only,
    )


async def _wait(
    rt: Runtime, principal: Principal, raw_thread_id: str | None, request: runs.RunRequest
) -> Response:
    async def finished() -> tuple[Any, dict[str, str]]:
        run, answer = await runs.create_and_wait(rt, principal, raw_thread_id, request)
        path = _run_path(run)
        return answer, {"Location": f"{path}/join", "Content-Location": path}

    return await keepalive_json(finished())


PreferHeader = Annotated[str | None, Header(alias="Prefer")]


@router.post("/threads/{thread_id}/runs", response_model=RunOut)
async def create_run(
    thread_id: str,
    body: RunCreate,
    rt: RuntimeDep,
    principal: PrincipalDep,
    given: GuardsDep,
    prefer: PreferHeader = None,
) -> JSONResponse:
    request = _request(body, thread_id, given)
    return _created(await runs.create(rt, principal, thread_id, request), prefer)


@router.post("/runs", response_model=RunOut)
async def create_stateless_run(
    body: RunCreate,
    rt: RuntimeDep,
    principal: PrincipalDep,
    given: GuardsDep,
    prefer: PreferHeader = None,
) -> JSONResponse:
    request = _request(body, None, given)
    return _created(await runs.create(rt, principal, None, request), prefer)


@router.post("/runs/batch", response_model=list[RunOut])
async def create_run_batch(
    body: Annotated[list[RunCreate], Body(max_length=run_bulk.BATCH_CAP)],
    rt: RuntimeDep,
    principal: PrincipalDep,
) -> Any:
    requests = [_request(item, None, Guards(None, None)) for item in body]
    return [run_json(run) for run in await run_bulk.create_batch(rt, principal, requests)]


@router.post("/runs/cancel", status_code=204)
async def cancel_runs(
    body: RunsCancel,
    rt: RuntimeDep,
    principal: PrincipalDep,
    action: CancelAction = CancelAction.interrupt,
) -> Response:
    await run_bulk.cancel_many(
        rt,
        principal,
        thread_id=body.thread_id,
        run_ids=body.run_ids,
        status=body.status,
        action=action,
    )
    return Response(status_code=204)


@router.post("/threads/{thread_id}/runs/stream")
async def stream_run(
    thread_id: str,
    body: RunCreate,
    rt: RuntimeDep,
    principal: PrincipalDep,
    given: GuardsDep,
    slot: StreamSlotDep,
) -> EventSourceResponse:
    created = runs.create(rt, principal, thread_id, _request(body, thread_id, given))
    return await _stream(rt, principal, slot, created)


@router.post("/runs/stream")
async def stream_stateless_run(
    body: RunCreate, rt: RuntimeDep, principal: PrincipalDep, given: GuardsDep, slot: StreamSlotDep
) -> EventSourceResponse:
    created = runs.create(rt, principal, None, _request(body, None, given))
    return await _stream(rt, principal, slot, created)


@router.post("/threads/{thread_id}/runs/wait", responses=FINAL_VALUES)
async def wait_run(
    thread_id: str, body: RunCreate, rt: RuntimeDep, principal: PrincipalDep, given: GuardsDep
) -> Response:
    return await _wait(rt, principal, thread_id, _request(body, thread_id, given))


@router.post("/runs/wait", responses=FINAL_VALUES)
async def wait_stateless_run(
    body: RunCreate, rt: RuntimeDep, principal: PrincipalDep, given: GuardsDep
) -> Response:
    return await _wait(rt, principal, None, _request(body, None, given))


@router.get("/threads/{thread_id}/runs", response_model=list[RunOut])
async def list_runs(
    thread_id: str,
    rt: RuntimeDep,
    principal: PrincipalDep,
    limit: int = Query(default=10, ge=1, le=1000),
    offset: int = Query(default=0, ge=0, le=INT64_MAX),
    status: str | None = Query(default=None, max_length=16),
) -> Any:
    rows = await runs.list_runs(rt, principal, thread_id, limit=limit, offset=offset, status=status)
    return [run_json(row) for row in rows]


@router.get("/threads/{thread_id}/runs/{run_id}", response_model=RunOut)
async def get_run(thread_id: str, run_id: str, rt: RuntimeDep, principal: PrincipalDep) -> Any:
    return run_json(await runs.get(rt, principal, thread_id, run_id))


@router.delete("/threads/{thread_id}/runs/{run_id}", status_code=204)
async def delete_run(
    thread_id: str, run_id: str, rt: RuntimeDep, principal: PrincipalDep
) -> Response:
    await runs.delete(rt, principal, thread_id, run_id)
    return Response(status_code=204)


@router.post("/threads/{thread_id}/runs/{run_id}/cancel", response_model=RunOut)
async def cancel_run(
    thread_id: str,
    run_id: str,
    rt: RuntimeDep,
    principal: PrincipalDep,
    wait: bool = False,
    action: CancelAction = CancelAction.interrupt,
) -> Any:
    run = await runs.cancel(rt, principal, thread_id, run_id, action=action, wait=wait)
    return run_json(run)


@router.get("/threads/{thread_id}/runs/{run_id}/join", responses=FINAL_VALUES)
async def join_run(
    thread_id: str, run_id: str, rt: RuntimeDep, principal: PrincipalDep
) -> Response:
    async def joined() -> tuple[Any, dict[str, str]]:
        return await runs.join(rt, principal, thread_id, run_id), {}

    return await keepalive_json(joined())


@router.get("/threads/{thread_id}/runs/{run_id}/stream")
async def join_run_stream(
    thread_id: str,
    run_id: str,
    rt: RuntimeDep,
    principal: PrincipalDep,
    slot: StreamSlotDep,
    stream_mode: list[str] | None = Query(default=None),
    last_event_id: str | None = Header(default=None, max_length=64),
) -> EventSourceResponse:
    found = runs.get(rt, principal, thread_id, run_id)
    return await _stream(rt, principal, slot, found, last_event_id, stream_mode)
