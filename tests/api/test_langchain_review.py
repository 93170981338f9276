"""LangChain v1 agents (``create_agent`` + ``HumanInTheLoopMiddleware``) reviewed per tool.

``graphs/support_agent.py`` asks for four reviewed tool calls in one turn: ``lookup_order``
(approve, reject), ``issue_refund`` (approve, edit, reject), ``send_email`` (all four) and
``ask_customer`` (respond, reject). Batched, that is one ``HITLRequest``; per call, four
``tool_approval`` interrupts, each with its ``response_schema``.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.helpers import new_thread, ok, parse_sse, wait_for_status
from tests.fixtures.app import Api

ASK = {"messages": [{"role": "user", "content": "Refund order B-7, 30 EUR: it came broken."}]}
TOOLS = ["lookup_order", "issue_refund", "send_email", "ask_customer"]
BATCH_TYPE = "ask_customer+issue_refund+lookup_order+send_email"
DECISIONS = [
    {"type": "approve"},
    {
        "type": "edit",
        "edited_action": {"name": "issue_refund", "args": {"order_id": "B-7", "amount": 25}},
    },
    {"type": "reject", "message": "No email today."},
    {"type": "respond", "message": "Yes, a replacement please."},
]


async def paused(client: httpx.AsyncClient, graph: str) -> tuple[str, list[dict[str, Any]]]:
    """A thread of ``graph`` paused at its review; its inbox items, in the order of the tools."""
    tid = (await new_thread(client))["thread_id"]
    await ok(
        await client.post(f"/threads/{tid}/runs/wait", json={"assistant_id": graph, "input": ASK})
    )
    items = (await ok(await client.get("/inbox", params={"limit": 1000})))["items"]
    mine = [i for i in items if i["thread_id"] == tid]
    return tid, sorted(mine, key=lambda i: TOOLS.index(i["actions"][0]["name"]))


def decide(item: dict[str, Any], value: Any) -> dict[str, Any]:
    return {"decision": value, "payload_hash": item["payload_hash"]}


async def tool_messages(client: httpx.AsyncClient, run: dict[str, Any]) -> dict[str, str]:
    await wait_for_status(client, run["thread_id"], run["run_id"], {"success"})
    values = (await ok(await client.get(f"/threads/{run['thread_id']}")))["values"]
    return {m["name"]: m["content"] for m in values["messages"] if m.get("type") == "tool"}


class TestBatched:
    async def test_listed_once_with_its_actions_each_typed_by_its_tool(
        self, api: Api, tenant: str
    ) -> None:
        async with api.client(tenant) as client:
            _, (item,) = await paused(client, "support_agent")
            assert item["kind"] == "hitl_request"
            assert item["type"] == BATCH_TYPE
            assert [a["name"] for a in item["actions"]] == TOOLS
            assert [a["allowed_decisions"] for a in item["actions"]] == [
                ["approve", "reject"],
                ["approve", "edit", "reject"],
                ["approve", "edit", "reject", "respond"],
                ["reject", "respond"],
            ]
            assert item["actions"][1]["args"] == {"order_id": "B-7", "amount": 30.0}
            by_tool = await ok(await client.get("/inbox", params={"type": "send_email"}))
            assert [i["id"] for i in by_tool["items"]] == [item["id"]]

    async def test_every_decision_reaches_the_agent_as_sent_exactly_once(
        self, api: Api, tenant: str
    ) -> None:
        async with api.client(tenant) as client:
            _, (item,) = await paused(client, "support_agent")
            body = await ok(
                await client.post(
                    f"/inbox/{item['id']}/decision", json=decide(item, {"decisions": DECISIONS})
                ),
                202,
            )
            again = await client.post(
                f"/inbox/{item['id']}/decision", json=decide(item, {"decisions": DECISIONS})
            )
            assert again.status_code == 409
            told = await tool_messages(client, body["run"])
            assert told["lookup_order"].startswith("Order B-7")
            assert "Refunded 25.00 EUR on B-7." in told["issue_refund"]  # the edited args ran
            assert "No email today." in told["send_email"]  # rejected with the reason
            assert told["ask_customer"] == "Yes, a replacement please."  # answered in its place
            mine = await ok(
                await client.get(
                    "/audit", params={"action": "interrupt.resolve", "target_id": item["id"]}
                )
            )
            assert sorted((e["detail"]["type"], e["detail"]["decision"]) for e in mine) == sorted(
                zip(TOOLS, ["approve", "edit", "reject", "respond"], strict=True)
            )

    async def test_invalid_decisions_are_422_and_decide_nothing(
        self, api: Api, tenant: str
    ) -> None:
        async with api.client(tenant) as client:
            tid, (item,) = await paused(client, "support_agent")
            wrong = [
                {"decisions": DECISIONS[:3]},  # one decision per action
                {"decisions": [{"type": "respond", "message": "x"}, *DECISIONS[1:]]},  # not allowed
                {
                    "decisions": [
                        DECISIONS[0],
                        {"type": "edit", "edited_action": {"name": "send_email", "args": {}}},
                        *DECISIONS[2:],
                    ]
                },
                {"decisions": [*DECISIONS[:3], {"type": "respond"}]},  # respond needs a message
                {"type": "accept", "args": None},  # an Agent Inbox answer
            ]
            for value in wrong:
                reply = await client.post(f"/inbox/{item['id']}/decision", json=decide(item, value))
                assert reply.status_code == 422, (value, reply.text)
            resumed = await client.post(
                f"/threads/{tid}/runs",
                json={
                    "assistant_id": "support_agent",
                    "command": {"resume": {"decisions": DECISIONS[:2]}},
                },
            )
            assert resumed.status_code == 422
            still = await ok(await client.get("/inbox", params={"limit": 1000}))
            assert item["id"] in [i["id"] for i in still["items"]]

    async def test_a_reviewer_of_refunds_only_is_refused_a_batch_holding_an_email(
        self, api: Api, tenant: str
    ) -> None:
        async with api.client(tenant) as owner:
            for role, tools in (("refunds", ["issue_refund"]), ("support", TOOLS)):
                for tool in tools:
                    await ok(
                        await owner.post(
                            f"/policies/roles/{role}/permissions",
                            json={"object": f"interrupt:{tool}", "action": "decide"},
                        )
                    )
                await ok(
                    await owner.post(f"/policies/roles/{role}/parents", json={"parent": "viewer"})
                )
            _, (item,) = await paused(owner, "support_agent")
        async with api.client(tenant, "rita", roles=("refunds",)) as rita:
            seen = await ok(await rita.get(f"/inbox/{item['id']}"))
            assert seen["can_decide"] is False
            assert [a["can_decide"] for a in seen["actions"]] == [False, True, False, False]
            decidable = await ok(await rita.get("/inbox", params={"decidable": "true"}))
            assert item["id"] not in [i["id"] for i in decidable["items"]]
            approve_all = {"decisions": [{"type": "approve"}] * 3 + [{"type": "reject"}]}
            refused = await rita.post(
                f"/inbox/{item['id']}/decision", json=decide(item, approve_all)
            )
            assert refused.status_code == 403
        async with api.client(tenant, "sam", roles=("support",)) as sam:
            decidable = await ok(await sam.get("/inbox", params={"decidable": "true"}))
            assert item["id"] in [i["id"] for i in decidable["items"]]
            plain = {"decisions": [{"type": "approve"}] * 3 + [{"type": "reject"}]}
            await ok(await sam.post(f"/inbox/{item['id']}/decision", json=decide(item, plain)), 202)


class TestPerCall:
    async def test_one_item_per_tool_call_typed_by_the_tool_and_checked_by_its_schema(
        self, api: Api, tenant: str
    ) -> None:
        async with api.client(tenant) as client:
            tid, items = await paused(client, "support_agent_per_call")
            assert [i["type"] for i in items] == TOOLS
            assert {i["kind"] for i in items} == {"tool_approval"}
            refund = items[1]
            assert refund["allowed_decisions"] == ["approve", "edit", "reject"]
            bad = [
                {"type": "respond", "message": "no"},  # not allowed for this tool
                {
                    "type": "edit",
                    "edited_action": {
                        "name": "issue_refund",
                        "args": {"order_id": "B-7", "amount": "lots"},
                    },
                },
            ]
            for value in bad:
                reply = await client.post(
                    f"/inbox/{refund['id']}/decision", json=decide(refund, value)
                )
                assert reply.status_code == 422, (value, reply.text)
            answers = dict(zip(TOOLS, DECISIONS, strict=True))
            resume = {i["interrupt_id"]: answers[i["type"]] for i in items}
            run = await ok(
                await client.post(
                    f"/threads/{tid}/runs",
                    json={"assistant_id": "support_agent_per_call", "command": {"resume": resume}},
                )
            )
            told = await tool_messages(client, run)
            assert "Refunded 25.00 EUR on B-7." in told["issue_refund"]
            assert told["ask_customer"] == "Yes, a replacement please."
            again = await client.post(
                f"/threads/{tid}/runs",
                json={"assistant_id": "support_agent_per_call", "command": {"resume": resume}},
            )
            assert again.status_code == 409


class TestChatStreaming:
    async def test_messages_mode_streams_the_models_tokens_as_the_server_does(
        self, api: Api, tenant: str
    ) -> None:
        async with api.client(tenant) as client:
            tid = (await new_thread(client))["thread_id"]
            body = {"assistant_id": "support_agent", "input": ASK}
            response = await client.post(
                f"/threads/{tid}/runs/stream", json={**body, "stream_mode": ["messages"]}
            )
            assert response.status_code == 200
            events = [(kind, data) for _, kind, data in parse_sse(response.text)]
            kinds = [kind for kind, _ in events]
            assert kinds[0] == "metadata"
            assert "messages/metadata" in kinds
            partial = [data for kind, data in events if kind == "messages/partial"]
            assert len(partial) >= 5  # one per token of "Let me take care of that."
            texts = [d[0]["content"] for d in partial if d[0].get("type") == "ai"]
            assert texts[0] == "Let "
            assert "Let me take care of that." in texts  # accumulated, as the Server sends
            (ids,) = {d[0]["id"] for d in partial[:3]}
            metadata = [data for kind, data in events if kind == "messages/metadata"]
            assert ids in metadata[0]

    async def test_messages_tuple_mode_sends_each_chunk_with_its_metadata(
        self, api: Api, tenant: str
    ) -> None:
        async with api.client(tenant) as client:
            tid = (await new_thread(client))["thread_id"]
            body = {"assistant_id": "support_agent", "input": ASK, "stream_mode": "messages-tuple"}
            response = await client.post(f"/threads/{tid}/runs/stream", json=body)
            chunks = [data for _, kind, data in parse_sse(response.text) if kind == "messages"]
            assert chunks[0][0]["content"] == "Let "
            assert chunks[0][1]["langgraph_node"] == "model"
