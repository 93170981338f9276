"""LangGraph state snapshots as JSON, in the LangGraph Server ``ThreadState`` shape.

A task of a subgraph carries the subgraph's own snapshot when the state was read with
``subgraphs=True`` (its values, next nodes, tasks and interrupts, converted the same way, at any
depth); without it, a reference to the subgraph's checkpoint.
"""

from __future__ import annotations

import logging
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.types import StateSnapshot
from pydantic import TypeAdapter

from service.domain.runs import InterruptSnapshot
from service.engine.jsonable import jsonable

log = logging.getLogger(__name__)


def checkpoint_ref(config: RunnableConfig | None) -> dict[str, Any] | None:
    if not config:
        return None
    conf = config.get("configurable", {})
    if not conf.get("checkpoint_id"):
        return None
    return {
        "thread_id": conf.get("thread_id"),
        "checkpoint_ns": conf.get("checkpoint_ns", ""),
        "checkpoint_id": conf.get("checkpoint_id"),
    }


def _subgraph_ref(config: RunnableConfig) -> dict[str, Any] | None:
    """Where a subgraph task keeps its state (its namespace; the checkpoint once it has one)."""
    conf = config.get("configurable", {})
    if not conf.get("checkpoint_ns"):
        return None
    ref = {"thread_id": conf.get("thread_id"), "checkpoint_ns": conf["checkpoint_ns"]}
    return {**ref, "checkpoint_id": conf["checkpoint_id"]} if conf.get("checkpoint_id") else ref


def _interrupt_json(interrupt: Any) -> dict[str, Any]:
    return {"id": interrupt.id, "value": jsonable(interrupt.value)}


def snapshot_json(snapshot: StateSnapshot) -> dict[str, Any]:
    """A ``StateSnapshot`` in the LangGraph Server ``ThreadState`` shape."""
    checkpoint = checkpoint_ref(snapshot.config)
    parent = checkpoint_ref(snapshot.parent_config)
    tasks = []
    for task in snapshot.tasks:
        state = task.state
        tasks.append(
            {
                "id": task.id,
                "name": task.name,
                "path": jsonable(task.path),
                "error": repr(task.error) if task.error else None,
                "interrupts": [_interrupt_json(i) for i in task.interrupts],
                "checkpoint": _subgraph_ref(state) if isinstance(state, dict) else None,
                "state": snapshot_json(state) if isinstance(state, StateSnapshot) else None,
                "result": jsonable(task.result),
            }
        )
    return {
        "values": jsonable(snapshot.values),
        "next": list(snapshot.next),
        "tasks": tasks,
        "metadata": jsonable(snapshot.metadata or {}),
        "created_at": snapshot.created_at,
        "checkpoint": checkpoint or {"thread_id": None, "checkpoint_ns": "", "checkpoint_id": None},
        "parent_checkpoint": parent,
        "interrupts": [_interrupt_json(i) for i in snapshot.interrupts],
        "checkpoint_id": checkpoint["checkpoint_id"] if checkpoint else None,
        "parent_checkpoint_id": parent["checkpoint_id"] if parent else None,
    }


def pending_interrupts(snapshot: StateSnapshot) -> list[InterruptSnapshot]:
    """The interrupts still waiting for an answer, with the task that raised each."""
    waiting = {i.id for i in snapshot.interrupts}
    found = []
    for task in snapshot.tasks:
        for interrupt in task.interrupts:
            if interrupt.id in waiting:
                waiting.discard(interrupt.id)
                found.append(
                    InterruptSnapshot(
                        interrupt_id=interrupt.id,
                        task_id=task.id,
                        node=task.name,
                        value=jsonable(interrupt.value),
                        response_schema=_json_schema(getattr(interrupt, "response_schema", None)),
                    )
                )
    return found


def _json_schema(schema: Any) -> dict[str, Any] | None:
    """An interrupt's ``response_schema`` as JSON schema (a checkpoint already holds it so;
    a Python type, as ``interrupt()`` takes it, is converted)."""
    if schema is None:
        return None
    if isinstance(schema, dict):
        return dict(jsonable(schema))
    try:
        return dict(TypeAdapter(schema).json_schema())
    except Exception:  # not a type pydantic can describe: nothing to enforce
        log.info("response_schema of type %s has no JSON schema", type(schema).__name__)
        return None
