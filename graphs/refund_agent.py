"""Refund agent (StateGraph): proposes a refund, pauses for a human, applies the decision.

Deterministic, no LLM and no network. The pause is an Agent Inbox ``HumanInterrupt``:
``{action_request: {action: "refund", args}, config: {allow_*}, description}``; the
resume value is a ``HumanResponse`` (or a one-item list of them, as Agent Inbox sends):
``accept`` refunds the proposed amount, ``edit`` refunds the edited args, ``response``
records the reviewer's note and refunds nothing, ``ignore`` drops the request.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any

from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt
from typing_extensions import TypedDict

AUTO_APPROVE_BELOW = 0  # every refund needs a human in the demo


class RefundState(TypedDict, total=False):
    request: dict[str, Any]
    proposal: dict[str, Any]
    decision: dict[str, Any]
    refunds: Annotated[list[dict[str, Any]], operator.add]
    log: Annotated[list[str], operator.add]
    outcome: str


def plan(state: RefundState) -> dict[str, Any]:
    request = state.get("request") or {}
    amount = float(request.get("amount", 0))
    args = {
        "order_id": str(request.get("order_id", "unknown")),
        "amount": amount,
        "currency": str(request.get("currency", "EUR")),
    }
    return {
        "proposal": {"action": "refund", "args": args},
        "log": [f"planned refund of {amount:.2f} {args['currency']} for {args['order_id']}"],
    }


def review(state: RefundState) -> dict[str, Any]:
    proposal = state["proposal"]
    request = state.get("request") or {}
    answer = interrupt(
        {
            "action_request": {"action": proposal["action"], "args": proposal["args"]},
            "config": {
                "allow_accept": True,
                "allow_edit": True,
                "allow_respond": True,
                "allow_ignore": True,
            },
            "description": (
                f"Customer {request.get('customer', 'unknown')} asks for a refund: "
                f"{request.get('reason', 'no reason given')}"
            ),
        }
    )
    if isinstance(answer, list) and answer:
        answer = answer[0]
    if not isinstance(answer, dict) or answer.get("type") not in {
        "accept",
        "edit",
        "response",
        "ignore",
    }:
        answer = {"type": "response", "args": answer}
    return {"decision": answer, "log": [f"reviewer decided: {answer['type']}"]}


def act(state: RefundState) -> dict[str, Any]:
    decision = state["decision"]
    kind = decision["type"]
    if kind == "accept":
        args = state["proposal"]["args"]
    elif kind == "edit":
        edited = decision.get("args") or {}
        args = edited.get("args", edited) if isinstance(edited, dict) else {}
    else:
        outcome = "declined with note" if kind == "response" else "ignored"
        return {"outcome": outcome, "log": [f"no refund issued ({outcome})"]}
    refund = {
        "order_id": args.get("order_id"),
        "amount": float(args.get("amount", 0)),
        "currency": args.get("currency", "EUR"),
    }
    return {
        "refunds": [refund],
        "outcome": "refunded",
        "log": [f"refunded {refund['amount']:.2f} {refund['currency']} for {refund['order_id']}"],
    }


builder = StateGraph(RefundState)
builder.add_node("plan", plan)
builder.add_node("review", review)
builder.add_node("act", act)
builder.add_edge(START, "plan")
builder.add_edge("plan", "review")
builder.add_edge("review", "act")
builder.add_edge("act", END)

graph = builder.compile()
