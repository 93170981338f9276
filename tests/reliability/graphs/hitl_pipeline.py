"""The fault-test graphs of RELIABILITY.md §1 (plain LangGraph; never imports ``service``).

``hitl_pipeline``: ``plan -> tool (x tool_calls) -> human_review -> act -> done``.

* Deterministic: every step sleeps 50-200 ms, drawn from ``random.Random`` seeded with a
  fixed seed, the thread id, the node and the step number, so a re-executed step sleeps as
  long as the first time.
* ``human_review`` raises an Agent Inbox ``HumanInterrupt`` of action type
  ``approve_refund`` (accept, edit, respond, ignore all allowed). It also records the
  interrupt id in the state: LangGraph derives it from the task's checkpoint namespace
  (``xxh3_128(checkpoint_ns)`` for the first interrupt of a task), so the node computes it
  the same way and ``act`` reads it from the state.
* ``act`` (on accept or edit) POSTs the effect to the sink (``HITL_SINK_URL``) with
  ``Idempotency-Key: {thread_id}:{interrupt_id}``, then inserts the same key into the
  ``side_effects`` ledger (``HITL_LEDGER_DSN``) with ``ON CONFLICT DO NOTHING``. The
  failpoint ``after_effect_before_checkpoint`` fires after both, before LangGraph writes
  the checkpoint of ``act``: ``HITL_TEST=1`` and
  ``HITL_FAILPOINTS=after_effect_before_checkpoint=exit:137`` make the process exit there.
* Every node appends ``"{node}#{attempt}"`` to ``trace`` (``run_attempt`` comes from the
  run's config), so a test can tell which attempt wrote which step.

Request knobs (all optional, in ``input.request``): ``tool_calls`` (default 1),
``act_seconds`` (a fixed sleep in ``act`` instead of the random one, to keep a resume
running for a while), ``order_id``, ``amount``.

``slow_steps``: ``tick`` repeated ``steps`` times, ``seconds`` each (no interrupt), for
the multitask and queue tests.
"""

from __future__ import annotations

import asyncio
import operator
import os
import random
from typing import Annotated, Any

import httpx
import psycopg
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt
from typing_extensions import TypedDict
from xxhash import xxh3_128_hexdigest

SEED = 20_240_917
STEP_MS = (50, 200)
ACTION = "approve_refund"
EFFECT_FAILPOINT = "after_effect_before_checkpoint"


class PipelineState(TypedDict, total=False):
    request: dict[str, Any]
    plan: dict[str, Any]
    tool_results: Annotated[list[dict[str, Any]], operator.add]
    interrupt_id: str
    decision: dict[str, Any]
    effect: dict[str, Any]
    outcome: str
    trace: Annotated[list[str], operator.add]


def _conf(config: RunnableConfig) -> dict[str, Any]:
    return dict(config.get("configurable") or {})


def _rng(config: RunnableConfig, node: str, step: int = 0) -> random.Random:
    return random.Random(f"{SEED}:{_conf(config).get('thread_id')}:{node}:{step}")


async def _pause(config: RunnableConfig, node: str, step: int = 0) -> None:
    low, high = STEP_MS
    await asyncio.sleep(_rng(config, node, step).randint(low, high) / 1000)


def _mark(config: RunnableConfig, node: str) -> list[str]:
    return [f"{node}#{_conf(config).get('run_attempt', 0)}"]


def _failpoint(name: str) -> None:
    """``HITL_FAILPOINTS=name=exit:CODE`` (or ``sleep:S``), only when ``HITL_TEST=1``."""
    if os.environ.get("HITL_TEST", "").lower() not in ("1", "true", "yes"):
        return
    for item in os.environ.get("HITL_FAILPOINTS", "").split(","):
        point, _, action = item.strip().partition("=")
        if point != name:
            continue
        kind, _, arg = action.partition(":")
        if kind == "exit":
            os._exit(int(float(arg or 1)))
        if kind == "sleep":
            import time

            time.sleep(float(arg or 0))  # blocks the whole process, like a GC pause


async def plan(state: PipelineState, config: RunnableConfig) -> dict[str, Any]:
    await _pause(config, "plan")
    request = state.get("request") or {}
    args = {
        "order_id": str(request.get("order_id", "order-1")),
        "amount": float(request.get("amount", _rng(config, "amount").randint(5, 500))),
    }
    return {"plan": {"action": ACTION, "args": args}, "trace": _mark(config, "plan")}


async def tool(state: PipelineState, config: RunnableConfig) -> dict[str, Any]:
    step = len(state.get("tool_results") or [])
    await _pause(config, "tool", step)
    value = _rng(config, "tool-value", step).randint(0, 1_000_000)
    return {
        "tool_results": [{"call": step, "value": value}],
        "trace": _mark(config, f"tool{step}"),
    }


def after_tool(state: PipelineState) -> str:
    wanted = int((state.get("request") or {}).get("tool_calls", 1))
    return "tool" if len(state.get("tool_results") or []) < wanted else "human_review"


