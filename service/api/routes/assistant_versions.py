"""Assistant versions: ``POST /assistants/{id}/versions`` and ``POST /assistants/{id}/latest``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from service.api.deps import PrincipalDep, RuntimeDep
from service.api.schemas.assistants import (
    AssistantOut,
    AssistantSetLatest,
    AssistantVersionOut,
    AssistantVersionSearch,
    assistant_json,
    assistant_version_json,
)
from service.services import assistant_versions

router = APIRouter(prefix="/assistants", tags=["assistants"])


@router.post("/{assistant_id}/versions", response_model=list[AssistantVersionOut])
async def search_assistant_versions(
    assistant_id: str, body: AssistantVersionSearch, rt: RuntimeDep, principal: PrincipalDep
) -> Any:
    rows = await assistant_versions.search(
        rt, principal, assistant_id, metadata=body.metadata, limit=body.limit, offset=body.offset
    )
    return [assistant_version_json(row) for row in rows]


@router.post("/{assistant_id}/latest", response_model=AssistantOut)
async def set_latest_assistant_version(
    assistant_id: str, body: AssistantSetLatest, rt: RuntimeDep, principal: PrincipalDep
) -> Any:
    row = await assistant_versions.set_latest(rt, principal, assistant_id, version=body.version)
    return assistant_json(row)
