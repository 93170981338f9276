"""The store API (LangGraph Server's ``/store``) on every backend: items, search, namespaces,
bad input, permissions, tenant isolation, TTL, and graphs that keep memories in it."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, cast

import httpx
import pytest
from langgraph.store.base import PutOp, SearchOp

from service import tenancy
from service.engine.tenant_store import TenantStores
from tests.api.helpers import new_thread, ok
from tests.fixtures.app import Api


def _inner(api: Api) -> Any:
    """The store under the tenant scoping, as the service holds it."""
    return cast(TenantStores, api.runtime.memory).inner


async def put(
    client: httpx.AsyncClient, namespace: list[str], key: str, value: Any, **extra: Any
) -> httpx.Response:
    return await client.put(
        "/store/items", json={"namespace": namespace, "key": key, "value": value, **extra}
    )


async def get(client: httpx.AsyncClient, namespace: list[str], key: str) -> httpx.Response:
    return await client.get("/store/items", params={"namespace": ".".join(namespace), "key": key})


async def search(client: httpx.AsyncClient, **body: Any) -> list[dict[str, Any]]:
    found = await ok(await client.post("/store/items/search", json=body))
    return cast(list[dict[str, Any]], found["items"])


async def namespaces(client: httpx.AsyncClient, **body: Any) -> list[list[str]]:
    found = await ok(await client.post("/store/namespaces", json=body))
    return cast(list[list[str]], found["namespaces"])


class TestItems:
    async def test_put_get_update_delete(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            assert (
                await put(client, ["users", "alice"], "prefs", {"tea": True})
            ).status_code == 204
            item = await ok(await get(client, ["users", "alice"], "prefs"))
            assert item["namespace"] == ["users", "alice"]
            assert item["key"] == "prefs"
            assert item["value"] == {"tea": True}
            assert item["created_at"]
            assert item["updated_at"]
            await ok(await put(client, ["users", "alice"], "prefs", {"tea": False}), 204)
            updated = await ok(await get(client, ["users", "alice"], "prefs"))
            assert updated["value"] == {"tea": False}
            assert updated["created_at"] == item["created_at"]
            deleted = await client.request(
                "DELETE", "/store/items", json={"namespace": ["users", "alice"], "key": "prefs"}
            )
            assert deleted.status_code == 204
            assert await ok(await get(client, ["users", "alice"], "prefs")) is None

    async def test_the_store_holds_the_namespace_under_the_tenant(
        self, api: Api, tenant: str
    ) -> None:
        async with api.client(tenant) as client:
            await ok(await put(client, ["users", "bob"], "k", {"v": 1}), 204)
        (held,) = await _inner(api).asearch((tenant, "users", "bob"))
        assert held.namespace == (tenant, "users", "bob")
        assert held.value == {"v": 1}

    async def test_search_filters_and_pages(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            for n in range(6):
                kind = "even" if n % 2 == 0 else "odd"
                await ok(await put(client, ["docs", "u1"], f"d{n}", {"n": n, "kind": kind}), 204)
            await ok(await put(client, ["notes"], "x", {"n": 99, "kind": "even"}), 204)
            evens = await search(client, namespace_prefix=["docs"], filter={"kind": "even"})
            assert sorted(i["value"]["n"] for i in evens) == [0, 2, 4]
            assert all(i["namespace"] == ["docs", "u1"] for i in evens)
            assert all("score" in i for i in evens)
            first = await search(client, namespace_prefix=["docs"], limit=4)
            rest = await search(client, namespace_prefix=["docs"], limit=4, offset=4)
            assert len(first) == 4
            assert len(rest) == 2
            assert {i["key"] for i in first} | {i["key"] for i in rest} == {
                f"d{n}" for n in range(6)
            }
            everything = await search(client, limit=100)
            assert len(everything) == 7
            assert await search(client, namespace_prefix=["doc"]) == []

    async def test_index_and_query_are_accepted_without_vector_search(
        self, api: Api, tenant: str
    ) -> None:
        """``index`` and ``query`` (vector search, not configured) change nothing: the item is
        stored, the search is a plain one."""
        async with api.client(tenant) as client:
            await ok(await put(client, ["idx"], "a", {"text": "tea"}, index=["text"]), 204)
            await ok(await put(client, ["idx"], "b", {"text": "cake"}, index=False), 204)
            found = await search(client, namespace_prefix=["idx"], query="tea")
            assert sorted(i["key"] for i in found) == ["a", "b"]
            assert all(i["score"] is None for i in found)

    async def test_namespaces_by_prefix_suffix_and_depth(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            for namespace in (["a", "b", "c"], ["a", "x"], ["z", "b"]):
                await ok(await put(client, namespace, "k", {"v": 1}), 204)
            assert sorted(await namespaces(client)) == [["a", "b", "c"], ["a", "x"], ["z", "b"]]
            assert sorted(await namespaces(client, prefix=["a"])) == [["a", "b", "c"], ["a", "x"]]
            assert await namespaces(client, suffix=["b"]) == [["z", "b"]]
            assert sorted(await namespaces(client, max_depth=1)) == [["a"], ["z"]]
            assert sorted(await namespaces(client, prefix=["a"], max_depth=2)) == [
                ["a", "b"],
                ["a", "x"],
            ]
            assert len(await namespaces(client, limit=2)) == 2
            assert await namespaces(client, prefix=["nothing"]) == []


BAD_PUTS = [
    {"namespace": [], "key": "k", "value": {}},
    {"namespace": ["a.b"], "key": "k", "value": {}},
    {"namespace": ["a", ""], "key": "k", "value": {}},
    {"namespace": "users", "key": "k", "value": {}},
    {"namespace": ["a"], "key": "", "value": {}},
    {"namespace": ["a"], "key": "k", "value": [1, 2]},
    {"namespace": ["a"], "key": "k", "value": "text"},
    {"namespace": ["a"], "key": "k"},
    {"namespace": ["a"], "key": "k", "value": {}, "ttl": -1},
]


class TestRowSecurity:
    async def test_postgres_shows_a_session_only_its_tenants_rows(
        self, api: Api, tenant: str
    ) -> None:
        """Under the prefix, row-level security on LangGraph's ``store`` table (the service's
        own role: a superuser is exempt)."""
        if api.backend != "postgres" or api.settings.database_url == api.admin_url:
            pytest.skip("row-level security binds the service's own role on Postgres")
        async with api.client(tenant) as client:
            await ok(await put(client, ["rls"], "k", {"v": 1}), 204)
        # ``abatch`` runs in this task (``aget``/``asearch`` of LangGraph's store hand the
        # work to a background task of its own, which acts for no tenant in particular)
        inner = _inner(api)
        with tenancy.acting_for(f"{tenant}-b"):
            assert await inner.abatch([SearchOp((tenant, "rls"))]) == [[]]
            with pytest.raises(Exception, match="row-level security"):
                await inner.abatch([PutOp((tenant, "rls"), "k", {"v": 2})])
        with tenancy.acting_for(tenant):
            [[item]] = await inner.abatch([SearchOp((tenant, "rls"))])
            assert item.value == {"v": 1}


class TestBadInput:
    @pytest.mark.parametrize("body", BAD_PUTS)
    async def test_a_bad_put_is_422(self, api: Api, tenant: str, body: dict[str, Any]) -> None:
        async with api.client(tenant) as client:
            answer = await client.put("/store/items", json=body)
        assert answer.status_code == 422, answer.text
        assert set(answer.json()) == {"detail", "code"}

    @pytest.mark.parametrize(
        ("path", "body"),
        [
            ("/store/items/search", {"limit": 0}),
            ("/store/items/search", {"limit": 100_000}),
            ("/store/items/search", {"offset": -1}),
            ("/store/items/search", {"namespace_prefix": ["a.b"]}),
            ("/store/items/search", {"filter": "kind"}),
            ("/store/namespaces", {"max_depth": 0}),
            ("/store/namespaces", {"limit": "many"}),
            ("/store/namespaces", {"prefix": ["x.y"]}),
            ("/store/items/search", {"offset": False}),  # found by schemathesis, as are:
            ("/store/items/search", {"filter": {"\U0001abfbC": True}}),  # 500 on SQLite
            ("/store/items/search", {"filter": {"": 1}}),
            ("/store/items/search", {"filter": {"n": {"$regex": "x"}}}),
            ("/store/namespaces", {"offset": False}),
            ("/store/namespaces", {"max_depth": True}),
        ],
    )
    async def test_bad_search_and_listing_is_422(
        self, api: Api, tenant: str, path: str, body: dict[str, Any]
    ) -> None:
        async with api.client(tenant) as client:
            answer = await client.post(path, json=body)
        assert answer.status_code == 422, answer.text
        assert set(answer.json()) == {"detail", "code"}

    async def test_a_get_without_namespace_or_key_is_422(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            no_namespace = await client.get("/store/items", params={"key": "k"})
            no_key = await client.get("/store/items", params={"namespace": "a"})
            empty_label = await client.get("/store/items", params={"namespace": "a..b", "key": "k"})
        assert [a.status_code for a in (no_namespace, no_key, empty_label)] == [422, 422, 422]


class TestPermissions:
    async def test_a_viewer_reads_but_cannot_write(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as writer:
            await ok(await put(writer, ["shared"], "k", {"v": 1}), 204)
        async with api.client(tenant, subject="vera", roles=("viewer",)) as viewer:
            assert (await ok(await get(viewer, ["shared"], "k")))["value"] == {"v": 1}
            assert len(await search(viewer, namespace_prefix=["shared"])) == 1
            refused = await put(viewer, ["shared"], "k", {"v": 2})
            assert refused.status_code == 403
            assert refused.json()["code"] == "forbidden"
            refused_delete = await viewer.request(
                "DELETE", "/store/items", json={"namespace": ["shared"], "key": "k"}
            )
            assert refused_delete.status_code == 403
        async with api.client(tenant) as writer:
            assert (await ok(await get(writer, ["shared"], "k")))["value"] == {"v": 1}

    async def test_no_role_no_reading(self, api: Api, tenant: str) -> None:
        async with api.client(tenant, subject="nobody", roles=()) as client:
            answer = await client.post("/store/items/search", json={})
        assert answer.status_code == 403


class TestIsolation:
    async def test_another_tenant_sees_nothing(self, api: Api, tenant: str) -> None:
        other = f"{tenant}-b"
        async with api.client(tenant) as a:
            await ok(await put(a, ["users", "alice"], "secret", {"pin": 1234}), 204)
        async with api.client(other) as b:
            missing = await get(b, ["users", "alice"], "secret")
            assert missing.status_code == 200  # as for a key nobody put: null
            assert missing.json() is None
            assert await search(b, limit=1000) == []
            assert await search(b, namespace_prefix=["users"]) == []
            assert await namespaces(b) == []
            assert await namespaces(b, prefix=[tenant]) == []
            # the same names in b's tenant are b's own
            await ok(await put(b, ["users", "alice"], "secret", {"pin": 0}), 204)
            deleted = await b.request(
                "DELETE", "/store/items", json={"namespace": ["users", "alice"], "key": "secret"}
            )
            assert deleted.status_code == 204
            # a namespace naming the other tenant is a namespace of b's
            await ok(await put(b, [tenant, "users", "alice"], "secret", {"pin": 5}), 204)
        async with api.client(tenant) as a:
            assert (await ok(await get(a, ["users", "alice"], "secret")))["value"] == {"pin": 1234}
            assert await namespaces(a) == [["users", "alice"]]


class TestTtl:
    async def test_an_expired_item_is_swept(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            await ok(await put(client, ["tmp"], "brief", {"v": 1}, ttl=0.001), 204)
            await ok(await put(client, ["tmp"], "lasting", {"v": 2}), 204)
            await asyncio.sleep(1.1)  # SQLite compares expiry with a clock in whole seconds
            await _inner(api).sweep_ttl()
            assert await ok(await get(client, ["tmp"], "brief")) is None
            assert (await ok(await get(client, ["tmp"], "lasting")))["value"] == {"v": 2}


class TestGraphMemory:
    async def test_a_graph_remembers_across_threads_in_its_tenant(
        self, api: Api, tenant: str
    ) -> None:
        user = f"u-{uuid.uuid4().hex[:6]}"
        config = {"configurable": {"user_id": user}}
        async with api.client(tenant) as client:
            first = await new_thread(client)
            told = await ok(
                await client.post(
                    f"/threads/{first['thread_id']}/runs/wait",
                    json={
                        "assistant_id": "memory_graph",
                        "input": {"remember": "likes tea"},
                        "config": config,
                    },
                )
            )
            assert told["memories"] == ["likes tea"]
            second = await new_thread(client)
            recalled = await ok(
                await client.post(
                    f"/threads/{second['thread_id']}/runs/wait",
                    json={"assistant_id": "memory_graph", "input": {}, "config": config},
                )
            )
            assert recalled["memories"] == ["likes tea"]
            (item,) = await search(client, namespace_prefix=["memories", user])
            assert item["value"] == {"text": "likes tea"}
        async with api.client(f"{tenant}-b") as other:
            assert await search(other, namespace_prefix=["memories"]) == []
            thread = await new_thread(other)
            theirs = await ok(
                await other.post(
                    f"/threads/{thread['thread_id']}/runs/wait",
                    json={"assistant_id": "memory_graph", "input": {}, "config": config},
                )
            )
            assert theirs["memories"] == []
