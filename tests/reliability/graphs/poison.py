"""R11's poison graph: ``crash`` in the input makes its node end the process on every attempt
(``os._exit(1)``, as a crash in native code or the OOM killer would); without it the node
just counts."""

from __future__ import annotations

import os
from typing import TypedDict

from langgraph.graph import END, START, StateGraph


class PoisonState(TypedDict, total=False):
    crash: bool
    calls: int


def maybe_crash(state: PoisonState) -> PoisonState:
    if state.get("crash"):
        os._exit(1)
    return {"calls": int(state.get("calls") or 0) + 1}


_poison = StateGraph(PoisonState)
_poison.add_node("maybe_crash", maybe_crash)
_poison.add_edge(START, "maybe_crash")
_poison.add_edge("maybe_crash", END)
graph = _poison.compile()
