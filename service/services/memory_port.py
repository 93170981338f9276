"""The port onto LangGraph's store as the use cases see it: each call names the tenant it acts
for, namespaces are the tenant's own (the adapter, ``engine/tenant_store.TenantStores``,
prefixes them with the tenant), answers are JSON-ready (LangGraph Server's shapes)."""

from __future__ import annotations

from typing import Any, Literal, Protocol

Namespace = tuple[str, ...]


class MemoryPort(Protocol):
    async def get(
        self, tenant_id: str, namespace: Namespace, key: str, *, refresh_ttl: bool | None
    ) -> dict[str, Any] | None:
        """The item, or None when there is none (LangGraph Server answers ``null``)."""
        ...

    async def put(
        self,
        tenant_id: str,
        namespace: Namespace,
        key: str,
        value: dict[str, Any],
        *,
        index: Literal[False] | list[str] | None,
        ttl: float | None,
    ) -> None: ...

    async def delete(self, tenant_id: str, namespace: Namespace, key: str) -> None: ...

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
    ) -> list[dict[str, Any]]: ...

    async def list_namespaces(
        self,
        tenant_id: str,
        *,
        prefix: Namespace | None,
        suffix: Namespace | None,
        max_depth: int | None,
        limit: int,
        offset: int,
    ) -> list[list[str]]: ...
