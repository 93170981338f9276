"""``POST /runs/batch`` and ``POST /runs/cancel``: several runs in one request, each through
the one-run use cases, within the caller's tenant only."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.api.helpers import new_thread, ok, wait_for_status
from tests.fixtures.app import Api

SLOW = {"assistant_id": "slow", "input": {"steps": 50, "seconds": 0.2}}


async def _slow_run(client: httpx.AsyncClient, tid: str) -> dict[str, Any]:
    run: dict[str, Any] = await ok(await client.post(f"/threads/{tid}/runs", json=SLOW))
    return run


class TestBatch:
    async def test_a_batch_creates_one_stateless_run_each(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            body = [
                {"assistant_id": "slow", "input": {"steps": 1}, "on_completion": "keep"},
                {"assistant_id": "slow", "input": {"steps": 2}, "on_completion": "keep"},
            ]
            created = await ok(await client.post("/runs/batch", json=body))
            graphs = [
                (await ok(await client.get(f"/assistants/{r['assistant_id']}")))["graph_id"]
                for r in created
            ]
            assert graphs == ["slow", "slow"]
            assert len({r["run_id"] for r in created}) == 2
            assert len({r["thread_id"] for r in created}) == 2
            for steps, run in enumerate(created, start=1):  # in the order asked
                done = await wait_for_status(client, run["thread_id"], run["run_id"], {"success"})
                assert done["status"] == "success"
                thread = await ok(await client.get(f"/threads/{run['thread_id']}"))
                assert thread["values"]["done"] == list(range(1, steps + 1))

    async def test_bad_batches_are_refused_whole(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            empty = await client.post("/runs/batch", json=[])
            assert empty.status_code == 422
            assert empty.json()["code"] == "invalid_input"
            malformed = await client.post("/runs/batch", json=[{"assistant_id": ""}])
            assert malformed.status_code == 422
            too_many = await client.post("/runs/batch", json=[{"assistant_id": "slow"}] * 101)
            assert too_many.status_code == 422
            assert await ok(await client.post("/threads/count", json={})) == 0


class TestCancelMany:
    async def test_cancels_the_named_runs_of_a_thread(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            tid = (await new_thread(client))["thread_id"]
            first = await _slow_run(client, tid)
            second = await ok(
                await client.post(
                    f"/threads/{tid}/runs", json={**SLOW, "multitask_strategy": "enqueue"}
                )
            )
            answer = await client.post(
                "/runs/cancel",
                json={"thread_id": tid, "run_ids": [first["run_id"], second["run_id"]]},
            )
            assert answer.status_code == 204, answer.text
            for run in (first, second):
                done = await wait_for_status(client, tid, run["run_id"], {"interrupted"})
                assert done["status"] == "interrupted"

    async def test_an_unknown_run_cancels_none(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            tid = (await new_thread(client))["thread_id"]
            run = await _slow_run(client, tid)
            answer = await client.post(
                "/runs/cancel", json={"thread_id": tid, "run_ids": [run["run_id"], "no-such-run"]}
            )
            assert answer.status_code == 404
            still = await ok(await client.get(f"/threads/{tid}/runs/{run['run_id']}"))
            assert still["status"] in ("pending", "running")
            await client.post(f"/threads/{tid}/runs/{run['run_id']}/cancel")

    async def test_by_status_stops_only_the_callers_tenant(self, api: Api, tenant: str) -> None:
        other_tenant = f"t-{uuid.uuid4().hex[:12]}"
        async with api.client(tenant) as mine, api.client(other_tenant) as theirs:
            own_tid = (await new_thread(mine))["thread_id"]
            own = await _slow_run(mine, own_tid)
            their_tid = (await new_thread(theirs))["thread_id"]
            their = await _slow_run(theirs, their_tid)
            answer = await mine.post("/runs/cancel?action=interrupt", json={"status": "all"})
            assert answer.status_code == 204
            done = await wait_for_status(mine, own_tid, own["run_id"], {"interrupted"})
            assert done["status"] == "interrupted"
            untouched = await ok(await theirs.get(f"/threads/{their_tid}/runs/{their['run_id']}"))
            assert untouched["status"] in ("pending", "running")
            # and a foreign thread's run is unknown, not "someone else's"
            foreign = await mine.post(
                "/runs/cancel", json={"thread_id": their_tid, "run_ids": [their["run_id"]]}
            )
            assert foreign.status_code == 404
            await theirs.post(f"/threads/{their_tid}/runs/{their['run_id']}/cancel")

    async def test_a_viewer_cancels_nothing(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as admin, api.client(tenant, "val", ("viewer",)) as viewer:
            tid = (await new_thread(admin))["thread_id"]
            run = await _slow_run(admin, tid)
            by_id = await viewer.post(
                "/runs/cancel", json={"thread_id": tid, "run_ids": [run["run_id"]]}
            )
            assert by_id.status_code == 403
            assert (
                await viewer.post("/runs/cancel", json={"status": "running"})
            ).status_code == 204
            still = await ok(await admin.get(f"/threads/{tid}/runs/{run['run_id']}"))
            assert still["status"] in ("pending", "running")
            await admin.post(f"/threads/{tid}/runs/{run['run_id']}/cancel")

    async def test_bad_requests(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            for body in (
                {},
                {"thread_id": "x"},
                {"status": "done"},
                {"status": "all", "run_ids": ["a"]},
            ):
                answer = await client.post("/runs/cancel", json=body)
                assert answer.status_code == 422, body
                assert "code" in answer.json()
            bad_action = await client.post("/runs/cancel?action=explode", json={"status": "all"})
            assert bad_action.status_code == 422
