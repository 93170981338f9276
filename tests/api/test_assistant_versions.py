"""Assistant versions (``POST /assistants/{id}/versions``, ``/latest``) and
``DELETE /assistants/{id}?delete_threads=true``, on each backend."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.api.helpers import new_thread, ok
from tests.fixtures.app import Api


async def _assistant(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    body = {"graph_id": "slow", "name": "v1", "config": {"configurable": {"tone": "one"}}, **body}
    return await ok(await client.post("/assistants", json=body))  # type: ignore[no-any-return]


async def _versions(client: httpx.AsyncClient, assistant_id: str, **body: Any) -> list[Any]:
    return await ok(await client.post(f"/assistants/{assistant_id}/versions", json=body))  # type: ignore[no-any-return]


class TestVersions:
    async def test_create_and_each_update_write_a_version(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            created = await _assistant(client, metadata={"team": "a"})
            aid = created["assistant_id"]
            await ok(
                await client.patch(
                    f"/assistants/{aid}",
                    json={"name": "v2", "config": {"configurable": {"tone": "two"}}},
                )
            )
            third = await ok(
                await client.patch(f"/assistants/{aid}", json={"metadata": {"stage": "3"}})
            )
            versions = await _versions(client, aid)
        assert third["version"] == 3
        assert [v["version"] for v in versions] == [3, 2, 1]  # newest first
        assert [v["name"] for v in versions] == ["v2", "v2", "v1"]
        assert versions[2]["config"] == {"configurable": {"tone": "one"}}
        assert versions[1]["config"] == {"configurable": {"tone": "two"}}
        assert versions[0]["metadata"]["stage"] == "3"
        assert "stage" not in versions[1]["metadata"]
        assert all(v["assistant_id"] == aid and v["graph_id"] == "slow" for v in versions)

    async def test_filter_limit_offset(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            aid = (await _assistant(client))["assistant_id"]
            for n in range(3):
                await ok(await client.patch(f"/assistants/{aid}", json={"metadata": {"n": n}}))
            page = await _versions(client, aid, limit=2, offset=1)
            matching = await _versions(client, aid, metadata={"n": 1})
        assert [v["version"] for v in page] == [3, 2]
        assert [v["version"] for v in matching] == [3]

    async def test_concurrent_updates_each_get_a_version(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            aid = (await _assistant(client))["assistant_id"]
            answers = await asyncio.gather(
                *(client.patch(f"/assistants/{aid}", json={"metadata": {"n": n}}) for n in range(6))
            )
            versions = await _versions(client, aid)
        assert [r.status_code for r in answers] == [200] * 6
        assert sorted(r.json()["version"] for r in answers) == [2, 3, 4, 5, 6, 7]
        assert [v["version"] for v in versions] == [7, 6, 5, 4, 3, 2, 1]

    async def test_default_assistant_has_version_one(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            versions = await _versions(client, "refund_agent")
        assert [v["version"] for v in versions] == [1]
        assert versions[0]["graph_id"] == "refund_agent"

    async def test_set_latest_makes_a_version_current_for_new_runs(
        self, api: Api, tenant: str
    ) -> None:
        async with api.client(tenant) as client:
            aid = (await _assistant(client))["assistant_id"]
            await ok(
                await client.patch(
                    f"/assistants/{aid}",
                    json={"name": "v2", "config": {"configurable": {"tone": "two"}}},
                )
            )
            current = await ok(await client.post(f"/assistants/{aid}/latest", json={"version": 1}))
            got = await ok(await client.get(f"/assistants/{aid}"))
            thread = await new_thread(client)
            run = await ok(
                await client.post(
                    f"/threads/{thread['thread_id']}/runs",
                    json={"assistant_id": aid, "input": {"steps": 1, "seconds": 0}},
                )
            )
            # an update after going back is a new version, after the highest one
            after = await ok(await client.patch(f"/assistants/{aid}", json={"name": "v3"}))
            versions = await _versions(client, aid)
        assert current["version"] == 1
        assert current["name"] == "v1"
        assert got["version"] == 1
        assert got["config"] == {"configurable": {"tone": "one"}}
        assert run["kwargs"]["config"]["configurable"]["tone"] == "one"
        assert after["version"] == 3
        assert after["config"] == {"configurable": {"tone": "one"}}
        assert [v["version"] for v in versions] == [3, 2, 1]

    async def test_unknown_version_and_bad_body(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            aid = (await _assistant(client))["assistant_id"]
            missing = await client.post(f"/assistants/{aid}/latest", json={"version": 7})
            bad = await client.post(f"/assistants/{aid}/latest", json={"version": "x"})
            unknown = await client.post("/assistants/nope/versions", json={})
        assert missing.status_code == 404
        assert missing.json()["code"] == "not_found"
        assert bad.status_code == 422
        assert "code" in bad.json()
        assert unknown.status_code == 404

    async def test_another_tenant_learns_nothing(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as a, api.client(tenant + "b") as b:
            aid = (await _assistant(a))["assistant_id"]
            listed = await b.post(f"/assistants/{aid}/versions", json={})
            latest = await b.post(f"/assistants/{aid}/latest", json={"version": 1})
            unknown = await b.post("/assistants/never-was/versions", json={})
            still = await _versions(a, aid)
        assert listed.status_code == latest.status_code == unknown.status_code == 404
        assert listed.json() == unknown.json()
        assert [v["version"] for v in still] == [1]

    async def test_reader_cannot_set_latest(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as admin:
            aid = (await _assistant(admin))["assistant_id"]
            await ok(await admin.patch(f"/assistants/{aid}", json={"name": "v2"}))
        async with api.client(tenant, "rita", roles=("reviewer",)) as reader:
            listed = await reader.post(f"/assistants/{aid}/versions", json={})
            refused = await reader.post(f"/assistants/{aid}/latest", json={"version": 1})
        async with api.client(tenant) as admin:
            current = await ok(await admin.get(f"/assistants/{aid}"))
        assert refused.status_code == 403
        assert current["version"] == 2
        assert listed.status_code == 200  # a reviewer reads assistants


class TestDeleteThreads:
    async def test_deletes_the_assistants_threads_only(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            aid = (await _assistant(client))["assistant_id"]
            mine = []
            for _ in range(2):
                thread = await new_thread(client)
                await ok(
                    await client.post(
                        f"/threads/{thread['thread_id']}/runs/wait",
                        json={"assistant_id": aid, "input": {"steps": 1, "seconds": 0}},
                    )
                )
                mine.append(thread["thread_id"])
            other = await new_thread(client)
            await ok(
                await client.post(
                    f"/threads/{other['thread_id']}/runs/wait",
                    json={"assistant_id": "slow", "input": {"steps": 1, "seconds": 0}},
                )
            )
            await ok(await client.delete(f"/assistants/{aid}?delete_threads=true"), 204)
            gone = [await client.get(f"/threads/{t}") for t in mine]
            history = [await client.post(f"/threads/{t}/history", json={}) for t in mine]
            kept = await client.get(f"/threads/{other['thread_id']}")
            assistant = await client.get(f"/assistants/{aid}")
            versions = await client.post(f"/assistants/{aid}/versions", json={})
        assert [r.status_code for r in gone] == [404, 404]
        assert [r.status_code for r in history] == [404, 404]
        assert kept.status_code == 200
        assert assistant.status_code == versions.status_code == 404
        checkpoints = [
            await api.runtime.engine.checkpointer.aget_tuple(
                {"configurable": {"thread_id": t, "checkpoint_ns": ""}}
            )
            for t in mine
        ]
        assert checkpoints == [None, None]

    async def test_without_the_flag_threads_stay(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            aid = (await _assistant(client))["assistant_id"]
            thread = await new_thread(client)
            await ok(
                await client.post(
                    f"/threads/{thread['thread_id']}/runs/wait",
                    json={"assistant_id": aid, "input": {"steps": 1, "seconds": 0}},
                )
            )
            await ok(await client.delete(f"/assistants/{aid}"), 204)
            kept = await client.get(f"/threads/{thread['thread_id']}")
        assert kept.status_code == 200

    async def test_a_run_in_flight_is_cancelled_with_its_thread(
        self, api: Api, tenant: str
    ) -> None:
        async with api.client(tenant) as client:
            aid = (await _assistant(client))["assistant_id"]
            thread = await new_thread(client)
            run = await ok(
                await client.post(
                    f"/threads/{thread['thread_id']}/runs",
                    json={"assistant_id": aid, "input": {"steps": 50, "seconds": 0.1}},
                )
            )
            await ok(await client.delete(f"/assistants/{aid}?delete_threads=true"), 204)
            gone = await client.get(f"/threads/{thread['thread_id']}")
            run_gone = await client.get(f"/threads/{thread['thread_id']}/runs/{run['run_id']}")
        assert gone.status_code == 404
        assert run_gone.status_code == 404
