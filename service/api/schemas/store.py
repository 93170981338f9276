"""The store API's bodies and answers, in LangGraph Server's shapes (``client.store``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, StrictBool, StrictFloat, StrictInt

from service.api.schemas.common import Body, Offset


class StorePut(Body):
    namespace: list[str] = Field(max_length=32)
    key: str = Field(min_length=1, max_length=1024)
    value: dict[str, Any]
    index: Literal[False] | list[str] | None = Field(
        default=None, description="Accepted for compatibility; vector search is not supported"
    )
    ttl: StrictFloat | StrictInt | None = Field(
        default=None, gt=0, description="Minutes until the item expires (none: the default)"
    )


class StoreDelete(Body):
    namespace: list[str] = Field(max_length=32)
    key: str = Field(min_length=1, max_length=1024)


class StoreSearch(Body):
    namespace_prefix: list[str] = Field(default_factory=list, max_length=32)
    filter: dict[str, Any] | None = None
    limit: StrictInt = Field(default=10, ge=1, le=1000)
    offset: StrictInt = Offset
    query: str | None = Field(default=None, max_length=2000)
    refresh_ttl: StrictBool | None = None


class StoreNamespaces(Body):
    prefix: list[str] | None = Field(default=None, max_length=32)
    suffix: list[str] | None = Field(default=None, max_length=32)
    max_depth: StrictInt | None = Field(default=None, ge=1, le=32)
    limit: StrictInt = Field(default=100, ge=1, le=1000)
    offset: StrictInt = Offset


class ItemOut(BaseModel):
    namespace: list[str]
    key: str
    value: dict[str, Any]
    created_at: str
    updated_at: str


class SearchItemOut(ItemOut):
    score: float | None = None


class SearchItemsOut(BaseModel):
    items: list[SearchItemOut]


class NamespacesOut(BaseModel):
    namespaces: list[list[str]]
