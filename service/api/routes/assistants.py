from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Response

from service.api.deps import PrincipalDep, RuntimeDep
from service.api.schemas.assistants import (
    AssistantCount,
    AssistantCreate,
    AssistantOut,
    AssistantPatch,
    AssistantSearch,
    assistant_json,
)
from service.api.schemas.graphs import GraphSchemaOut, SubgraphSchemaOut
from service.services import assistants, graph_info

router = APIRouter(prefix="/assistants", tags=["assistants"])


@router.post("", response_model=AssistantOut)
async def create_assistant(body: AssistantCreate, rt: RuntimeDep, principal: PrincipalDep) -> Any:
    row = await assistants.create(
        rt,
        principal,
        graph_id=body.graph_id,
        assistant_id=body.assistant_id,
        config=body.config,
        context=body.context,
        metadata=body.metadata,
        name=body.name,
        description=body.description,
        if_exists=body.if_exists,
    )
    return assistant_json(row)


@router.post("/search", response_model=list[AssistantOut])
async def search_assistants(body: AssistantSearch, rt: RuntimeDep, principal: PrincipalDep) -> Any:
    rows = await assistants.search(
        rt,
        principal,
        graph_id=body.graph_id,
        name=body.name,
        metadata=body.metadata,
        limit=body.limit,
        offset=body.offset,
        sort_by=body.sort_by or "created_at",
        descending=(body.sort_order or "desc") == "desc",
    )
    return [assistant_json(row) for row in rows]


@router.post("/count", response_model=int)
async def count_assistants(body: AssistantCount, rt: RuntimeDep, principal: PrincipalDep) -> int:
    return await assistants.count(
        rt, principal, graph_id=body.graph_id, name=body.name, metadata=body.metadata
    )


@router.get("/{assistant_id}", response_model=AssistantOut)
async def get_assistant(assistant_id: str, rt: RuntimeDep, principal: PrincipalDep) -> Any:
    return assistant_json(await assistants.get(rt, principal, assistant_id))


@router.patch("/{assistant_id}", response_model=AssistantOut)
async def patch_assistant(
    assistant_id: str, body: AssistantPatch, rt: RuntimeDep, principal: PrincipalDep
) -> Any:
    row = await assistants.update(
        rt,
        principal,
        assistant_id,
        graph_id=body.graph_id,
        config=body.config,
        context=body.context,
        metadata=body.metadata,
        name=body.name,
        description=body.description,
    )
    return assistant_json(row)


@router.delete("/{assistant_id}", status_code=204)
async def delete_assistant(
    assistant_id: str, rt: RuntimeDep, principal: PrincipalDep, delete_threads: bool = False
) -> Response:
    await assistants.delete(rt, principal, assistant_id, delete_threads=delete_threads)
    return Response(status_code=204)


@router.get("/{assistant_id}/graph")
async def get_assistant_graph(
    assistant_id: str, rt: RuntimeDep, principal: PrincipalDep, xray: bool = False
) -> dict[str, Any]:
    return await graph_info.drawing(rt, principal, assistant_id, xray=xray)


@router.get("/{assistant_id}/schemas", response_model=GraphSchemaOut)
async def get_assistant_schemas(
    assistant_id: str, rt: RuntimeDep, principal: PrincipalDep
) -> dict[str, Any]:
    return await graph_info.schemas(rt, principal, assistant_id)


@router.get("/{assistant_id}/subgraphs", response_model=dict[str, SubgraphSchemaOut])
async def get_assistant_subgraphs(
    assistant_id: str, rt: RuntimeDep, principal: PrincipalDep, recurse: bool = False
) -> dict[str, Any]:
    """Each subgraph's schemas by namespace (``parent|child``); every depth with ``recurse``."""
    return await graph_info.subgraphs(rt, principal, assistant_id, recurse=recurse)


@router.get("/{assistant_id}/subgraphs/{namespace}", response_model=dict[str, SubgraphSchemaOut])
async def get_assistant_subgraphs_at(
    assistant_id: str,
    rt: RuntimeDep,
    principal: PrincipalDep,
    namespace: str = Path(max_length=1000),
    recurse: bool = False,
) -> dict[str, Any]:
    """The subgraph at ``namespace`` (a nested one needs ``recurse``); {} when there is none."""
    return await graph_info.subgraphs(
        rt, principal, assistant_id, namespace=namespace, recurse=recurse
    )
