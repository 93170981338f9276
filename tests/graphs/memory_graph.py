"""A graph with long-term memory: it remembers facts about a user in the store, under
``("memories", user_id)`` (``user_id`` from the run's config, or its context), and answers with
every fact it knows about that user, whichever thread told it."""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.store.base import BaseStore
from typing_extensions import TypedDict


class MemoryState(TypedDict, total=False):
    user_id: str
    remember: str
    memories: list[str]


def _user(state: MemoryState, config: RunnableConfig) -> str:
    configurable = config.get("configurable") or {}
    return str(state.get("user_id") or configurable.get("user_id") or "anonymous")


async def remember(state: MemoryState, config: RunnableConfig, *, store: BaseStore) -> Any:
    namespace = ("memories", _user(state, config))
    fact = state.get("remember")
    if fact:
        known = await store.asearch(namespace, limit=1000)
        await store.aput(namespace, f"fact-{len(known) + 1}", {"text": fact})
    items = await store.asearch(namespace, limit=1000)
    return {"memories": sorted(str(item.value["text"]) for item in items)}


_builder = StateGraph(MemoryState)
_builder.add_node("remember", remember)
_builder.add_edge(START, "remember")
_builder.add_edge("remember", END)
graph = _builder.compile()
