from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field, StrictBool

from service.api.schemas.common import Body, iso
from service.api.schemas.runs import RunOut, run_json
from service.api.schemas.threads import ThreadStatusName
from service.domain.interrupts import (
    TYPE_JOIN,
    InboxEntry,
    InterruptKind,
    InterruptStatus,
    ReviewKind,
    classify,
)
from service.models import Interrupt, Run, Thread
from service.services.inbox import Reach


class DecisionBody(Body):
    """An answer to one pending interrupt, bound to the payload the reviewer saw.

    ``decision`` is an Agent Inbox ``HumanResponse`` (``{"type": "accept" | "edit" |
    "response" | "ignore", "args": ...}``, or a one-item list of them) for Agent Inbox
    interrupts, or any JSON value for raw ones.
    """

    decision: Any
    payload_hash: str = Field(min_length=64, max_length=64, pattern=r"^[0-9a-f]{64}$")
    checkpoint_id: str | None = Field(default=None, max_length=64)


class ThreadDecision(DecisionBody):
    interrupt: str = Field(min_length=1, max_length=36, description="the inbox item id")


class ThreadDecisions(Body):
    decisions: list[ThreadDecision] = Field(min_length=1, max_length=100)


class SettingsPatch(Body):
    four_eyes: StrictBool | None = None
    interrupt_expiry: dict[str, Any] | None = None


class InboxThread(BaseModel):
    thread_id: str
    owner: str
    status: ThreadStatusName
    metadata: dict[str, Any]


class InboxAction(BaseModel):
    name: str
    args: Any
    description: str | None
    allowed_decisions: list[str]
    args_schema: dict[str, Any] | None = Field(
        default=None, description="the JSON schema edited args must match, when the tool has one"
    )
    can_decide: bool
    can_edit: bool


class InboxItem(BaseModel):
    id: str
    thread_id: str
    interrupt_id: str
    task_id: str
    node: str
    run_id: str | None
    graph_id: str
    type: str
    status: InterruptStatus
    description: str | None
    value: Any
    agent_inbox: bool
    allowed_decisions: list[str]
    payload_hash: str
    checkpoint_id: str | None
    created_at: str
    expires_at: str | None
    age_seconds: float
    kind: ReviewKind = Field(description="the shape the interrupt was recognised as")
    actions: list[InboxAction] = Field(
        default_factory=list, description="the tool calls of a LangChain request, in order"
    )
    can_decide: bool
    can_edit: bool
    thread: InboxThread


class ResolvedOut(BaseModel):
    id: str
    interrupt_id: str
    status: InterruptStatus
    resolved_by: str | None
    resolved_at: str | None
    decision: Any


class DecisionOut(BaseModel):
    """A decision's answer: the resume run it started, and the interrupts it answered."""

    run: RunOut
    interrupts: list[ResolvedOut]


class InboxPageOut(BaseModel):
    items: list[InboxItem]
    next_cursor: str | None


def entry_of(row: Interrupt, thread: Thread) -> InboxEntry:
    """The inbox view of an interrupt loaded with its thread (one item's page)."""
    return InboxEntry(
        row.id,
        row.thread_id,
        row.interrupt_id,
        row.task_id,
        row.node,
        row.run_id,
        row.graph_id,
        row.type,
        row.status,
        row.description,
        row.value,
        row.agent_inbox,
        list(row.allowed),
        row.payload_hash,
        row.checkpoint_id,
        row.created_at,
        row.expires_at,
        thread.owner,
        thread.status,
        thread.metadata_ or {},
    )


def _actions(entry: InboxEntry, kind: InterruptKind, who: Reach) -> list[dict[str, Any]]:
    """Every tool call a LangChain request asks about, with what the caller may do to it."""
    pending = entry.status == "pending"
    single = kind.kind is ReviewKind.tool_approval  # its decisions are the row's (schema)
    return [
        {
            "name": action.name,
            "args": action.args,
            "description": action.description,
            "allowed_decisions": list(entry.allowed if single else action.allowed),
            "args_schema": action.args_schema,
            "can_decide": pending and who.can_decide(action.name, entry.owner),
            "can_edit": pending and who.can_edit(action.name, entry.owner),
        }
        for action in kind.actions
    ]


def item_json(entry: InboxEntry, who: Reach) -> dict[str, Any]:
    pending = entry.status == "pending"
    kind = classify(entry.value)
    types = TYPE_JOIN.join(kind.types)  # a batch needs every one of its tools
    actions = _actions(entry, kind, who)
    return {
        "id": entry.id,
        "thread_id": entry.thread_id,
        "interrupt_id": entry.interrupt_id,
        "task_id": entry.task_id,
        "node": entry.node,
        "run_id": entry.run_id,
        "graph_id": entry.graph_id,
        "type": entry.type,
        "status": entry.status,
        "description": entry.description,
        "value": entry.value,
        "agent_inbox": entry.agent_inbox,
        "allowed_decisions": list(entry.allowed),
        "payload_hash": entry.payload_hash,
        "checkpoint_id": entry.checkpoint_id,
        "created_at": iso(entry.created_at),
        "expires_at": iso(entry.expires_at),
        "age_seconds": round((datetime.now(UTC) - entry.created_at).total_seconds(), 3),
        "kind": kind.kind.value,
        "actions": actions,
        "can_decide": pending and who.can_decide(types, entry.owner),
        "can_edit": pending
        and (any(a["can_edit"] for a in actions) if actions else who.can_edit(types, entry.owner)),
        "thread": {
            "thread_id": entry.thread_id,
            "owner": entry.owner,
            "status": entry.thread_status,
            "metadata": entry.thread_metadata or {},
        },
    }


def resolved_json(row: Interrupt) -> dict[str, Any]:
    return {
        "id": row.id,
        "interrupt_id": row.interrupt_id,
        "status": row.status,
        "resolved_by": row.resolved_by,
        "resolved_at": iso(row.resolved_at),
        "decision": row.decision,
    }


def decision_json(run: Run, rows: list[Interrupt]) -> dict[str, Any]:
    return {"run": run_json(run), "interrupts": [resolved_json(r) for r in rows]}
