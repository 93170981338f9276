"""``client.threads.stream(...)``: the SDK's thread-centric streaming sessions against a live
server, on both backends: the SDK's own usage example, and a review (interrupt, respond
through the session, the end)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Callable
from typing import Any, Literal

import pytest
import websockets
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient

from tests.e2e.js import run_js
from tests.fixtures.live import LiveServer

pytestmark = pytest.mark.e2e
RUN = uuid.uuid4().hex[:8]
ASK = {"messages": [{"role": "user", "content": "Refund order B-7, 30 EUR: it came broken."}]}
TOOLS = ["lookup_order", "issue_refund", "send_email", "ask_customer"]
APPROVE_ALL = {"decisions": [{"type": "approve"}] * 3 + [{"type": "reject", "message": "No."}]}
WAIT = 60
Transport = Literal["sse", "websocket"]


def bearer(server: LiveServer, tenant: str) -> dict[str, str]:
    token = server.mint(f"{tenant}-{RUN}", "ada", ("tenant_admin", "editor", "agent"))
    return {"Authorization": f"Bearer {token}"}


def sdk(server: LiveServer, tenant: str) -> LangGraphClient:
    return get_client(url=server.url, headers=bearer(server, tenant), api_key=None)


@pytest.mark.parametrize("transport", ["sse", "websocket"])
async def test_the_sdk_usage_example(server: LiveServer, transport: Transport) -> None:
    """The SDK README's example, as written: start, messages and tool calls on one shared
    connection, the text of each message, the final state (the agent without its review:
    it calls its tools and sums up). Over SSE, and over WebSockets."""
    async with sdk(server, "usage") as client:
        async with client.threads.stream(
            thread_id=f"my-thread-{uuid.uuid4().hex[:6]}",
            assistant_id="support_agent_unreviewed",
            transport=transport,
            headers=bearer(server, "usage"),  # a WebSocket gets only these, not the client's
        ) as thread:
            started = await thread.run.start(input=ASK)
            assert isinstance(started["run_id"], str)

            # Start all consumers concurrently so they share one SSE connection.
            async def get_messages() -> list[Any]:
                return [s async for s in thread.messages]

            async def get_tool_calls() -> list[Any]:
                return [c async for c in thread.tool_calls]

            messages, tool_calls = await asyncio.wait_for(
                asyncio.gather(get_messages(), get_tool_calls()), WAIT
            )
            texts = [await asyncio.wait_for(stream.text, WAIT) for stream in messages]
            final = await asyncio.wait_for(thread.output, WAIT)  # terminal state values

        assert texts[0] == "Let me take care of that."
        assert texts[-1].startswith("Done. Order B-7: 1 kettle")
        by_name = {c.name: c for c in tool_calls}  # the tools run in parallel
        assert sorted(by_name) == sorted(TOOLS)
        assert by_name["issue_refund"].input == {"order_id": "B-7", "amount": 30.0}
        assert await by_name["issue_refund"].output == "Refunded 30.00 EUR on B-7."
        assert final["messages"][-1]["content"] == texts[-1]
        assert len([m for m in final["messages"] if m["type"] == "tool"]) == 4


async def test_a_review_through_the_session(server: LiveServer) -> None:
    """Start, see values, updates and the streamed message, the interrupt; respond through
    the session; see the tools run, the summary, and the end."""
    async with sdk(server, "review") as client:
        async with client.threads.stream(assistant_id="support_agent") as thread:
            await thread.run.start(input=ASK)
            seen = await asyncio.wait_for(_until_root(thread.events, "interrupted"), WAIT)
            methods = {e["method"] for e in seen}
            assert {"values", "updates", "messages", "input.requested"} <= methods
            nodes = [e["params"]["data"]["node"] for e in seen if e["method"] == "updates"]
            assert "model" in nodes
            deltas = [
                e["params"]["data"]["delta"]["text"]
                for e in seen
                if e["method"] == "messages"
                and e["params"]["data"]["event"] == "content-block-delta"
                and e["params"]["data"]["delta"]["type"] == "text-delta"
            ]
            assert "".join(deltas) == "Let me take care of that."
            seqs = [e["seq"] for e in seen]
            assert seqs == sorted(seqs)
            assert len(set(seqs)) == len(seqs)

            await asyncio.wait_for(_until(lambda: thread.interrupted), WAIT)
            (request,) = thread.interrupts
            assert [a["name"] for a in request["value"]["action_requests"]] == TOOLS
            resumed = await thread.run.respond(APPROVE_ALL)
            assert isinstance(resumed["run_id"], str)
            calls = await asyncio.wait_for(_tool_calls(thread), WAIT)
            final = await asyncio.wait_for(thread.output, WAIT)

        by_name = {c.name: c for c in calls}
        assert sorted(by_name) == sorted(TOOLS)
        assert (
            await by_name["lookup_order"].output == "Order B-7: 1 kettle, 80 EUR, delivered broken."
        )
        rejected = by_name["ask_customer"].output.exception()  # the reviewer said no
        assert "rejected" in str(rejected)
        assert final["messages"][-1]["content"].startswith("Done.")
        state = await client.threads.get_state(thread.thread_id)
        assert state["next"] == []
        assert state["values"] == final


async def _until_root(events: Any, phase: str) -> list[dict[str, Any]]:
    """The events of a raw stream up to the root's lifecycle ``phase``."""
    seen = []
    async for event in events:
        seen.append(event)
        data = event["params"]["data"]
        root = event["method"] == "lifecycle" and not event["params"]["namespace"]
        if root and data["event"] == phase:
            return seen
    raise AssertionError("the stream ended early")


