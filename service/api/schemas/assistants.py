from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, StrictInt

from service.api.schemas.common import Body, Limit, Offset, SortOrder, iso
from service.models import Assistant, AssistantVersion


class AssistantCreate(Body):
    graph_id: str = Field(min_length=1, max_length=128)
    assistant_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._-]{1,64}$")
    config: dict[str, Any] = Field(default_factory=dict)
    context: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    if_exists: Literal["raise", "do_nothing"] = "raise"
    name: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=10_000)


class AssistantPatch(Body):
    graph_id: str | None = Field(default=None, min_length=1, max_length=128)
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    name: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=10_000)


class AssistantSearch(Body):
    metadata: dict[str, Any] | None = None
    graph_id: str | None = None
    name: str | None = None
    limit: StrictInt = Limit
    offset: StrictInt = Offset
    sort_by: Literal["assistant_id", "graph_id", "name", "created_at", "updated_at"] | None = None
    sort_order: SortOrder | None = None


class AssistantCount(Body):
    metadata: dict[str, Any] | None = None
    graph_id: str | None = None
    name: str | None = None


class AssistantVersionOut(BaseModel):
    """What the assistant was at one version (``POST /assistants/{id}/versions``)."""

    assistant_id: str
    graph_id: str
    config: dict[str, Any]
    context: dict[str, Any]
    metadata: dict[str, Any]
    name: str
    description: str | None
    version: int
    created_at: str


class AssistantOut(AssistantVersionOut):
    updated_at: str


def assistant_version_json(row: Assistant | AssistantVersion) -> dict[str, Any]:
    return {
        "assistant_id": row.assistant_id,
        "graph_id": row.graph_id,
        "config": row.config or {},
        "context": row.context or {},
        "metadata": row.metadata_ or {},
        "name": row.name,
        "description": row.description,
        "version": row.version,
        "created_at": iso(row.created_at),
    }


def assistant_json(row: Assistant) -> dict[str, Any]:
    return {**assistant_version_json(row), "updated_at": iso(row.updated_at)}


class AssistantVersionSearch(Body):
    metadata: dict[str, Any] | None = None
    limit: StrictInt = Limit
    offset: StrictInt = Offset


class AssistantSetLatest(Body):
    version: StrictInt = Field(ge=1, le=2**31 - 1)
