"""Graphs only the tests use: a parent whose compiled subgraph (which holds another one) asks a
reviewer with ``interrupt()``, and graph factories that build their graph per run."""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt
from langgraph_sdk.runtime import ServerRuntime
from typing_extensions import TypedDict


class StampState(TypedDict, total=False):
    steps: list[str]


def stamp(state: StampState) -> dict[str, Any]:
    return {"steps": [*state.get("steps", []), "stamped"]}


_stamper = StateGraph(StampState)
_stamper.add_node("stamp", stamp)
_stamper.add_edge(START, "stamp")
_stamper.add_edge("stamp", END)
stamper = _stamper.compile()


class ChildState(TypedDict, total=False):
    steps: list[str]
    verdict: str


def prepare(state: ChildState) -> dict[str, Any]:
    return {"steps": [*state.get("steps", []), "prepared"]}


def review(state: ChildState) -> dict[str, Any]:
    answer = interrupt({"question": "approve the steps?", "steps": state.get("steps", [])})
    return {"steps": [*state.get("steps", []), f"reviewed:{answer}"], "verdict": str(answer)}


_child = StateGraph(ChildState)
_child.add_node("prepare", prepare)
_child.add_node("grandchild", stamper)
_child.add_node("review", review)
_child.add_edge(START, "prepare")
_child.add_edge("prepare", "grandchild")
_child.add_edge("grandchild", "review")
_child.add_edge("review", END)
child = _child.compile()


class ParentState(TypedDict, total=False):
    steps: list[str]
    verdict: str
    done: bool


def begin(state: ParentState) -> dict[str, Any]:
    return {"steps": [*state.get("steps", []), "begun"]}


def finish(state: ParentState) -> dict[str, Any]:
    return {"done": True}


_parent = StateGraph(ParentState)
_parent.add_node("begin", begin)
_parent.add_node("child", child)
_parent.add_node("finish", finish)
_parent.add_edge(START, "begin")
_parent.add_edge("begin", "child")
_parent.add_edge("child", "finish")
_parent.add_edge("finish", END)
nested_review = _parent  # compiled by the service with its checkpointer


class GreetState(TypedDict, total=False):
    name: str
    message: str
    access: str
    context: Any


def make_graph(config: RunnableConfig) -> Any:
    """A factory: the greeting comes from the run's ``configurable``; ``explode`` makes it
    fail while building the graph."""
    configurable = config.get("configurable") or {}
    if configurable.get("explode"):
        raise RuntimeError("the factory refused to build")
    greeting = str(configurable.get("greeting", "hello"))

    def greet(state: GreetState) -> dict[str, Any]:
        return {"message": f"{greeting}, {state.get('name', 'world')}"}

    builder = StateGraph(GreetState)
    builder.add_node("greet", greet)
    builder.add_edge(START, "greet")
    builder.add_edge("greet", END)
    return builder.compile()


async def make_graph_with_runtime(runtime: ServerRuntime) -> Any:
    """An async factory taking LangGraph Server's runtime argument: what the run reports shows
    why the graph was built and the run's context."""
    access = runtime.access_context
    execution = runtime.execution_runtime
    context = execution.context if execution is not None else None

    def report(state: GreetState) -> dict[str, Any]:
        return {"access": access, "context": context}

    builder = StateGraph(GreetState)
    builder.add_node("report", report)
    builder.add_edge(START, "report")
    builder.add_edge("report", END)
    return builder
