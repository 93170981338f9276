"""The official ``langgraph-sdk`` client against a live server, on both backends."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient

from tests.fixtures.live import LiveServer

pytestmark = pytest.mark.e2e
RUN = uuid.uuid4().hex[:8]

REQUEST = {"request": {"order_id": "E-1", "amount": 80, "customer": "Grace", "reason": "late"}}


def sdk(
    server: LiveServer,
    tenant: str,
    subject: str = "ada",
    roles: tuple[str, ...] = ("tenant_admin", "editor", "agent"),
) -> LangGraphClient:
    """An SDK client for ``subject`` in a fresh tenant named after ``tenant``."""
    token = server.mint(f"{tenant}-{RUN}", subject, roles)
    return get_client(url=server.url, headers={"Authorization": f"Bearer {token}"}, api_key=None)


async def test_hitl_cycle_with_the_sdk(server: LiveServer) -> None:
    async with sdk(server, "acme") as client:
        await _hitl_cycle(client)


async def _hitl_cycle(client: LangGraphClient) -> None:
    thread = await client.threads.create(metadata={"case": "e2e"})
    tid = thread["thread_id"]
    assert tid.startswith("acme-")

    run = await client.runs.create(tid, "refund_agent", input=REQUEST)
    assert run["status"] in ("pending", "running")
    output = await client.runs.join(tid, run["run_id"])
    (pending,) = output["__interrupt__"]

    thread = await client.threads.get(tid)
    assert thread["status"] == "interrupted"
    (interrupts,) = thread["interrupts"].values()
    assert interrupts[0]["id"] == pending["id"]
    assert interrupts[0]["value"]["action_request"] == {
        "action": "refund",
        "args": {"order_id": "E-1", "amount": 80.0, "currency": "EUR"},
    }
    state = await client.threads.get_state(tid)
    assert state["next"] == ["review"]
    assert state["interrupts"][0]["id"] == pending["id"]

    waiting = await client.threads.search(status="interrupted")
    assert [t["thread_id"] for t in waiting] == [tid]
    assert await client.threads.count(status="interrupted") == 1

    edited = [
        {"type": "edit", "args": {"action": "refund", "args": {"order_id": "E-1", "amount": 60}}}
    ]
    resumed = await client.runs.create(tid, "refund_agent", command={"resume": edited})
    await client.runs.join(tid, resumed["run_id"])
    final = await client.threads.get_state(tid)
    assert final["values"]["decision"]["type"] == "edit"
    assert final["values"]["refunds"] == [{"order_id": "E-1", "amount": 60.0, "currency": "EUR"}]
    assert final["next"] == []
    assert (await client.threads.get(tid))["status"] == "idle"
    assert await client.threads.count(status="interrupted") == 0

    history = await client.threads.get_history(tid, limit=20)
    assert len(history) >= 5
    assert history[0]["checkpoint_id"] == final["checkpoint_id"]

    with pytest.raises(httpx.HTTPStatusError) as nothing:
        await client.runs.create(tid, "refund_agent", command={"resume": [{"type": "accept"}]})
    assert nothing.value.response.status_code == 409


async def test_wait_stream_and_update_state(server: LiveServer) -> None:
    async with sdk(server, "acme") as client:
        await _wait_stream_update(client)


async def _wait_stream_update(client: LangGraphClient) -> None:
    tid = (await client.threads.create())["thread_id"]
    parts = [
        part
        async for part in client.runs.stream(
            tid, "refund_agent", input=REQUEST, stream_mode=["values", "updates"]
        )
    ]
    assert parts[0].event == "metadata"
    assert {p.event for p in parts} == {"metadata", "values", "updates"}
    assert any("__interrupt__" in p.data for p in parts if p.event == "updates")

    values = await client.runs.wait(
        tid, "refund_agent", command={"resume": [{"type": "accept", "args": None}]}
    )
    assert values["outcome"] == "refunded"

    await client.threads.update_state(tid, {"outcome": "audited"}, as_node="act")
    assert (await client.threads.get_state(tid))["values"]["outcome"] == "audited"

    stateless = await client.runs.wait(None, "publish_workflow", input={"topic": "e2e"})
    assert stateless["__interrupt__"][0]["value"]["type"] == "publish_post"


async def test_cancel_and_multitask(server: LiveServer) -> None:
    async with sdk(server, "acme") as client:
        await _cancel_and_multitask(client)


async def _cancel_and_multitask(client: LangGraphClient) -> None:
    tid = (await client.threads.create())["thread_id"]
    long_run = await client.runs.create(tid, "slow", input={"steps": 100, "seconds": 0.05})
    for _ in range(100):
        if (await client.runs.get(tid, long_run["run_id"]))["status"] == "running":
            break
        await asyncio.sleep(0.05)
    with pytest.raises(httpx.HTTPStatusError) as busy:
        await client.runs.create(tid, "slow", input={"steps": 1}, multitask_strategy="reject")
    assert busy.value.response.status_code == 409
    await client.runs.cancel(tid, long_run["run_id"], wait=True)
    assert (await client.runs.get(tid, long_run["run_id"]))["status"] == "interrupted"
    runs = await client.runs.list(tid)
    assert [r["status"] for r in runs] == ["interrupted"]


async def test_two_tenants_are_isolated(server: LiveServer) -> None:
    async with sdk(server, "acme-iso") as acme, sdk(server, "globex-iso") as globex:
        await _isolated(acme, globex)


async def _isolated(acme: LangGraphClient, globex: LangGraphClient) -> None:
    thread = await acme.threads.create(metadata={"secret": "acme-canary"})
    run = await acme.runs.create(thread["thread_id"], "refund_agent", input=REQUEST)
    await acme.runs.join(thread["thread_id"], run["run_id"])

    errors: list[Any] = []
    for call in (
        globex.threads.get(thread["thread_id"]),
        globex.threads.get_state(thread["thread_id"]),
        globex.runs.get(thread["thread_id"], run["run_id"]),
        globex.runs.create(
            thread["thread_id"], "refund_agent", command={"resume": [{"type": "accept"}]}
        ),
    ):
        with pytest.raises(httpx.HTTPStatusError) as denied:
            await call
        errors.append(denied.value.response)
    assert {e.status_code for e in errors} == {404}
    assert await globex.threads.search(status="interrupted") == []
    assert await globex.threads.count() == 0
    assert await acme.threads.count(status="interrupted") >= 1
    assert (await acme.threads.get(thread["thread_id"]))["status"] == "interrupted"


async def test_join_a_threads_stream(server: LiveServer) -> None:
    async with sdk(server, "acme") as client:
        tid = (await client.threads.create())["thread_id"]
        seen: list[Any] = []

        async def join(last_event_id: str | None, until: Any) -> list[Any]:
            parts: list[Any] = []
            stream = await client.threads.join_stream(tid, last_event_id=last_event_id)
            async for part in stream:
                parts.append(part)
                if until(part):
                    break
            return parts

        joining = asyncio.create_task(
            join(None, lambda p: p.event == "values" and len(p.data.get("done", [])) == 3)
        )
        await asyncio.sleep(0.5)  # the join is in place: it follows runs started from now on
        first = await client.runs.create(tid, "slow", input={"steps": 3, "seconds": 0.2})
        seen = await asyncio.wait_for(joining, 30)
        assert {p.event for p in seen} >= {"metadata", "values"}
        assert all(p.id.startswith(f"{first['run_id']}:") for p in seen)
        # resumed after the first event: the rest of that run, then the runs after it
        second = await client.runs.create(tid, "slow", input={"steps": 1, "seconds": 0.2})
        resumed = await asyncio.wait_for(
            join(
                seen[0].id,
                lambda p: p.id.startswith(f"{second['run_id']}:") and p.event == "values",
            ),
            30,
        )
        assert resumed[0].id == seen[1].id  # the event after the one given
        assert any(p.id.startswith(f"{second['run_id']}:") for p in resumed)
    async with sdk(server, "other") as stranger:
        with pytest.raises(httpx.HTTPStatusError) as refused:
            async for _ in await stranger.threads.join_stream(tid):
                pass
        assert refused.value.response.status_code == 404
