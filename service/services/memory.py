"""The store API (LangGraph Server's ``/store``): a tenant's long-term memory, the same store
its graphs read and write in their runs.

Every namespace is the caller's tenant's: the port prefixes it with the tenant on the way in
and strips it on the way out, so no namespace a client names reaches another tenant, and an
item of another tenant is as unknown as one never written. Permissions: ``store read`` to
get, search and list; ``store write`` to put and delete.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from service.domain.principal import Principal
from service.errors import InvalidInput, Unavailable
from service.services.memory_port import MemoryPort, Namespace
from service.services.runtime import Runtime

MAX_LABELS = 32
MAX_LABEL_CHARS = 256
MAX_KEY_CHARS = 1024
# what LangGraph's stores take as a filter's field (SQLite's rule, applied on both backends)
FILTER_FIELD = re.compile(r"^[A-Za-z0-9_.-]{1,256}$")
FILTER_OPERATORS = frozenset({"$eq", "$ne", "$gt", "$gte", "$lt", "$lte"})


def _port(rt: Runtime) -> MemoryPort:
    if rt.memory is None:
        raise Unavailable("The store is not available.")
    return rt.memory


def check_namespace(labels: Any, *, what: str = "namespace", empty: bool = False) -> Namespace:
    """A namespace as LangGraph's stores take it: labels that are non-empty strings without
    '.' (the separator the stores join them with); empty only where a prefix may be."""
    if not isinstance(labels, (list, tuple)) or not all(isinstance(x, str) for x in labels):
        raise InvalidInput(f"{what} must be a list of strings")
    if not labels and not empty:
        raise InvalidInput(f"{what} must not be empty")
    if len(labels) > MAX_LABELS:
        raise InvalidInput(f"{what} has more than {MAX_LABELS} labels")
    for label in labels:
        if not label or "." in label or "\x00" in label or len(label) > MAX_LABEL_CHARS:
            raise InvalidInput(
                f"{what} labels are 1-{MAX_LABEL_CHARS} characters without '.': got {label!r}"
            )
    return tuple(labels)


def check_filter(filter: dict[str, Any] | None) -> dict[str, Any] | None:
    """A search filter LangGraph's stores take: fields of letters, digits, '_', '.' and '-';
    a field's value is matched as is, or a dict of comparisons (``{"$gt": 3}``)."""
    for field, value in (filter or {}).items():
        if not FILTER_FIELD.match(field):
            raise InvalidInput(
                f"filter fields are 1-256 letters, digits, '_', '.' or '-': got {field!r}"
            )
        if isinstance(value, dict) and not set(value) <= FILTER_OPERATORS:
            wrong = sorted(set(value) - FILTER_OPERATORS)
            raise InvalidInput(
                f"filter operators are {', '.join(sorted(FILTER_OPERATORS))}: {wrong}"
            )
    return filter


def check_key(key: str) -> str:
    if not key or len(key) > MAX_KEY_CHARS or "\x00" in key:
        raise InvalidInput(f"key must be 1-{MAX_KEY_CHARS} characters")
    return key


async def get_item(
    rt: Runtime, principal: Principal, namespace: Namespace, key: str, *, refresh_ttl: bool | None
) -> dict[str, Any] | None:
    """The item, or None: a key nobody put (in the caller's tenant: nothing else is named)."""
    await rt.authz.require(principal, "store", "read")
    return await _port(rt).get(principal.tenant_id, namespace, key, refresh_ttl=refresh_ttl)


async def put_item(
    rt: Runtime,
    principal: Principal,
    namespace: Namespace,
    key: str,
    value: dict[str, Any],
    *,
    index: Literal[False] | list[str] | None = None,
    ttl: float | None = None,
) -> None:
    await rt.authz.require(principal, "store", "write")
    await _port(rt).put(principal.tenant_id, namespace, key, value, index=index, ttl=ttl)


async def delete_item(rt: Runtime, principal: Principal, namespace: Namespace, key: str) -> None:
    await rt.authz.require(principal, "store", "write")
    await _port(rt).delete(principal.tenant_id, namespace, key)


async def search_items(
    rt: Runtime,
    principal: Principal,
    namespace_prefix: Namespace,
    *,
    filter: dict[str, Any] | None = None,
    limit: int = 10,
    offset: int = 0,
    query: str | None = None,
    refresh_ttl: bool | None = None,
) -> list[dict[str, Any]]:
    await rt.authz.require(principal, "store", "read")
    return await _port(rt).search(
        principal.tenant_id,
        namespace_prefix,
        filter=check_filter(filter),
        limit=min(limit, rt.limits.list_cap),
        offset=offset,
        query=query,
        refresh_ttl=refresh_ttl,
    )


async def list_namespaces(
    rt: Runtime,
    principal: Principal,
    *,
    prefix: Namespace | None = None,
    suffix: Namespace | None = None,
    max_depth: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[list[str]]:
    await rt.authz.require(principal, "store", "read")
    return await _port(rt).list_namespaces(
        principal.tenant_id,
        prefix=prefix,
        suffix=suffix,
        max_depth=max_depth,
        limit=min(limit, rt.limits.list_cap),
        offset=offset,
    )
