"""Graphs only the tests use: slow steps, a failure, two interrupts pending at once."""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, Any

from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt
from typing_extensions import TypedDict


class SlowState(TypedDict, total=False):
    steps: int
    seconds: float
    done: Annotated[list[int], operator.add]


async def tick(state: SlowState) -> dict[str, Any]:
    await asyncio.sleep(float(state.get("seconds", 0.2)))
    return {"done": [len(state.get("done") or []) + 1]}


def more(state: SlowState) -> str:
    return "tick" if len(state.get("done") or []) < int(state.get("steps", 5)) else END


_slow = StateGraph(SlowState)
_slow.add_node("tick", tick)
_slow.add_edge(START, "tick")
_slow.add_conditional_edges("tick", more, ["tick", END])
slow = _slow.compile()


class FailState(TypedDict, total=False):
    message: str


def explode(state: FailState) -> dict[str, Any]:
    raise ValueError(state.get("message", "boom"))


_failing = StateGraph(FailState)
_failing.add_node("explode", explode)
_failing.add_edge(START, "explode")
_failing.add_edge("explode", END)
failing = _failing.compile()


class DoubleState(TypedDict, total=False):
    answers: Annotated[list[Any], operator.add]


def ask(kind: str) -> Any:
    def node(_state: DoubleState) -> dict[str, Any]:
        return {"answers": [{kind: interrupt({"type": kind, "question": f"approve {kind}?"})}]}

    return node


_double = StateGraph(DoubleState)
_double.add_node("legal", ask("legal_check"))
_double.add_node("finance", ask("finance_check"))
_double.add_edge(START, "legal")
_double.add_edge(START, "finance")
_double.add_edge("legal", END)
_double.add_edge("finance", END)
double_review = _double.compile()