async def _until(check: Callable[[], bool]) -> None:
    """The session applies each interrupt as it arrives: the first pauses the projections."""
    while not check():
        await asyncio.sleep(0.05)


async def _tool_calls(thread: Any) -> list[Any]:
    return [c async for c in thread.tool_calls]


async def test_a_graph_with_two_interrupts_answered_one_by_one(server: LiveServer) -> None:
    async with sdk(server, "double") as client:
        async with client.threads.stream(assistant_id="double_review") as thread:
            await thread.run.start(input={})
            values = [v async for v in thread.values]  # until the pause
            assert values
            assert thread.interrupted
            await asyncio.wait_for(_until(lambda: len(thread.interrupts) == 2), WAIT)
            pending = {p["value"]["type"]: p for p in thread.interrupts}
            assert set(pending) == {"legal_check", "finance_check"}
            for kind, payload in pending.items():
                await thread.run.respond(f"{kind} ok", interrupt_id=payload["interrupt_id"])
            final = await asyncio.wait_for(thread.output, WAIT)
        assert sorted(final["answers"], key=str) == [
            {"finance_check": "finance_check ok"},
            {"legal_check": "legal_check ok"},
        ]


async def test_websocket_refusals(server: LiveServer) -> None:
    """Another tenant's thread, a bad first frame, no token: closed with 4000 + the status."""
    async with sdk(server, "victim") as client:
        thread = await client.threads.create()
    victim = thread["thread_id"]
    url = server.url.replace("http://", "ws://") + f"/threads/{victim}/stream/events"
    subscribe = {"id": 1, "method": "subscription.subscribe", "params": {"channels": ["values"]}}
    attacker = server.mint(f"attacker-{RUN}", "mallory", ("tenant_admin", "editor", "agent"))
    owner = server.mint(f"victim-{RUN}", "ada", ("tenant_admin", "editor", "agent"))
    cases = [
        (attacker, subscribe, 4404),
        (owner, {"id": 1, "method": "run.start", "params": {}}, 4422),
        (owner, {"id": 1, "method": "subscription.subscribe", "params": {"channels": []}}, 4422),
        ("not-a-token", subscribe, 4401),
    ]
    for token, first, code in cases:
        headers = {"Authorization": f"Bearer {token}"}
        async with websockets.connect(url, additional_headers=headers) as ws:
            with contextlib.suppress(websockets.ConnectionClosed):
                await ws.send(json.dumps(first))
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), WAIT)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == code, (first, closed.value.rcvd)


def test_the_js_sdk_thread_stream(server: LiveServer) -> None:
    """``client.threads.stream`` of the official JS SDK (``tests/js/thread_stream.mjs``)."""
    assert run_js(
        server, "thread_stream.mjs", ("tenant_admin", "editor", "agent"), timeout=120
    ) == [
        "threads.stream: messages, tool calls and output",
        "threads.stream: another tenant's thread is a 404",
    ]
