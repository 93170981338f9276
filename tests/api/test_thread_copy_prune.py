"""``POST /threads/{id}/copy`` and ``POST /threads/prune``, on each backend."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.helpers import new_thread, ok, resume_wait, run_to_interrupt
from tests.fixtures.app import Api

SLOW_INPUT = {"steps": 2, "seconds": 0}


async def _ran(client: httpx.AsyncClient, times: int = 1) -> str:
    """A thread the ``slow`` graph ran on ``times`` times."""
    thread_id: str = (await new_thread(client, metadata={"topic": "copy"}))["thread_id"]
    for _ in range(times):
        await ok(
            await client.post(
                f"/threads/{thread_id}/runs/wait",
                json={"assistant_id": "slow", "input": SLOW_INPUT},
            )
        )
    return thread_id


async def _history(client: httpx.AsyncClient, thread_id: str) -> list[dict[str, Any]]:
    return await ok(await client.post(f"/threads/{thread_id}/history", json={"limit": 100}))  # type: ignore[no-any-return]


def _same_state(a: dict[str, Any], b: dict[str, Any]) -> None:
    for key in ("values", "next", "metadata", "checkpoint_id", "parent_checkpoint_id", "tasks"):
        assert a[key] == b[key], key


class TestCopy:
    async def test_copy_has_the_same_state_and_history(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            source = await _ran(client, times=2)
            copied = await ok(await client.post(f"/threads/{source}/copy"))
            target = copied["thread_id"]
            state_a = await ok(await client.get(f"/threads/{source}/state"))
            state_b = await ok(await client.get(f"/threads/{target}/state"))
            history_a = await _history(client, source)
            history_b = await _history(client, target)
        assert target != source
        assert copied["metadata"]["topic"] == "copy"
        assert copied["metadata"]["graph_id"] == "slow"
        assert copied["values"] == state_a["values"]
        assert copied["status"] == "idle"
        _same_state(state_a, state_b)
        assert state_b["checkpoint"]["thread_id"] == target
        assert len(history_a) == len(history_b) > 4
        for a, b in zip(history_a, history_b, strict=True):
            _same_state(a, b)

    async def test_the_copy_runs_on_independently(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            source = await _ran(client)
            target = (await ok(await client.post(f"/threads/{source}/copy")))["thread_id"]
            await ok(
                await client.post(
                    f"/threads/{target}/runs/wait",
                    json={"assistant_id": "slow", "input": SLOW_INPUT},
                )
            )
            state_a = await ok(await client.get(f"/threads/{source}/state"))
            state_b = await ok(await client.get(f"/threads/{target}/state"))
            history_a = await _history(client, source)
            history_b = await _history(client, target)
        assert len(state_a["values"]["done"]) == 2  # the source did not move
        assert len(state_b["values"]["done"]) == 3  # the copy went on from the source's state
        assert len(history_b) > len(history_a)
        assert {h["checkpoint_id"] for h in history_a} < {h["checkpoint_id"] for h in history_b}

    async def test_an_interrupted_copy_is_reviewable_on_its_own(
        self, api: Api, tenant: str
    ) -> None:
        async with api.client(tenant) as client:
            source = (await new_thread(client))["thread_id"]
            await run_to_interrupt(client, source)
            copied = await ok(await client.post(f"/threads/{source}/copy"))
            target = copied["thread_id"]
            interrupt = next(iter(copied["interrupts"].values()))[0]
            source_before = await ok(await client.get(f"/threads/{source}"))
            await resume_wait(client, target, {interrupt["id"]: {"type": "accept"}})
            source_after = await ok(await client.get(f"/threads/{source}"))
            target_after = await ok(await client.get(f"/threads/{target}"))
        assert copied["status"] == "interrupted"
        assert copied["interrupts"] == source_before["interrupts"]
        assert target_after["status"] == "idle"
        assert target_after["interrupts"] == {}
        assert source_after["status"] == "interrupted"  # the source still waits for its review
        assert source_after["interrupts"] == source_before["interrupts"]

    async def test_a_failed_thread_copies_as_failed(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            source = (await new_thread(client))["thread_id"]
            await client.post(
                f"/threads/{source}/runs/wait",
                json={"assistant_id": "failing", "input": {"message": "bad"}},
            )
            copied = await ok(await client.post(f"/threads/{source}/copy"))
            failed = await ok(await client.get(f"/threads/{source}"))
        assert failed["status"] == "error"
        assert copied["status"] == "error"

    async def test_a_thread_without_runs(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            source = (await new_thread(client, metadata={"k": "v"}))["thread_id"]
            copied = await ok(await client.post(f"/threads/{source}/copy"))
            state = await ok(await client.get(f"/threads/{copied['thread_id']}/state"))
        assert copied["metadata"]["k"] == "v"
        assert state["values"] == {}

    async def test_another_tenant_cannot_copy(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as a, api.client(tenant + "b") as b:
            source = await _ran(a)
            foreign = await b.post(f"/threads/{source}/copy")
            unknown = await b.post("/threads/never-was/copy")
            theirs = await ok(await b.post("/threads/search", json={}))
        assert foreign.status_code == unknown.status_code == 404
        assert foreign.json() == unknown.json()
        assert theirs == []

    async def test_copy_needs_thread_create(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as admin:
            source = await _ran(admin)
        async with api.client(tenant, "vic", roles=("viewer",)) as viewer:
            refused = await viewer.post(f"/threads/{source}/copy")
        assert refused.status_code == 403


class TestPrune:
    async def test_keep_latest_leaves_one_checkpoint(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            thread = await _ran(client, times=2)
            before = await ok(await client.get(f"/threads/{thread}/state"))
            result = await ok(
                await client.post(
                    "/threads/prune", json={"thread_ids": [thread], "strategy": "keep_latest"}
                )
            )
            after = await ok(await client.get(f"/threads/{thread}/state"))
            history = await _history(client, thread)
            await ok(
                await client.post(
                    f"/threads/{thread}/runs/wait",
                    json={"assistant_id": "slow", "input": SLOW_INPUT},
                )
            )
            again = await ok(await client.get(f"/threads/{thread}/state"))
        assert result == {"pruned_count": 1}
        assert len(history) == 1
        assert history[0]["checkpoint_id"] == before["checkpoint_id"]
        assert after["values"] == before["values"]
        assert after["checkpoint_id"] == before["checkpoint_id"]
        assert after["parent_checkpoint_id"] is None
        assert len(again["values"]["done"]) == len(before["values"]["done"]) + 1  # runs on

    async def test_delete_strategy_deletes_threads(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            one, two = await _ran(client), await _ran(client)
            kept = await _ran(client)
            result = await ok(
                await client.post("/threads/prune", json={"thread_ids": [one, two, "nope"]})
            )
            gone = [(await client.get(f"/threads/{t}")).status_code for t in (one, two)]
            still = await client.get(f"/threads/{kept}")
        assert result == {"pruned_count": 2}
        assert gone == [404, 404]
        assert still.status_code == 200
        for thread_id in (one, two):
            assert (
                await api.runtime.engine.checkpointer.aget_tuple(
                    {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
                )
                is None
            )

    async def test_another_tenants_threads_are_not_touched(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as a, api.client(tenant + "b") as b:
            mine = await _ran(a, times=2)
            deleted = await ok(await b.post("/threads/prune", json={"thread_ids": [mine]}))
            pruned = await ok(
                await b.post(
                    "/threads/prune", json={"thread_ids": [mine], "strategy": "keep_latest"}
                )
            )
            still = await ok(await a.get(f"/threads/{mine}"))
            history = await _history(a, mine)
        assert deleted == pruned == {"pruned_count": 0}
        assert still["thread_id"] == mine
        assert len(history) > 1

    async def test_prune_needs_the_right(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as admin:
            thread = await _ran(admin)
        async with api.client(tenant, "vic", roles=("viewer",)) as viewer:
            refused = await viewer.post("/threads/prune", json={"thread_ids": [thread]})
        async with api.client(tenant) as admin:
            still = await admin.get(f"/threads/{thread}")
        assert refused.status_code == 403
        assert still.status_code == 200

    async def test_bad_bodies(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            strategy = await client.post(
                "/threads/prune", json={"thread_ids": ["x"], "strategy": "all"}
            )
            missing = await client.post("/threads/prune", json={})
            not_list = await client.post("/threads/prune", json={"thread_ids": "x"})
            odd = await ok(
                await client.post(
                    "/threads/prune",
                    json={"thread_ids": ["", "x" * 500, "a:b:c", "\u00e9\u263a", "t-other:x"]},
                )
            )
            too_many = await client.post("/threads/prune", json={"thread_ids": ["x"] * 1001})
        assert odd == {"pruned_count": 0}
        assert too_many.status_code == 422
        for response in (strategy, missing, not_list):
            assert response.status_code == 422
            assert response.json()["code"]
