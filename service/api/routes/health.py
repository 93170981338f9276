from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from service.api.deps import RuntimeDep

router = APIRouter(tags=["health"])


@router.get("/ok")
async def ok() -> dict[str, bool]:
    return {"ok": True}


@router.get("/readyz")
async def ready(rt: RuntimeDep) -> dict[str, Any]:
    await rt.stores.ping()
    return {"ok": True, "graphs": rt.engine.graph_ids}


@router.get("/info")
async def info() -> dict[str, Any]:
    return {
        "version": "0.1.0",
        "flags": {"assistants": True, "crons": False},
        "name": "countersign",
    }
