from __future__ import annotations

import asyncio
from typing import Any

import pytest

from service.domain.ids import resolve_thread_id
from tests.api.helpers import new_thread, ok, run_to_interrupt
from tests.api.test_langchain_review import ASK, DECISIONS
from tests.fixtures.app import Api


class TestThreadIds:
    async def test_new_thread_id_is_namespaced(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            thread = await new_thread(client)
        assert thread["thread_id"].startswith(f"{tenant}:")
        assert thread["status"] == "idle"
        assert thread["interrupts"] == {}
        assert thread["metadata"]["owner"] == "alice"

    async def test_bare_and_full_ids_name_the_same_thread(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            created = await new_thread(client, thread_id="order-77")
            assert created["thread_id"] == f"{tenant}:order-77"
            bare = await ok(await client.get("/threads/order-77"))
            full = await ok(await client.get(f"/threads/{tenant}:order-77"))
        assert bare == full

    async def test_foreign_prefix_on_create_is_404(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            response = await client.post("/threads", json={"thread_id": "other:abc"})
        assert response.status_code == 404

    async def test_malformed_client_id_is_422(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            response = await client.post("/threads", json={"thread_id": "has space"})
        assert response.status_code == 422
        assert response.json()["code"] == "invalid_input"

    async def test_if_exists(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            await new_thread(client, thread_id="dup", metadata={"a": 1})
            again = await client.post("/threads", json={"thread_id": "dup"})
            assert again.status_code == 409
            same = await new_thread(client, thread_id="dup", if_exists="do_nothing")
        assert same["metadata"]["a"] == 1


class TestThreadCrud:
    async def test_patch_merges_metadata_but_keeps_owner(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            thread = await new_thread(client, metadata={"a": 1})
            patched = await ok(
                await client.patch(
                    f"/threads/{thread['thread_id']}",
                    json={"metadata": {"b": 2, "owner": "mallory"}},
                )
            )
        assert patched["metadata"]["a"] == 1
        assert patched["metadata"]["b"] == 2
        assert patched["metadata"]["owner"] == "alice"

    async def test_delete_removes_state_and_runs(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            thread = await new_thread(client)
            tid = thread["thread_id"]
            await run_to_interrupt(client, tid)
            await ok(await client.delete(f"/threads/{tid}"), 204)
            assert (await client.get(f"/threads/{tid}")).status_code == 404
            assert (await client.get(f"/threads/{tid}/state")).status_code == 404
            assert (await client.post("/threads/count", json={"status": "interrupted"})).json() == 0

    async def test_search_filters_and_counts(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            a = await new_thread(client, metadata={"team": "red", "n": 1})
            await new_thread(client, metadata={"team": "blue", "n": 2})
            await run_to_interrupt(client, a["thread_id"])
            red = await ok(await client.post("/threads/search", json={"metadata": {"team": "red"}}))
            assert [t["thread_id"] for t in red] == [a["thread_id"]]
            numeric = await ok(await client.post("/threads/search", json={"metadata": {"n": 2}}))
            assert len(numeric) == 1
            waiting = await ok(await client.post("/threads/search", json={"status": "interrupted"}))
            assert [t["thread_id"] for t in waiting] == [a["thread_id"]]
            (interrupts,) = waiting[0]["interrupts"].values()
            assert interrupts[0]["value"]["action_request"]["action"] == "refund"
            by_values = await ok(
                await client.post(
                    "/threads/search",
                    json={
                        "values": {
                            "proposal": {
                                "action": "refund",
                                "args": {"order_id": "A-1", "amount": 42.0, "currency": "EUR"},
                            }
                        }
                    },
                )
            )
            assert [t["thread_id"] for t in by_values] == [a["thread_id"]]
            assert await ok(await client.post("/threads/count", json={})) == 2
            assert await ok(await client.post("/threads/count", json={"status": "idle"})) == 1
            paged = await ok(
                await client.post(
                    "/threads/search", json={"limit": 1, "offset": 1, "sort_order": "asc"}
                )
            )
            assert len(paged) == 1

    async def test_search_by_ids_ignores_foreign_ids(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            mine = await new_thread(client)
            found = await ok(
                await client.post(
                    "/threads/search", json={"ids": [mine["thread_id"], "other:xyz", "bad id"]}
                )
            )
        assert [t["thread_id"] for t in found] == [mine["thread_id"]]


class TestState:
    async def test_fresh_thread_has_empty_state(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            thread = await new_thread(client)
            state = await ok(await client.get(f"/threads/{thread['thread_id']}/state"))
            history = await ok(
                await client.post(f"/threads/{thread['thread_id']}/history", json={})
            )
        assert state["values"] == {}
        assert state["next"] == []
        assert history == []

    async def test_state_history_and_checkpoint_reads(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            tid = (await new_thread(client))["thread_id"]
            await run_to_interrupt(client, tid)
            state = await ok(await client.get(f"/threads/{tid}/state"))
            assert state["next"] == ["review"]
            assert state["interrupts"][0]["value"]["action_request"]["args"]["amount"] == 42.0
            assert state["tasks"][0]["name"] == "review"
            history = await ok(await client.post(f"/threads/{tid}/history", json={"limit": 10}))
            assert history[0]["checkpoint_id"] == state["checkpoint_id"]
            assert len(history) >= 3
            older = history[-1]["checkpoint_id"]
            at = await ok(await client.get(f"/threads/{tid}/state/{older}"))
            assert at["checkpoint_id"] == older
            posted = await ok(
                await client.post(
                    f"/threads/{tid}/state/checkpoint",
                    json={"checkpoint": {"checkpoint_id": older}},
                )
            )
            assert posted["checkpoint_id"] == older
            limited = await ok(await client.get(f"/threads/{tid}/history?limit=1"))
            assert len(limited) == 1
            before = await ok(
                await client.post(
                    f"/threads/{tid}/history",
                    json={"before": {"checkpoint_id": state["checkpoint_id"]}},
                )
            )
            assert state["checkpoint_id"] not in [h["checkpoint_id"] for h in before]
            missing = await client.get(
                f"/threads/{tid}/state/1efffffff-0000-0000-0000-000000000000"
            )
            assert missing.status_code == 404

    async def test_update_state_as_node_moves_the_thread_on(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            tid = (await new_thread(client))["thread_id"]
            await run_to_interrupt(client, tid)
            result = await ok(
                await client.post(
                    f"/threads/{tid}/state",
                    json={
                        "values": {"decision": {"type": "ignore", "args": None}},
                        "as_node": "review",
                    },
                )
            )
            assert result["checkpoint"]["checkpoint_id"]
            thread = await ok(await client.get(f"/threads/{tid}"))
            assert thread["status"] == "idle"
            assert thread["interrupts"] == {}
            assert thread["values"]["decision"]["type"] == "ignore"
            state = await ok(await client.get(f"/threads/{tid}/state"))
            assert state["next"] == ["act"]

    async def test_the_latest_state_is_answered_as_the_checkpoints_hold_it(
        self, api: Api, tenant: str
    ) -> None:
        """``GET /state`` answers from what the last change of the checkpoints left on the
        thread row (a run's end, a state update); it must equal a read of the checkpoints
        after every kind of change, and not be used while a run is in flight."""
        rt = api.runtime

        async def both(tid: str, graph: str) -> tuple[Any, Any]:
            served = await ok(await client.get(f"/threads/{tid}/state"))
            full = resolve_thread_id(tenant, tid)
            async with rt.transaction(readonly=True) as uow:
                row = await uow.store.threads.get(full, tenant_id=tenant, with_view=True)
            assert row is not None
            assert row.state_view is not None  # answered from the row
            return served, await rt.engine.get_state(full, graph)

        async with api.client(tenant) as client:
            tid = (await new_thread(client))["thread_id"]
            await run_to_interrupt(client, tid)
            served, held = await both(tid, "refund_agent")
            assert served == held
            assert served["next"] == ["review"]
            update = {"values": {"decision": {"type": "ignore", "args": None}}, "as_node": "review"}
            await ok(await client.post(f"/threads/{tid}/state", json=update))
            served, held = await both(tid, "refund_agent")
            assert served == held
            assert served["next"] == ["act"]
            failed = (await new_thread(client))["thread_id"]
            body = {"assistant_id": "failing", "input": {"message": "no"}}
            await ok(await client.post(f"/threads/{failed}/runs/wait", json=body))
            served, held = await both(failed, "failing")
            assert served == held
            assert served["tasks"][0]["error"]
            slow = (await new_thread(client))["thread_id"]
            body = {"assistant_id": "slow", "input": {"steps": 3, "seconds": 0.3}}
            await ok(await client.post(f"/threads/{slow}/runs/wait", json=body))
            body["input"] = {"steps": 6, "seconds": 0.3}
            await ok(await client.post(f"/threads/{slow}/runs", json=body))
            for _ in range(50):  # while it runs: the checkpoints, never the row
                await asyncio.sleep(0.1)
                served = await ok(await client.get(f"/threads/{slow}/state"))
                if 3 < len(served["values"]["done"]) < 6:
                    break
            assert 3 < len(served["values"]["done"]) < 6  # a step of the run in flight

    @pytest.mark.parametrize(
        ("graph", "first", "each", "resume"),
        [
            ("double_review", {}, "yes", None),
            ("publish_workflow", {"topic": "state"}, None, {"approved": True}),
            ("support_agent", ASK, None, {"decisions": DECISIONS}),
            ("support_agent_per_call", ASK, {"type": "reject", "message": "no"}, None),
        ],
    )
    async def test_a_runs_end_state_is_what_a_read_of_its_checkpoints_gives(
        self, api: Api, tenant: str, graph: str, first: Any, each: Any, resume: Any
    ) -> None:
        """The end of a run (its ``/wait`` answer, the thread's state view, the inbox) is read
        from what the run wrote last, not from the database (``last_checkpoint``): it must
        equal a read of the checkpoints, for several interrupts, the Functional API and
        LangChain's HITL middleware, paused and after the resume."""
        rt = api.runtime
        async with api.client(tenant) as client:
            tid = (await new_thread(client))["thread_id"]
            full = resolve_thread_id(tenant, tid)
            body = {"assistant_id": graph, "input": first}
            paused = await ok(await client.post(f"/threads/{tid}/runs/wait", json=body))
            asked = paused["__interrupt__"]
            assert len(asked) == (1 if each is None else {"double_review": 2}.get(graph, 4))
            served = await ok(await client.get(f"/threads/{tid}/state"))
            assert served == await rt.engine.get_state(full, graph)
            assert served["tasks"]
            assert served["interrupts"]
            if each is not None:  # several interrupts: each answered by its id
                resume = {i["id"]: each for i in asked}
            command = {"assistant_id": graph, "command": {"resume": resume}}
            await ok(await client.post(f"/threads/{tid}/runs/wait", json=command))
            served = await ok(await client.get(f"/threads/{tid}/state"))
            assert served == await rt.engine.get_state(full, graph)
            assert served["values"] != {}

    async def test_update_state_unknown_node_is_422(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            tid = (await new_thread(client))["thread_id"]
            await run_to_interrupt(client, tid)
            response = await client.post(
                f"/threads/{tid}/state", json={"values": {}, "as_node": "nope"}
            )
        assert response.status_code == 422


class TestStateUpdateShapes:
    @pytest.mark.parametrize(
        "values", [[{"decision": {"type": "ignore", "args": None}}], [1, 2], "text", 7]
    )
    async def test_values_a_state_graph_cannot_take_are_422_and_write_nothing(
        self, api: Api, tenant: str, values: object
    ) -> None:
        async with api.client(tenant) as client:
            tid = (await new_thread(client))["thread_id"]
            await run_to_interrupt(client, tid)
            before = await ok(await client.get(f"/threads/{tid}/state"))
            response = await client.post(
                f"/threads/{tid}/state", json={"values": values, "as_node": "review"}
            )
            assert response.status_code == 422, response.text
            assert response.json()["code"] == "invalid_input"
            assert "Expected dict" in response.json()["detail"]
            after = await ok(await client.get(f"/threads/{tid}/state"))
            assert after["checkpoint"] == before["checkpoint"]  # nothing written
            assert (await ok(await client.get(f"/threads/{tid}")))["status"] == "interrupted"
