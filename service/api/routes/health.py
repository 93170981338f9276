from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from service.api.deps import RuntimeDep
from service.observability import render

router = APIRouter(tags=["health"])


class Readiness(BaseModel):
    ok: bool
    checks: dict[str, bool] = Field(description="each backing service, and whether graphs loaded")
    graphs: list[str]


@router.get("/ok")
async def ok() -> dict[str, bool]:
    return {"ok": True}


@router.get("/readyz", responses={200: {"model": Readiness}, 503: {"model": Readiness}})
async def ready(rt: RuntimeDep) -> JSONResponse:
    """Ready when every backing service answers and the graphs are loaded."""
    checks: dict[str, Any] = await rt.readiness()
    checks["graphs"] = bool(rt.engine.graph_ids)
    good = all(checks.values())
    return JSONResponse(
        {"ok": good, "checks": checks, "graphs": rt.engine.graph_ids},
        status_code=200 if good else 503,
        headers=None if good else {"Retry-After": "2"},
    )


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    body, content_type = render()
    return Response(body, media_type=content_type)


@router.get("/info")
async def info() -> dict[str, Any]:
    return {
        "version": "0.1.0",
        "flags": {"assistants": True, "crons": False},
        "name": "countersign",
    }
