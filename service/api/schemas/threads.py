from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StrictBool, StrictFloat, StrictInt

from service.api.schemas.common import Body, Limit, Offset, SortOrder, iso
from service.domain.thread_ttl import ThreadTtl
from service.services.threads import ThreadView

ThreadStatusName = Literal["idle", "busy", "interrupted", "error"]


# minutes of a thread's time to live: more than none, at most a century
Minutes = Annotated[StrictFloat | StrictInt, Field(gt=0, le=52_596_000)]


class ThreadTtlIn(Body):
    """``ttl`` as the SDKs send it; a bare number of minutes means ``delete``."""

    ttl: Minutes
    strategy: Literal["delete", "keep_latest"] = "delete"


def thread_ttl(value: ThreadTtlIn | float | None) -> ThreadTtl | None:
    if value is None:
        return None
    if isinstance(value, ThreadTtlIn):
        return ThreadTtl(value.strategy, float(value.ttl))
    return ThreadTtl("delete", float(value))


class ThreadCreate(Body):
    thread_id: str | None = Field(default=None, max_length=200)
    metadata: dict[str, Any] = Field(default_factory=dict)
    if_exists: Literal["raise", "do_nothing"] = "raise"
    ttl: ThreadTtlIn | Minutes | None = None


class ThreadPatch(Body):
    metadata: dict[str, Any] = Field(default_factory=dict)
    ttl: ThreadTtlIn | Minutes | None = None


class ThreadSearch(Body):
    ids: list[str] | None = Field(default=None, max_length=1000)
    metadata: dict[str, Any] | None = None
    values: dict[str, Any] | None = None
    status: ThreadStatusName | None = None
    limit: StrictInt = Limit
    offset: StrictInt = Offset
    sort_by: (
        Literal["thread_id", "status", "created_at", "updated_at", "state_updated_at"] | None
    ) = None
    sort_order: SortOrder | None = None


class ThreadCount(Body):
    metadata: dict[str, Any] | None = None
    values: dict[str, Any] | None = None
    status: ThreadStatusName | None = None


class CheckpointRef(Body):
    checkpoint_id: str | None = Field(default=None, max_length=64)
    checkpoint_ns: str | None = Field(default="", max_length=1000)
    thread_id: str | None = None


class StateUpdate(Body):
    values: Any = None
    as_node: str | None = Field(default=None, max_length=128)
    checkpoint: CheckpointRef | None = None
    checkpoint_id: str | None = Field(default=None, max_length=64)

    def target_checkpoint(self) -> str | None:
        return self.checkpoint_id or (self.checkpoint.checkpoint_id if self.checkpoint else None)


class StateAtCheckpoint(Body):
    checkpoint: CheckpointRef
    subgraphs: StrictBool = False


class HistoryQuery(Body):
    limit: StrictInt = Limit
    before: CheckpointRef | str | None = None
    metadata: dict[str, Any] | None = None
    checkpoint: CheckpointRef | None = None

    def before_id(self) -> str | None:
        if isinstance(self.before, CheckpointRef):
            return self.before.checkpoint_id
        return self.before


class InterruptOut(BaseModel):
    id: str
    value: Any


class ThreadTtlOut(BaseModel):
    strategy: Literal["delete", "keep_latest"]
    ttl_minutes: float
    expires_at: str | None  # None: a ``keep_latest`` thread pruned, until it is used again


class ThreadOut(BaseModel):
    thread_id: str
    created_at: str
    updated_at: str
    state_updated_at: str
    metadata: dict[str, Any]
    status: ThreadStatusName
    config: dict[str, Any]
    values: Any
    error: Any
    interrupts: dict[str, list[InterruptOut]]
    ttl: ThreadTtlOut | None = None


class ThreadStateOut(BaseModel):
    values: Any
    next: list[str]
    tasks: list[dict[str, Any]]
    metadata: dict[str, Any]
    created_at: str | None
    checkpoint: dict[str, Any] | None
    parent_checkpoint: dict[str, Any] | None
    interrupts: list[InterruptOut]
    checkpoint_id: str | None
    parent_checkpoint_id: str | None


class StateUpdateOut(BaseModel):
    checkpoint: dict[str, Any]
    configurable: dict[str, Any]
    checkpoint_id: str | None


def thread_json(view: ThreadView) -> dict[str, Any]:
    row = view.thread
    return {
        "thread_id": row.thread_id,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
        "state_updated_at": iso(row.state_updated_at),
        "metadata": row.metadata_ or {},
        "status": row.status,
        "config": row.config or {},
        "values": row.values,
        "error": row.error,
        "interrupts": view.interrupts,
        "ttl": None
        if row.ttl_minutes is None
        else {
            "strategy": row.ttl_strategy,
            "ttl_minutes": row.ttl_minutes,
            "expires_at": iso(row.expires_at) if row.expires_at else None,
        },
    }


class ThreadPrune(Body):
    thread_ids: list[str] = Field(max_length=1000)
    strategy: Literal["delete", "keep_latest"] = "delete"


class ThreadPruneOut(BaseModel):
    pruned_count: int
