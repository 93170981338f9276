from __future__ import annotations

import asyncio

from tests.api.helpers import ok
from tests.fixtures.app import Api


class TestDefaultAssistants:
    async def test_each_graph_has_a_default_assistant(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            found = await ok(await client.post("/assistants/search", json={"limit": 100}))
        assert {a["graph_id"] for a in found} >= {"publish_workflow", "refund_agent"}
        assert all(a["metadata"]["created_by"] == "system" for a in found)

    async def test_graph_id_resolves_to_the_default(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            by_graph = await ok(await client.get("/assistants/refund_agent"))
            by_id = await ok(await client.get(f"/assistants/{by_graph['assistant_id']}"))
        assert by_id == by_graph

    async def test_defaults_differ_per_tenant(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as a, api.client(tenant + "x") as b:
            mine = await ok(await a.get("/assistants/refund_agent"))
            theirs = await ok(await b.get("/assistants/refund_agent"))
            assert mine["assistant_id"] != theirs["assistant_id"]
            foreign = await b.get(f"/assistants/{mine['assistant_id']}")
        assert foreign.status_code == 404


class TestAssistantLifecycle:
    async def test_create_update_count_delete(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            created = await ok(
                await client.post(
                    "/assistants",
                    json={
                        "graph_id": "refund_agent",
                        "name": "strict refunds",
                        "config": {"configurable": {"limit": 10}},
                        "metadata": {"team": "finance"},
                    },
                )
            )
            assert created["version"] == 1
            patched = await ok(
                await client.patch(
                    f"/assistants/{created['assistant_id']}", json={"metadata": {"tier": "gold"}}
                )
            )
            assert patched["version"] == 2
            assert patched["metadata"]["team"] == "finance"
            assert patched["metadata"]["tier"] == "gold"
            count = await ok(
                await client.post("/assistants/count", json={"metadata": {"team": "finance"}})
            )
            assert count == 1
            found = await ok(
                await client.post("/assistants/search", json={"metadata": {"tier": "gold"}})
            )
            assert [a["assistant_id"] for a in found] == [created["assistant_id"]]
            await ok(await client.delete(f"/assistants/{created['assistant_id']}"), 204)
            gone = await client.get(f"/assistants/{created['assistant_id']}")
        assert gone.status_code == 404

    async def test_unknown_graph_is_422(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            response = await client.post("/assistants", json={"graph_id": "nope"})
        assert response.status_code == 422
        assert response.json()["code"] == "invalid_input"

    async def test_if_exists(self, api: Api, tenant: str) -> None:
        body = {"graph_id": "refund_agent", "assistant_id": "fixed-id", "name": "one"}
        async with api.client(tenant) as client:
            await ok(await client.post("/assistants", json=body))
            again = await client.post("/assistants", json=body)
            assert again.status_code == 409
            same = await ok(
                await client.post("/assistants", json={**body, "if_exists": "do_nothing"})
            )
        assert same["name"] == "one"

    async def test_schemas_and_graph(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            schemas = await ok(await client.get("/assistants/refund_agent/schemas"))
            drawn = await ok(await client.get("/assistants/refund_agent/graph"))
        assert schemas["graph_id"] == "refund_agent"
        assert "request" in schemas["input_schema"]["properties"]
        assert {n["id"] for n in drawn["nodes"]} >= {"plan", "review", "act"}


class TestAssistantIdsPerTenant:
    async def test_concurrent_creates_with_do_nothing_all_get_the_assistant(
        self, api: Api, tenant: str
    ) -> None:
        body = {
            "graph_id": "refund_agent",
            "assistant_id": f"a-{tenant}",
            "if_exists": "do_nothing",
        }
        async with api.client(tenant) as client:
            replies = await asyncio.gather(
                *(client.post("/assistants", json=body) for _ in range(12))
            )
            assert [r.status_code for r in replies] == [200] * 12, [r.text for r in replies]
            assert {r.json()["assistant_id"] for r in replies} == {body["assistant_id"]}
            again = await client.post("/assistants", json={**body, "if_exists": "raise"})
            assert again.status_code == 409

    async def test_an_id_another_tenant_holds_looks_free(self, api: Api, tenant: str) -> None:
        body = {"graph_id": "refund_agent", "assistant_id": f"shared-{tenant}", "name": "mine"}
        async with api.client(tenant) as first, api.client(f"{tenant}-b") as second:
            assert (await first.post("/assistants", json=body)).status_code == 200
            theirs = await second.post("/assistants", json={**body, "name": "theirs"})
            assert theirs.status_code == 200, theirs.text
            got_first = await ok(await first.get(f"/assistants/{body['assistant_id']}"))
            got_second = await ok(await second.get(f"/assistants/{body['assistant_id']}"))
            assert (got_first["name"], got_second["name"]) == ("mine", "theirs")
