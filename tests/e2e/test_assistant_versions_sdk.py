"""Assistant versions and ``assistants.delete(delete_threads=True)`` through the official
Python SDK against a live server, on both backends."""

from __future__ import annotations

import uuid

import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import NotFoundError

from tests.fixtures.live import LiveServer

pytestmark = pytest.mark.e2e
RUN = uuid.uuid4().hex[:8]
ROLES = ("tenant_admin", "editor", "agent")


def sdk(server: LiveServer, tenant: str) -> LangGraphClient:
    token = server.mint(f"{tenant}-{RUN}", "ada", ROLES)
    return get_client(url=server.url, headers={"Authorization": f"Bearer {token}"}, api_key=None)


async def test_versions_and_set_latest(server: LiveServer) -> None:
    async with sdk(server, "versions") as client:
        created = await client.assistants.create(
            "slow", config={"configurable": {"tone": "calm"}}, name="first"
        )
        aid = created["assistant_id"]
        # version 2 runs another graph: which version is current shows in how runs end
        await client.assistants.update(aid, graph_id="failing", name="second")
        await client.assistants.update(aid, metadata={"stage": "three"})
        versions = await client.assistants.get_versions(aid)
        assert [v["version"] for v in versions] == [3, 2, 1]
        assert [v["graph_id"] for v in versions] == ["failing", "failing", "slow"]
        assert versions[2]["config"] == {"configurable": {"tone": "calm"}}
        assert [v["version"] for v in await client.assistants.get_versions(aid, limit=1)] == [3]
        tagged = await client.assistants.get_versions(aid, metadata={"stage": "three"})
        assert [v["version"] for v in tagged] == [3]

        thread = await client.threads.create()
        failed = await client.runs.create(thread["thread_id"], aid, input={"message": "v3"})
        await client.runs.join(thread["thread_id"], failed["run_id"])
        assert (await client.runs.get(thread["thread_id"], failed["run_id"]))["status"] == "error"

        current = await client.assistants.set_latest(aid, 1)
        assert current["version"] == 1
        assert current["graph_id"] == "slow"
        assert (await client.assistants.get(aid))["name"] == "first"
        other = await client.threads.create()
        result = await client.runs.wait(other["thread_id"], aid, input={"steps": 1, "seconds": 0})
        assert isinstance(result, dict)
        assert result["done"] == [1]
        run = (await client.runs.list(other["thread_id"]))[0]
        assert run["status"] == "success"
        assert run["kwargs"]["config"]["configurable"]["tone"] == "calm"

        with pytest.raises(NotFoundError):
            await client.assistants.set_latest(aid, 9)


async def test_versions_are_not_visible_to_another_tenant(server: LiveServer) -> None:
    async with sdk(server, "owner") as mine, sdk(server, "stranger") as theirs:
        aid = (await mine.assistants.create("slow"))["assistant_id"]
        with pytest.raises(NotFoundError):
            await theirs.assistants.get_versions(aid)
        with pytest.raises(NotFoundError):
            await theirs.assistants.set_latest(aid, 1)
        assert [v["version"] for v in await mine.assistants.get_versions(aid)] == [1]


async def test_delete_with_its_threads(server: LiveServer) -> None:
    async with sdk(server, "cleanup") as client:
        aid = (await client.assistants.create("slow"))["assistant_id"]
        ran = []
        for _ in range(2):
            thread = await client.threads.create()
            await client.runs.wait(thread["thread_id"], aid, input={"steps": 1, "seconds": 0})
            ran.append(thread["thread_id"])
        bystander = await client.threads.create()
        await client.runs.wait(bystander["thread_id"], "slow", input={"steps": 1, "seconds": 0})

        await client.assistants.delete(aid, delete_threads=True)

        for thread_id in ran:
            with pytest.raises(NotFoundError):
                await client.threads.get(thread_id)
            with pytest.raises(NotFoundError):
                await client.threads.get_history(thread_id)
        with pytest.raises(NotFoundError):
            await client.assistants.get(aid)
        assert (await client.threads.get(bystander["thread_id"]))["status"] == "idle"
