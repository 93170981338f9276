"""LangGraph's store, scoped to one tenant: every namespace is prefixed on the way in and
stripped on the way out, so a caller names only namespaces of its own tenant.

``TenantStore`` wraps the service's one LangGraph store (``store_backends``) for a tenant
named up front (the store API). ``GraphStore`` is what every compiled graph holds as its
``store``: it finds the tenant of the run it serves from the run's config (the thread id is
``tenant:session``), at the moment a node calls it, so a graph that never touches the store
costs nothing, and a store used outside a run refuses. ``TenantStores`` is the services'
port (``services/memory_port.py``): plain values in, JSON-ready values out.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Literal, cast

from langgraph.config import get_config
from langgraph.store.base import (
    NOT_PROVIDED,
    BaseStore,
    GetOp,
    InvalidNamespaceError,
    Item,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
)

from service.errors import InvalidInput

Namespace = tuple[str, ...]


def _scoped(tenant_id: str, op: Op) -> Op:
    """The op as the underlying store sees it: every namespace under ``(tenant_id,)``."""
    if isinstance(op, (GetOp, PutOp)):
        if not op.namespace:
            raise InvalidNamespaceError("Namespace cannot be empty.")
        return op._replace(namespace=(tenant_id, *op.namespace))
    if isinstance(op, SearchOp):
        return op._replace(namespace_prefix=(tenant_id, *op.namespace_prefix))
    if isinstance(op, ListNamespacesOp):
        conditions = list(op.match_conditions or ())
        prefixes = [c for c in conditions if c.match_type == "prefix"]
        others = [c for c in conditions if c.match_type != "prefix"]
        if prefixes:
            scoped = [c._replace(path=(tenant_id, *c.path)) for c in prefixes]
        else:
            scoped = [MatchCondition(match_type="prefix", path=(tenant_id,))]
        depth = None if op.max_depth is None else op.max_depth + 1
        return op._replace(match_conditions=tuple(scoped + others), max_depth=depth)
    raise TypeError(f"unknown store operation {type(op).__name__}")


def _strip(item: Item) -> Item:
    namespace = tuple(item.namespace[1:])
    if isinstance(item, SearchItem):
        return SearchItem(
            namespace, item.key, item.value, item.created_at, item.updated_at, item.score
        )
    return Item(
        value=item.value,
        key=item.key,
        namespace=namespace,
        created_at=item.created_at,
        updated_at=item.updated_at,
    )


def _unscoped(result: Result) -> Result:
    """A result as the tenant sees it: its own namespaces, without the prefix."""
    if isinstance(result, Item):
        return _strip(result)
    if isinstance(result, list):
        return cast(
            Result,
            [
                _strip(entry) if isinstance(entry, Item) else tuple(entry[1:])  # a namespace
                for entry in result
            ],
        )
    return result


class TenantStore(BaseStore):
    """The underlying store as one tenant sees it (TTL settings are the underlying store's)."""

    supports_ttl = True

    def __init__(self, inner: BaseStore, tenant_id: str) -> None:
        self.inner = inner
        self.tenant_id = tenant_id
        self.ttl_config = inner.ttl_config

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        results = self.inner.batch([_scoped(self.tenant_id, op) for op in ops])
        return [_unscoped(result) for result in results]

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        results = await self.inner.abatch([_scoped(self.tenant_id, op) for op in ops])
        return [_unscoped(result) for result in results]


def _run_tenant() -> str:
    """The tenant of the run this call is made in (its thread id is ``tenant:session``)."""
    try:
        thread_id = str(get_config().get("configurable", {}).get("thread_id") or "")
    except RuntimeError:
        thread_id = ""
    tenant_id, sep, _ = thread_id.partition(":")
    if not sep or not tenant_id:
        raise RuntimeError("the store is available to a graph only inside one of its runs")
    return tenant_id


class GraphStore(BaseStore):
    """The store every graph is compiled with: the tenant's store of the run calling it."""

    supports_ttl = True

    def __init__(self, inner: BaseStore) -> None:
        self.inner = inner
        self.ttl_config = inner.ttl_config

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        return TenantStore(self.inner, _run_tenant()).batch(ops)

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        return await TenantStore(self.inner, _run_tenant()).abatch(ops)


def _iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def item_json(item: Item) -> dict[str, Any]:
    body: dict[str, Any] = {
        "namespace": list(item.namespace),
        "key": item.key,
        "value": item.value,
        "created_at": _iso(item.created_at),
        "updated_at": _iso(item.updated_at),
    }
    if isinstance(item, SearchItem):
        body["score"] = item.score
    return body


class TenantStores:
    """The services' port onto the store: each call names the tenant it acts for."""

    def __init__(self, inner: BaseStore) -> None:
        self.inner = inner
        self.graph_store = GraphStore(inner)

    def _of(self, tenant_id: str) -> TenantStore:
        return TenantStore(self.inner, tenant_id)

    async def get(
        self, tenant_id: str, namespace: Namespace, key: str, *, refresh_ttl: bool | None
    ) -> dict[str, Any] | None:
        with _invalid_namespace():
            item = await self._of(tenant_id).aget(namespace, key, refresh_ttl=refresh_ttl)
        return None if item is None else item_json(item)

    async def put(
        self,
        tenant_id: str,
        namespace: Namespace,
        key: str,
        value: dict[str, Any],
        *,
        index: Literal[False] | list[str] | None,
        ttl: float | None,
    ) -> None:
        ttl_given = NOT_PROVIDED if ttl is None else ttl  # none given: the default TTL
        with _invalid_namespace():
            await self._of(tenant_id).aput(namespace, key, value, index=index, ttl=ttl_given)

    async def delete(self, tenant_id: str, namespace: Namespace, key: str) -> None:
        with _invalid_namespace():
            await self._of(tenant_id).adelete(namespace, key)

    async def search(
        self,
        tenant_id: str,
        namespace_prefix: Namespace,
        *,
        filter: dict[str, Any] | None,
        limit: int,
        offset: int,
        query: str | None,
        refresh_ttl: bool | None,
    ) -> list[dict[str, Any]]:
        with _invalid_namespace():
            items = await self._of(tenant_id).asearch(
                namespace_prefix,
                filter=filter,
                limit=limit,
                offset=offset,
                query=query,
                refresh_ttl=refresh_ttl,
            )
        return [item_json(item) for item in items]

    async def list_namespaces(
        self,
        tenant_id: str,
        *,
        prefix: Namespace | None,
        suffix: Namespace | None,
        max_depth: int | None,
        limit: int,
        offset: int,
    ) -> list[list[str]]:
        with _invalid_namespace():
            found = await self._of(tenant_id).alist_namespaces(
                prefix=prefix, suffix=suffix, max_depth=max_depth, limit=limit, offset=offset
            )
        return [list(namespace) for namespace in found]


@contextmanager
def _invalid_namespace() -> Iterator[None]:
    """LangGraph's namespace errors are the caller's bad input (422)."""
    try:
        yield
    except InvalidNamespaceError as exc:
        raise InvalidInput(str(exc)) from exc