async def human_review(state: PipelineState, config: RunnableConfig) -> dict[str, Any]:
    await _pause(config, "human_review")
    interrupt_id = xxh3_128_hexdigest(str(_conf(config).get("checkpoint_ns", "")).encode())
    proposal = state.get("plan") or {"action": ACTION, "args": {}}
    answer = interrupt(
        {
            "action_request": {"action": ACTION, "args": proposal["args"]},
            "config": {
                "allow_accept": True,
                "allow_edit": True,
                "allow_respond": True,
                "allow_ignore": True,
            },
            "description": f"Refund {proposal['args'].get('amount')} for "
            f"{proposal['args'].get('order_id')}?",
        }
    )
    if isinstance(answer, list) and answer:
        answer = answer[0]
    if not isinstance(answer, dict) or answer.get("type") not in (
        "accept",
        "edit",
        "response",
        "ignore",
    ):
        answer = {"type": "response", "args": answer}
    return {
        "interrupt_id": interrupt_id,
        "decision": answer,
        "trace": _mark(config, "human_review"),
    }


async def _post_effect(url: str, key: str, body: dict[str, Any]) -> int:
    async with httpx.AsyncClient(timeout=10.0, trust_env=False) as client:
        reply = await client.post(url, json=body, headers={"Idempotency-Key": key})
        reply.raise_for_status()
        return reply.status_code


async def _record_effect(dsn: str, key: str, thread_id: str, interrupt_id: str) -> None:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute(
            "INSERT INTO side_effects (key, thread_id, interrupt_id) VALUES (%s, %s, %s) "
            "ON CONFLICT (key) DO NOTHING",
            (key, thread_id, interrupt_id),
        )


async def act(state: PipelineState, config: RunnableConfig) -> dict[str, Any]:
    request = state.get("request") or {}
    if request.get("act_seconds") is not None:
        await asyncio.sleep(float(request["act_seconds"]))
    else:
        await _pause(config, "act")
    decision = state.get("decision") or {}
    kind = decision.get("type")
    if kind not in ("accept", "edit"):
        return {"outcome": f"no effect ({kind})", "trace": _mark(config, "act")}
    args = dict((state.get("plan") or {}).get("args") or {})
    if kind == "edit" and isinstance(decision.get("args"), dict):
        args = dict(decision["args"].get("args") or args)
    conf = _conf(config)
    thread_id = str(conf.get("thread_id"))
    interrupt_id = str(state.get("interrupt_id"))
    key = f"{thread_id}:{interrupt_id}"
    body = {
        "thread_id": thread_id,
        "interrupt_id": interrupt_id,
        "run_id": conf.get("run_id"),
        "attempt": conf.get("run_attempt"),
        "args": args,
    }
    sink = os.environ.get("HITL_SINK_URL", "")
    dsn = os.environ.get("HITL_LEDGER_DSN", "")
    if not sink or not dsn:
        raise RuntimeError("act needs HITL_SINK_URL and HITL_LEDGER_DSN")
    await _post_effect(sink.rstrip("/") + "/effect", key, body)
    await _record_effect(dsn, key, thread_id, interrupt_id)
    _failpoint(EFFECT_FAILPOINT)
    return {
        "effect": {"key": key, "args": args},
        "outcome": "refunded",
        "trace": _mark(config, "act"),
    }


async def done(state: PipelineState, config: RunnableConfig) -> dict[str, Any]:
    await _pause(config, "done")
    return {"outcome": state.get("outcome") or "done", "trace": _mark(config, "done")}


_pipeline = StateGraph(PipelineState)
_pipeline.add_node("plan", plan)
_pipeline.add_node("tool", tool)
_pipeline.add_node("human_review", human_review)
_pipeline.add_node("act", act)
_pipeline.add_node("done", done)
_pipeline.add_edge(START, "plan")
_pipeline.add_edge("plan", "tool")
_pipeline.add_conditional_edges("tool", after_tool, ["tool", "human_review"])
_pipeline.add_edge("human_review", "act")
_pipeline.add_edge("act", "done")
_pipeline.add_edge("done", END)
graph = _pipeline.compile()


class SlowState(TypedDict, total=False):
    steps: int
    seconds: float
    ticks: int  # ticks of the current run: send ``"ticks": 0`` with each run's input
    done: Annotated[list[dict[str, Any]], operator.add]


async def tick(state: SlowState, config: RunnableConfig) -> dict[str, Any]:
    await asyncio.sleep(float(state.get("seconds", 0.01)))
    conf = _conf(config)
    return {
        "ticks": int(state.get("ticks") or 0) + 1,
        "done": [{"run_id": conf.get("run_id"), "attempt": conf.get("run_attempt")}],
    }


def _more(state: SlowState) -> str:
    return "tick" if int(state.get("ticks") or 0) < int(state.get("steps", 1)) else END


_slow = StateGraph(SlowState)
_slow.add_node("tick", tick)
_slow.add_edge(START, "tick")
_slow.add_conditional_edges("tick", _more, ["tick", END])
slow_steps = _slow.compile()
