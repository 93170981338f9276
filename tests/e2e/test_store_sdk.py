"""``client.store`` of the official ``langgraph-sdk`` against a live server, on both backends:
the whole store surface, tenant isolation, and a graph that keeps its memories in the store."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import PermissionDeniedError, UnprocessableEntityError

from tests.fixtures.live import LiveServer

pytestmark = pytest.mark.e2e
RUN = uuid.uuid4().hex[:8]
ROLES = ("tenant_admin", "editor", "agent")


def sdk(
    server: LiveServer, tenant: str, subject: str = "ada", roles: tuple[str, ...] = ROLES
) -> LangGraphClient:
    token = server.mint(f"{tenant}-{RUN}", subject, roles)
    return get_client(url=server.url, headers={"Authorization": f"Bearer {token}"}, api_key=None)


async def test_the_store_surface(server: LiveServer) -> None:
    async with sdk(server, "store") as client:
        store = client.store
        await store.put_item(["users", "alice"], "prefs", {"theme": "dark"})
        item = await store.get_item(["users", "alice"], "prefs")
        assert item["namespace"] == ["users", "alice"]
        assert (item["key"], item["value"]) == ("prefs", {"theme": "dark"})
        assert item["created_at"]
        assert item["updated_at"]

        for n in range(5):
            await store.put_item(["docs", "u1"], f"d{n}", {"n": n, "odd": n % 2 == 1})
        await store.put_item(["docs", "u2", "drafts"], "x", {"n": 9, "odd": True}, ttl=60)
        odd = await store.search_items(["docs"], filter={"odd": True}, limit=10)
        assert sorted(i["value"]["n"] for i in odd["items"]) == [1, 3, 9]
        page1 = await store.search_items(["docs", "u1"], limit=3)
        page2 = await store.search_items(["docs", "u1"], limit=3, offset=3)
        keys = [i["key"] for i in page1["items"] + page2["items"]]
        assert sorted(keys) == [f"d{n}" for n in range(5)]
        assert len(page1["items"]) == 3
        refreshed = await store.get_item(["docs", "u2", "drafts"], "x", refresh_ttl=True)
        assert refreshed["value"]["n"] == 9

        listed = await store.list_namespaces()
        assert sorted(listed["namespaces"]) == [
            ["docs", "u1"],
            ["docs", "u2", "drafts"],
            ["users", "alice"],
        ]
        docs = await store.list_namespaces(prefix=["docs"], max_depth=2)
        assert sorted(docs["namespaces"]) == [["docs", "u1"], ["docs", "u2"]]
        drafts = await store.list_namespaces(suffix=["drafts"])
        assert drafts["namespaces"] == [["docs", "u2", "drafts"]]
        assert len((await store.list_namespaces(limit=1))["namespaces"]) == 1

        await store.delete_item(["users", "alice"], "prefs")
        assert await store.get_item(["users", "alice"], "prefs") is None
        with pytest.raises(UnprocessableEntityError):
            await store.search_items(["docs"], limit=0)


async def test_tenants_are_isolated_and_viewers_read_only(server: LiveServer) -> None:
    # the viewer's role is granted (by the CLI) before the server first loads the tenant's
    # policy: a grant made later reaches a running server within a second, not at once
    viewing = sdk(server, "store-a", subject="vera", roles=("viewer",))
    async with sdk(server, "store-a") as a, sdk(server, "store-b") as b:
        await a.store.put_item(["users", "alice"], "secret", {"pin": 1234})
        assert await b.store.get_item(["users", "alice"], "secret") is None
        assert (await b.store.search_items([], limit=100))["items"] == []
        assert (await b.store.list_namespaces())["namespaces"] == []
        await b.store.put_item(["users", "alice"], "secret", {"pin": 0})
        await b.store.delete_item(["users", "alice"], "secret")
        assert (await a.store.get_item(["users", "alice"], "secret"))["value"] == {"pin": 1234}
    async with viewing as viewer:
        assert (await viewer.store.get_item(["users", "alice"], "secret"))["value"]["pin"] == 1234
        with pytest.raises(PermissionDeniedError):
            await viewer.store.put_item(["users", "alice"], "secret", {"pin": 1})


async def test_a_graph_remembers_across_threads(server: LiveServer) -> None:
    user = f"u-{uuid.uuid4().hex[:6]}"
    config: Any = {"configurable": {"user_id": user}}
    async with sdk(server, "memory-a") as client, sdk(server, "memory-b") as other:
        first = await client.threads.create()
        told = await client.runs.wait(
            first["thread_id"], "memory_graph", input={"remember": "likes tea"}, config=config
        )
        assert isinstance(told, dict)
        assert told["memories"] == ["likes tea"]
        second = await client.threads.create()
        recalled = await client.runs.wait(
            second["thread_id"], "memory_graph", input={"user_id": user}, config=config
        )
        assert isinstance(recalled, dict)
        assert recalled["memories"] == ["likes tea"]

        found = await client.store.search_items(["memories", user])
        assert [i["value"] for i in found["items"]] == [{"text": "likes tea"}]
        assert (await client.store.get_item(["memories", user], "fact-1"))["value"] == {
            "text": "likes tea"
        }
        assert (await other.store.search_items(["memories"]))["items"] == []
        assert (await other.store.list_namespaces(prefix=["memories"]))["namespaces"] == []
        theirs = await other.threads.create()
        blank = await other.runs.wait(
            theirs["thread_id"], "memory_graph", input={"user_id": user}, config=config
        )
        assert isinstance(blank, dict)
        assert blank["memories"] == []
