"""Thread streaming sessions over HTTP: commands and their protocol answers, bad input, and
tenant isolation (the live event streams are driven by the SDK in tests/e2e)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.api.helpers import new_thread, ok, run_to_interrupt
from tests.fixtures.app import Api

UNKNOWN_SESSION = "00000000-0000-7000-8000-000000000000"


def command(method: str, params: Any = None, id_: int = 1) -> dict[str, Any]:
    return {"id": id_, "method": method, "params": params or {}}


async def send(client: httpx.AsyncClient, thread: str, body: Any) -> httpx.Response:
    return await client.post(f"/threads/{thread}/commands", json=body)


def refused(response: httpx.Response, code: str) -> str:
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["type"] == "error"
    assert answer["error"] == code
    assert answer["id"] == 7
    return str(answer["message"])


class TestCommands:
    async def test_run_start_creates_the_thread_and_answers_its_run(
        self, api: Api, tenant: str
    ) -> None:
        session = str(uuid.uuid4())
        async with api.client(tenant) as client:
            response = await send(
                client, session, command("run.start", {"assistant_id": "double_review"}, 3)
            )
            answer = await ok(response)
            assert answer["type"] == "success"
            assert answer["id"] == 3
            assert answer["meta"]["applied_through_seq"] >= 0
            run = await ok(
                await client.get(f"/threads/{session}/runs/{answer['result']['run_id']}")
            )
            assert run["thread_id"].endswith(session)
            assert run["assistant_id"]
            thread = await ok(await client.get(f"/threads/{session}"))
            assert thread["metadata"]["graph_id"] == "double_review"

    async def test_input_respond_resumes_through_the_review_index(
        self, api: Api, tenant: str
    ) -> None:
        async with api.client(tenant) as client:
            tid = (await new_thread(client))["thread_id"]
            (pending,) = (await run_to_interrupt(client, tid))["__interrupt__"]
            body = command(
                "input.respond",
                {"interrupt_id": pending["id"], "namespace": [], "response": {"type": "accept"}},
            )
            answer = await ok(await send(client, tid, body))
            run_id = answer["result"]["run_id"]
            done = await ok(await client.get(f"/threads/{tid}/runs/{run_id}/join"))
            assert done["outcome"] == "refunded"
            again = await send(client, tid, {**body, "id": 7})
            assert "No pending interrupt" in refused(again, "no_such_interrupt")

    async def test_protocol_refusals(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            tid = (await new_thread(client))["thread_id"]
            cases = [
                (command("run.start", {}, 7), "invalid_argument"),
                (command("run.start", {"assistant_id": "no-such-graph"}, 7), "invalid_argument"),
                (
                    command("run.start", {"assistant_id": "slow", "config": [1]}, 7),
                    "invalid_argument",
                ),
                (
                    command("input.respond", {"interrupt_id": "x", "response": 1}, 7),
                    "no_such_interrupt",
                ),
                (command("input.respond", {"responses": []}, 7), "invalid_argument"),
                (command("input.respond", {"namespace": []}, 7), "invalid_argument"),
                (command("state.fork", {"checkpoint_id": "x"}, 7), "not_supported"),
                (command("agent.getTree", {}, 7), "not_supported"),
                (command("no.such.method", {}, 7), "unknown_command"),
            ]
            for body, code in cases:
                refused(await send(client, tid, body), code)
            runs = await ok(await client.get(f"/threads/{tid}/runs"))
            assert runs == []  # nothing refused started anything

    @pytest.mark.parametrize(
        "body",
        [
            {"method": "run.start", "params": {}},  # no id
            {"id": 1, "params": {}},  # no method
            {"id": "one", "method": "run.start"},
            {"id": -1, "method": "run.start"},
            {"id": 1, "method": "run.start", "params": [1, 2]},
            [1, 2, 3],
        ],
    )
    async def test_malformed_commands_are_422(self, api: Api, tenant: str, body: Any) -> None:
        async with api.client(tenant) as client:
            response = await send(client, str(uuid.uuid4()), body)
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "invalid_input"

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"channels": []},
            {"channels": ["values", "telepathy"]},
            {"channels": ["values"], "since": -1},
            {"channels": ["values"], "depth": "deep"},
            {"channels": ["values"], "namespaces": [[""]]},
        ],
    )
    async def test_bad_stream_filters_are_422(self, api: Api, tenant: str, body: Any) -> None:
        async with api.client(tenant) as client:
            tid = (await new_thread(client))["thread_id"]
            response = await client.post(f"/threads/{tid}/stream/events", json=body)
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "invalid_input"


class TestIsolation:
    async def test_another_tenant_can_neither_command_nor_stream_a_thread(
        self, api: Api, tenant: str
    ) -> None:
        async with api.client(tenant, "victim") as client:
            victim = (await new_thread(client))["thread_id"]
            (pending,) = (await run_to_interrupt(client, victim))["__interrupt__"]
        attacker = tenant + "-b"
        respond = command(
            "input.respond", {"interrupt_id": pending["id"], "response": {"type": "accept"}}
        )
        start = command("run.start", {"assistant_id": "refund_agent"})
        stream = {"channels": ["values", "lifecycle", "input"]}
        async with api.client(attacker, "mallory") as client:
            unknown = f"{attacker}:{UNKNOWN_SESSION}"
            for body in (respond, start):
                foreign = await send(client, victim, body)
                assert foreign.status_code == 404, foreign.text
                assert foreign.content == (await send(client, unknown, respond)).content
            bare = victim.split(":", 1)[1]  # the victim's session id, read as the attacker's
            assert (await send(client, bare, respond)).content == foreign.content
            events = await client.post(f"/threads/{victim}/stream/events", json=stream)
            assert events.status_code == 404
            assert events.content == foreign.content
            bare_events = await client.post(f"/threads/{bare}/stream/events", json=stream)
            assert bare_events.content == foreign.content
        async with api.client(tenant, "victim") as client:
            thread = await ok(await client.get(f"/threads/{victim}"))
            assert thread["status"] == "interrupted"
            assert len(await ok(await client.get(f"/threads/{victim}/runs"))) == 1
