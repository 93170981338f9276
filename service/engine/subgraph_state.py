"""Reading a thread's state with its subgraphs: ``subgraphs=True`` puts each subgraph task's own
snapshot in the task (``snapshots.snapshot_json`` converts it at any depth), and a
``checkpoint_ns`` (``child:<task id>``, as a subgraph's checkpoint reference names it) reads the
state or history of that subgraph instead of the root graph's."""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.pregel import Pregel
from langgraph.types import StateSnapshot

from service.engine.snapshots import snapshot_json
from service.errors import NotFound


async def read(
    graph: Pregel[Any, Any], configurable: dict[str, Any], *, subgraphs: bool
) -> StateSnapshot:
    snapshot = await graph.aget_state({"configurable": configurable}, subgraphs=subgraphs)
    if configurable.get("checkpoint_ns") and snapshot.created_at is None:
        # a namespace no subgraph of this thread has written (LangGraph reads it as empty)
        raise NotFound("Checkpoint not found.")
    return snapshot


async def history(
    graph: Pregel[Any, Any],
    configurable: dict[str, Any],
    *,
    filter: dict[str, Any] | None,
    before: RunnableConfig | None,
    limit: int,
) -> list[dict[str, Any]]:
    return [
        snapshot_json(snapshot)
        async for snapshot in graph.aget_state_history(
            {"configurable": configurable}, filter=filter, before=before, limit=limit
        )
    ]
