"""What an assistant's graph looks like: schemas, drawing, subgraphs' schemas.

The assistant is read (and the caller authorized) first, so an assistant the caller cannot
read answers like an unknown one. A graph factory's graph is built with the assistant's config
(LangGraph Server's ``assistants.read`` access), since its shape may depend on it.
"""

from __future__ import annotations

from typing import Any

from service.domain.principal import Principal
from service.services import assistants
from service.services.runtime import Runtime


async def schemas(rt: Runtime, principal: Principal, assistant_id: str) -> dict[str, Any]:
    row = await assistants.get(rt, principal, assistant_id)
    return await rt.engine.schemas(row.graph_id, row.config or {})


async def drawing(
    rt: Runtime, principal: Principal, assistant_id: str, *, xray: bool | int
) -> dict[str, Any]:
    row = await assistants.get(rt, principal, assistant_id)
    return await rt.engine.drawable(row.graph_id, xray=xray, config=row.config or {})


async def subgraphs(
    rt: Runtime,
    principal: Principal,
    assistant_id: str,
    *,
    namespace: str | None = None,
    recurse: bool = False,
) -> dict[str, Any]:
    row = await assistants.get(rt, principal, assistant_id)
    return await rt.engine.subgraphs(
        row.graph_id, namespace=namespace, recurse=recurse, config=row.config or {}
    )
