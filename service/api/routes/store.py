"""The store (LangGraph Server's ``/store``): the caller's tenant's long-term memory."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Response

from service.api.deps import PrincipalDep, RuntimeDep
from service.api.schemas.store import (
    ItemOut,
    NamespacesOut,
    SearchItemsOut,
    StoreDelete,
    StoreNamespaces,
    StorePut,
    StoreSearch,
)
from service.services import memory

router = APIRouter(prefix="/store", tags=["store"])


@router.put("/items", status_code=204)
async def put_item(body: StorePut, rt: RuntimeDep, principal: PrincipalDep) -> Response:
    namespace = memory.check_namespace(body.namespace)
    await memory.put_item(
        rt,
        principal,
        namespace,
        memory.check_key(body.key),
        body.value,
        index=body.index,
        ttl=body.ttl,
    )
    return Response(status_code=204)


@router.get("/items", response_model=ItemOut | None)
async def get_item(
    rt: RuntimeDep,
    principal: PrincipalDep,
    key: str = Query(min_length=1, max_length=1024),
    namespace: str = Query(default="", max_length=8192, description="labels joined by '.'"),
    refresh_ttl: bool | None = Query(default=None),
) -> Any:
    labels = memory.check_namespace(namespace.split(".") if namespace else [])
    return await memory.get_item(
        rt, principal, labels, memory.check_key(key), refresh_ttl=refresh_ttl
    )


@router.delete("/items", status_code=204)
async def delete_item(body: StoreDelete, rt: RuntimeDep, principal: PrincipalDep) -> Response:
    namespace = memory.check_namespace(body.namespace)
    await memory.delete_item(rt, principal, namespace, memory.check_key(body.key))
    return Response(status_code=204)


@router.post("/items/search", response_model=SearchItemsOut)
async def search_items(body: StoreSearch, rt: RuntimeDep, principal: PrincipalDep) -> Any:
    prefix = memory.check_namespace(body.namespace_prefix, what="namespace_prefix", empty=True)
    items = await memory.search_items(
        rt,
        principal,
        prefix,
        filter=body.filter,
        limit=body.limit,
        offset=body.offset,
        query=body.query,
        refresh_ttl=body.refresh_ttl,
    )
    return {"items": items}


@router.post("/namespaces", response_model=NamespacesOut)
async def list_namespaces(body: StoreNamespaces, rt: RuntimeDep, principal: PrincipalDep) -> Any:
    prefix = suffix = None
    if body.prefix:
        prefix = memory.check_namespace(body.prefix, what="prefix", empty=True)
    if body.suffix:
        suffix = memory.check_namespace(body.suffix, what="suffix", empty=True)
    namespaces = await memory.list_namespaces(
        rt,
        principal,
        prefix=prefix,
        suffix=suffix,
        max_depth=body.max_depth,
        limit=body.limit,
        offset=body.offset,
    )
    return {"namespaces": namespaces}
