"""The reviewer's inbox and decisions: listing, context, exactly-once decisions, expiry."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import psycopg
import pytest

from tests.api.helpers import REFUND_INPUT, new_thread, ok, run_to_interrupt, wait_for_status
from tests.fixtures.app import Api


async def paused_refund(client: httpx.AsyncClient, **metadata: Any) -> dict[str, Any]:
    """A refund agent thread paused at its review; returns its inbox item."""
    thread = await new_thread(client, metadata=metadata)
    await run_to_interrupt(client, thread["thread_id"])
    return await paused_item(client, thread["thread_id"])


async def paused_item(client: httpx.AsyncClient, thread_id: str) -> dict[str, Any]:
    """The thread's one pending inbox item."""
    items = (await ok(await client.get("/inbox", params={"limit": 1000})))["items"]
    (item,) = [i for i in items if i["thread_id"] == thread_id]
    return item  # type: ignore[no-any-return]


async def paused_publish(client: httpx.AsyncClient) -> dict[str, Any]:
    thread = await new_thread(client)
    run = await ok(
        await client.post(
            f"/threads/{thread['thread_id']}/runs",
            json={"assistant_id": "publish_workflow", "input": {"topic": "inbox"}},
        ),
        200,
    )
    await ok(await client.get(f"/threads/{thread['thread_id']}/runs/{run['run_id']}/join"))
    items = (await ok(await client.get("/inbox", params={"type": "publish_post"})))["items"]
    (item,) = [i for i in items if i["thread_id"] == thread["thread_id"]]
    return item  # type: ignore[no-any-return]


def decision(item: dict[str, Any], value: Any) -> dict[str, Any]:
    return {"decision": value, "payload_hash": item["payload_hash"]}


async def declined_with_note(client: httpx.AsyncClient, item: dict[str, Any]) -> Any:
    """Answer ``item`` with a note (202), wait for the run it starts; the outcome it wrote."""
    body = await ok(
        await client.post(
            f"/inbox/{item['id']}/decision",
            json=decision(item, {"type": "response", "args": "Need a photo."}),
        ),
        202,
    )
    return (await finished_values(client, body))["outcome"]


async def finished_values(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    run = body["run"]
    await wait_for_status(client, run["thread_id"], run["run_id"], {"success"})
    thread = await ok(await client.get(f"/threads/{run['thread_id']}"))
    return thread["values"]  # type: ignore[no-any-return]


class TestListing:
    async def test_items_carry_what_a_reviewer_needs(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            item = await paused_refund(client, team="billing")
        assert item["type"] == "refund"
        assert item["agent_inbox"] is True
        assert item["allowed_decisions"] == ["accept", "edit", "response", "ignore"]
        assert item["description"] == "Customer Ada asks for a refund: arrived broken"
        assert item["value"]["action_request"]["args"]["amount"] == 42.0
        assert len(item["payload_hash"]) == 64
        assert item["checkpoint_id"]
        assert item["status"] == "pending"
        assert item["can_decide"] is True
        assert item["thread"]["metadata"]["team"] == "billing"
        assert item["thread"]["owner"] == "alice"

    async def test_filters_counts_and_cursor(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            first = await paused_refund(client, team="billing")
            second = await paused_refund(client, team="support")
            raw = await paused_publish(client)
            everything = await ok(await client.get("/inbox"))
            assert [i["id"] for i in everything["items"]] == [first["id"], second["id"], raw["id"]]
            newest = await ok(await client.get("/inbox", params={"order": "desc", "limit": 1}))
            assert [i["id"] for i in newest["items"]] == [raw["id"]]
            by_type = await ok(await client.get("/inbox", params={"type": "refund"}))
            assert {i["id"] for i in by_type["items"]} == {first["id"], second["id"]}
            by_graph = await ok(await client.get("/inbox", params={"graph_id": "publish_workflow"}))
            assert [i["id"] for i in by_graph["items"]] == [raw["id"]]
            by_meta = await ok(
                await client.get("/inbox", params={"metadata": '{"team": "support"}'})
            )
            assert [i["id"] for i in by_meta["items"]] == [second["id"]]
            counts = await ok(await client.get("/inbox/counts"))
            assert counts == {"total": 3, "by_type": {"refund": 2, "publish_post": 1}}
            seen, cursor = [], None
            while True:
                page = await ok(
                    await client.get(
                        "/inbox", params={"limit": 1, **({"cursor": cursor} if cursor else {})}
                    )
                )
                seen += [i["id"] for i in page["items"]]
                cursor = page["next_cursor"]
                if cursor is None:
                    break
            assert seen == [first["id"], second["id"], raw["id"]]
            later = await ok(
                await client.get("/inbox", params={"created_after": first["created_at"]})
            )
            assert first["id"] not in [i["id"] for i in later["items"]]
            assert (await client.get("/inbox", params={"cursor": "%%%"})).status_code == 422
            assert (await client.get("/inbox", params={"metadata": "[1]"})).status_code == 422

    async def test_decidable_filters_by_permitted_types_in_sql(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as owner:
            await ok(
                await owner.post(
                    "/policies/roles/finance/permissions",
                    json={"object": "interrupt:refund", "action": "decide"},
                )
            )
            await ok(await owner.post("/policies/roles/finance/parents", json={"parent": "viewer"}))
            refund = await paused_refund(owner)
            raw = await paused_publish(owner)
        async with api.client(tenant, "fin", roles=("finance",)) as fin:
            everything = await ok(await fin.get("/inbox"))
            assert {i["id"]: i["can_decide"] for i in everything["items"]} == {
                refund["id"]: True,
                raw["id"]: False,
            }
            mine = await ok(await fin.get("/inbox", params={"decidable": "true"}))
            assert [i["id"] for i in mine["items"]] == [refund["id"]]
            assert (await ok(await fin.get("/inbox/counts", params={"decidable": "true"})))[
                "by_type"
            ] == {"refund": 1}
        async with api.client(tenant, "vic", roles=("viewer",)) as viewer:
            assert (await ok(await viewer.get("/inbox", params={"decidable": "true"})))[
                "items"
            ] == []

    async def test_item_in_context(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            item = await paused_refund(client)
            full = await ok(await client.get(f"/inbox/{item['id']}"))
            assert full["thread"]["values"]["proposal"]["action"] == "refund"
            assert full["history"][0]["next"] == ["review"]
            assert full["runs"][0]["status"] == "success"
            assert full["resolution"] is None
            assert (
                await client.get("/inbox/00000000-0000-7000-8000-000000000000")
            ).status_code == 404
        async with api.client(tenant + "-x") as outsider:
            foreign = await outsider.get(f"/inbox/{item['id']}")
            unknown = await outsider.get("/inbox/00000000-0000-7000-8000-000000000000")
            assert foreign.status_code == 404
            assert foreign.content == unknown.content
            assert (await ok(await outsider.get("/inbox")))["items"] == []

    async def test_cancelled_and_deleted_threads_leave_the_inbox(
        self, api: Api, tenant: str
    ) -> None:
        async with api.client(tenant) as client:
            item = await paused_refund(client)
            await ok(await client.delete(f"/threads/{item['thread_id']}"), 204)
            assert (await ok(await client.get("/inbox")))["items"] == []
            other = await paused_refund(client)
            moved_on = await ok(
                await client.post(
                    f"/threads/{other['thread_id']}/runs/wait",
                    json={
                        "assistant_id": "refund_agent",
                        "input": {"request": {"order_id": "B", "amount": 0}},
                    },
                )
            )
            assert moved_on["__interrupt__"][0]["id"] != other["interrupt_id"]  # a new review
            items = (await ok(await client.get("/inbox")))["items"]
            assert other["id"] not in [i["id"] for i in items]  # the old payload is gone
            assert [i["value"]["action_request"]["args"]["order_id"] for i in items] == ["B"]


class TestDecisions:
    @pytest.mark.parametrize(
        ("value", "outcome", "amounts"),
        [
            ({"type": "accept", "args": None}, "refunded", [42.0]),
            (
                [
                    {
                        "type": "edit",
                        "args": {"action": "refund", "args": {"order_id": "A-1", "amount": 5}},
                    }
                ],
                "refunded",
                [5.0],
            ),
            ({"type": "response", "args": "Need a photo."}, "declined with note", []),
            ({"type": "ignore", "args": None}, "ignored", []),
        ],
    )
    async def test_each_human_response(
        self, api: Api, tenant: str, value: Any, outcome: str, amounts: list[float]
    ) -> None:
        async with api.client(tenant) as client:
            item = await paused_refund(client)
            body = await ok(
                await client.post(f"/inbox/{item['id']}/decision", json=decision(item, value)), 202
            )
            assert body["interrupts"][0]["status"] == "resolved"
            assert body["interrupts"][0]["resolved_by"] == "alice"
            values = await finished_values(client, body)
            assert values["outcome"] == outcome
            assert [r["amount"] for r in values["refunds"]] == amounts
            resolved = await ok(await client.get(f"/inbox/{item['id']}"))
            assert resolved["status"] == "resolved"
            assert resolved["resolution"]["decision"] == value
            assert resolved["can_decide"] is False

    async def test_raw_interrupt_takes_any_value(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            item = await paused_publish(client)
            assert item["agent_inbox"] is False
            assert item["allowed_decisions"] == ["response"]
            body = await ok(
                await client.post(
                    f"/inbox/{item['id']}/decision", json=decision(item, {"approved": True})
                ),
                202,
            )
            values = await finished_values(client, body)
            assert values["published"] is True

    @pytest.mark.parametrize(
        "value",
        [
            "yes",
            {"type": "approve"},
            {"type": "edit", "args": "not an action"},
            {"type": "response", "args": {"x": 1}},
        ],
    )
    async def test_malformed_human_response_is_422_and_keeps_it_pending(
        self, api: Api, tenant: str, value: Any
    ) -> None:
        async with api.client(tenant) as client:
            item = await paused_refund(client)
            response = await client.post(
                f"/inbox/{item['id']}/decision", json=decision(item, value)
            )
            assert response.status_code == 422, response.text
            assert (await ok(await client.get(f"/inbox/{item['id']}")))["status"] == "pending"

    async def test_a_two_mib_note_is_413_and_loses_nothing(self, api: Api, tenant: str) -> None:
        """S8: a 2 MiB resume note, through the inbox and through the runs route, is refused
        whole (the body cap is 1 MiB); the interrupt stays pending and a normal note then wins."""
        note = "n" * (2 * 1024 * 1024)
        async with api.client(tenant) as client:
            item = await paused_refund(client)
            refused = [
                await client.post(
                    f"/inbox/{item['id']}/decision",
                    json=decision(item, {"type": "response", "args": note}),
                ),
                await client.post(
                    f"/threads/{item['thread_id']}/runs",
                    json={
                        "assistant_id": "refund_agent",
                        "command": {"resume": {"type": "response", "args": note}},
                    },
                ),
            ]
            for answer in refused:
                assert answer.status_code == 413, answer.text
                assert answer.json()["code"] == "payload_too_large"
            assert (await ok(await client.get(f"/inbox/{item['id']}")))["status"] == "pending"
            runs = await ok(await client.get(f"/threads/{item['thread_id']}/runs"))
            assert len(runs) == 1  # only the run that paused
            assert await declined_with_note(client, item) == "declined with note"

    async def test_a_decision_whose_run_is_cancelled_is_voided_and_asked_again(
        self, api: Api, tenant: str
    ) -> None:
        """Found by R18: a decision accepted, then its resume run cancelled before the graph
        got past the interrupt. The decision took no effect, so its item says ``voided`` (not
        ``resolved``) and the interrupt is offered again as a new item, which one decision
        then resolves: one ``resolved`` row per interrupt."""
        async with api.client(tenant) as client:
            item = await paused_refund(client)
            tid = item["thread_id"]
            delayed = await ok(
                await client.post(
                    f"/threads/{tid}/runs",
                    json={
                        "assistant_id": "refund_agent",
                        "command": {"resume": {"type": "accept", "args": None}},
                        "after_seconds": 60,
                    },
                )
            )
            assert (await ok(await client.get(f"/inbox/{item['id']}")))["status"] == "resolved"
            await ok(await client.post(f"/threads/{tid}/runs/{delayed['run_id']}/cancel"))
            await wait_for_status(client, tid, delayed["run_id"], {"interrupted"})
            voided = await ok(await client.get(f"/inbox/{item['id']}"))
            assert voided["status"] == "voided"
            assert voided["can_decide"] is False
            again = await paused_item(client, tid)
            assert again["id"] != item["id"]
            assert again["interrupt_id"] == item["interrupt_id"]
            assert await declined_with_note(client, again) == "declined with note"
            history = await ok(await client.get(f"/threads/{tid}/runs"))
            assert len(history) == 3  # paused, cancelled, the one that acted

    async def test_no_decision_while_a_new_input_is_on_its_way(self, api: Api, tenant: str) -> None:
        """Found by R18: a run with new input queued on the paused thread moves it to another
        interrupt first, so a decision accepted then would answer an interrupt that is gone by
        the time it runs (and be lost). Both routes refuse it (409) and resolve nothing."""
        async with api.client(tenant) as client:
            item = await paused_refund(client)
            tid = item["thread_id"]
            request = {**REFUND_INPUT["request"], "amount": 7}
            ahead = await ok(
                await client.post(
                    f"/threads/{tid}/runs",
                    json={"assistant_id": "refund_agent", "input": {"request": request}},
                )
            )
            refused = [
                await client.post(
                    f"/inbox/{item['id']}/decision", json=decision(item, {"type": "accept"})
                ),
                await client.post(
                    f"/threads/{tid}/runs",
                    json={
                        "assistant_id": "refund_agent",
                        "command": {"resume": {"type": "accept"}},
                    },
                ),
            ]
            for answer in refused:
                assert answer.status_code == 409, answer.text
                assert answer.json()["code"] == "thread_busy"
            await wait_for_status(client, tid, ahead["run_id"], {"success"})
            assert (await ok(await client.get(f"/inbox/{item['id']}")))["status"] == "cancelled"
            now = await paused_item(client, tid)  # the new request is what is asked now
            assert now["value"]["action_request"]["args"]["amount"] == 7
            assert (await ok(await client.get(f"/threads/{tid}")))["values"]["refunds"] == []

    async def test_stale_payload_hash_is_409(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            item = await paused_refund(client)
            stale = {"decision": {"type": "accept"}, "payload_hash": "0" * 64}
            response = await client.post(f"/inbox/{item['id']}/decision", json=stale)
            assert response.status_code == 409
            assert response.json()["code"] == "stale_decision"
            wrong_checkpoint = {
                **decision(item, {"type": "accept"}),
                "checkpoint_id": "1f000000-0000-6000-8000-000000000000",
            }
            assert (
                await client.post(f"/inbox/{item['id']}/decision", json=wrong_checkpoint)
            ).status_code == 409
            assert (await ok(await client.get(f"/inbox/{item['id']}")))["status"] == "pending"
            missing = await client.post(
                f"/inbox/{item['id']}/decision", json={"decision": {"type": "accept"}}
            )
            assert missing.status_code == 422

    async def test_fifty_concurrent_decisions_one_wins(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            item = await paused_refund(client)
            responses = await asyncio.gather(
                *(
                    client.post(
                        f"/inbox/{item['id']}/decision",
                        json=decision(item, {"type": "accept", "args": None}),
                    )
                    for _ in range(50)
                )
            )
            codes = sorted(r.status_code for r in responses)
            assert codes == [202] + [409] * 49, codes
            assert {r.json()["code"] for r in responses if r.status_code == 409} <= {
                "already_decided",
                "conflict",
            }
            (won,) = [r.json() for r in responses if r.status_code == 202]
            values = await finished_values(client, won)
            assert [r["amount"] for r in values["refunds"]] == [42.0]  # the graph resumed once
            runs = await ok(await client.get(f"/threads/{item['thread_id']}/runs"))
            assert len(runs) == 2
            events = await ok(
                await client.get(
                    "/audit", params={"action": "interrupt.resolve", "target_id": item["id"]}
                )
            )
            assert len(events) == 1

    async def test_idempotency_key_replays_the_same_answer(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            item = await paused_refund(client)
            body = decision(item, {"type": "accept", "args": None})
            headers = {"Idempotency-Key": "retry-1"}
            first, second = await asyncio.gather(
                client.post(f"/inbox/{item['id']}/decision", json=body, headers=headers),
                client.post(f"/inbox/{item['id']}/decision", json=body, headers=headers),
            )
            assert (first.status_code, second.status_code) == (202, 202)
            assert first.json()["run"]["run_id"] == second.json()["run"]["run_id"]
            third = await client.post(f"/inbox/{item['id']}/decision", json=body, headers=headers)
            assert third.status_code == 202
            assert third.json()["run"]["run_id"] == first.json()["run"]["run_id"]
            other = await client.post(
                f"/inbox/{item['id']}/decision",
                json=decision(item, {"type": "ignore", "args": None}),
                headers=headers,
            )
            assert other.status_code == 422
            assert len(await ok(await client.get(f"/threads/{item['thread_id']}/runs"))) == 2

    async def test_several_interrupts_together_and_one_by_one(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            together = (await new_thread(client))["thread_id"]
            separate = (await new_thread(client))["thread_id"]
            for tid in (together, separate):
                run = await ok(
                    await client.post(
                        f"/threads/{tid}/runs", json={"assistant_id": "double_review", "input": {}}
                    ),
                    200,
                )
                await ok(await client.get(f"/threads/{tid}/runs/{run['run_id']}/join"))
            items = (await ok(await client.get("/inbox", params={"graph_id": "double_review"})))[
                "items"
            ]
            mine = {
                tid: {i["type"]: i for i in items if i["thread_id"] == tid}
                for tid in (together, separate)
            }
            both = {
                "decisions": [
                    {"interrupt": i["id"], "decision": f"ok-{t}", "payload_hash": i["payload_hash"]}
                    for t, i in mine[together].items()
                ]
            }
            body = await ok(await client.post(f"/threads/{together}/decisions", json=both), 202)
            values = await finished_values(client, body)
            assert sorted(values["answers"], key=str) == sorted(
                [{"legal_check": "ok-legal_check"}, {"finance_check": "ok-finance_check"}], key=str
            )
            first, second = mine[separate]["legal_check"], mine[separate]["finance_check"]
            one = await ok(
                await client.post(f"/inbox/{first['id']}/decision", json=decision(first, "yes")),
                202,
            )
            two = await ok(
                await client.post(f"/inbox/{second['id']}/decision", json=decision(second, "also")),
                202,
            )
            await finished_values(client, one)
            values = await finished_values(client, two)
            assert len(values["answers"]) == 2
            assert (await ok(await client.get("/inbox", params={"graph_id": "double_review"})))[
                "items"
            ] == []
        async with api.runtime.transaction() as uow:
            rows = await uow.store.interrupts.inbox_history(separate, tenant_id=tenant)
        assert sorted(r.status for r in rows) == ["resolved", "resolved"]  # never offered twice
        async with api.client(tenant) as client:
            mixed = {
                "decisions": [
                    {
                        "interrupt": first["id"],
                        "decision": "x",
                        "payload_hash": first["payload_hash"],
                    }
                ]
            }
            assert (
                await client.post(f"/threads/{together}/decisions", json=mixed)
            ).status_code == 422


class TestRefusals:
    async def test_who_may_decide(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as owner:
            await ok(
                await owner.post(
                    "/policies/roles/publisher/permissions",
                    json={"object": "interrupt:publish_post", "action": "decide"},
                )
            )
            await ok(
                await owner.post("/policies/roles/publisher/parents", json={"parent": "viewer"})
            )
            item = await paused_refund(owner)
        body = decision(item, {"type": "accept", "args": None})
        async with api.client(tenant, "vic", roles=("viewer",)) as viewer:
            assert (
                await viewer.post(f"/inbox/{item['id']}/decision", json=body)
            ).status_code == 403
        async with api.client(tenant, "pat", roles=("publisher",)) as other_type:
            assert (
                await other_type.post(f"/inbox/{item['id']}/decision", json=body)
            ).status_code == 403
        async with api.client(tenant, "bot", roles=("agent",)) as machine:
            assert (
                await machine.post(f"/inbox/{item['id']}/decision", json=body)
            ).status_code == 404
        async with api.client(tenant + "-x", "eve") as outsider:
            assert (
                await outsider.post(f"/inbox/{item['id']}/decision", json=body)
            ).status_code == 404
        async with api.client(tenant, "rev", roles=("reviewer",)) as reviewer:
            edit = decision(
                item, {"type": "edit", "args": {"action": "refund", "args": {"amount": 1}}}
            )
            assert (
                await reviewer.post(f"/inbox/{item['id']}/decision", json=edit)
            ).status_code == 403
            assert (
                await reviewer.post(f"/inbox/{item['id']}/decision", json=body)
            ).status_code == 202

    async def test_four_eyes(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as owner:
            settings = await ok(await owner.patch("/tenant/settings", json={"four_eyes": True}))
            assert settings["four_eyes"] is True
            item = await paused_refund(owner)
            mine = await owner.post(
                f"/inbox/{item['id']}/decision", json=decision(item, {"type": "accept"})
            )
            assert mine.status_code == 403
            assert (await ok(await owner.get("/inbox", params={"decidable": "true"})))[
                "items"
            ] == []
        async with api.client(tenant, "rev", roles=("reviewer",)) as reviewer:
            assert (
                await reviewer.post(
                    f"/inbox/{item['id']}/decision", json=decision(item, {"type": "accept"})
                )
            ).status_code == 202


class TestExpiry:
    async def test_expired_interrupt_resumes_with_the_default(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            await ok(
                await client.patch(
                    "/tenant/settings",
                    json={
                        "interrupt_expiry": {
                            "refund": {
                                "after_seconds": 1,
                                "default_decision": {"type": "ignore", "args": None},
                            }
                        }
                    },
                )
            )
            item = await paused_refund(client)
            assert item["expires_at"] is not None
            deadline = time.monotonic() + 20
            while (await ok(await client.get(f"/inbox/{item['id']}")))["status"] == "pending":
                assert time.monotonic() < deadline, "the interrupt never expired"
                await asyncio.sleep(0.2)
            expired = await ok(await client.get(f"/inbox/{item['id']}"))
            assert expired["status"] == "expired"
            assert expired["resolution"]["resolved_by"] == "system"
            runs = await ok(await client.get(f"/threads/{item['thread_id']}/runs"))
            await wait_for_status(client, item["thread_id"], runs[0]["run_id"], {"success"})
            thread = await ok(await client.get(f"/threads/{item['thread_id']}"))
            assert thread["values"]["outcome"] == "ignored"
            events = await ok(await client.get("/audit", params={"action": "interrupt.expire"}))
            assert [e["actor"] for e in events] == ["system"]
            assert events[0]["payload_hash"] == item["payload_hash"]
            late = await client.post(
                f"/inbox/{item['id']}/decision", json=decision(item, {"type": "accept"})
            )
            assert late.status_code == 409


class TestAudit:
    async def test_audit_filters_by_actor_and_time(self, api: Api, tenant: str) -> None:
        """The admin page's filters are the server's: actor, and a created-at window."""
        async with api.client(tenant) as client:
            item = await paused_refund(client)
            await ok(
                await client.post(
                    f"/inbox/{item['id']}/decision",
                    json=decision(item, {"type": "accept", "args": None}),
                ),
                202,
            )
            events = await ok(await client.get("/audit", params={"limit": 1000}))
            resolve = next(e for e in events if e["action"] == "interrupt.resolve")
            mine = await ok(await client.get("/audit", params={"actor": resolve["actor"]}))
            assert mine
            assert {e["actor"] for e in mine} == {resolve["actor"]}
            nobody = await ok(await client.get("/audit", params={"actor": f"{tenant}:nobody"}))
            assert nobody == []
            window = {"since": resolve["created_at"], "action": "interrupt.resolve"}
            assert [e["id"] for e in await ok(await client.get("/audit", params=window))] == [
                resolve["id"]
            ]
            before = {"until": resolve["created_at"], "action": "interrupt.resolve"}
            assert await ok(await client.get("/audit", params=before)) == []
            bad = await client.get("/audit", params={"since": "yesterday"})
            assert bad.status_code == 422

    async def test_chain_verifies_and_detects_tampering(self, api: Api, tenant: str) -> None:
        from sqlalchemy import text

        async with api.client(tenant) as client:
            item = await paused_refund(client)
            await ok(
                await client.post(
                    f"/inbox/{item['id']}/decision",
                    json=decision(item, {"type": "accept", "args": None}),
                ),
                202,
            )
            report = await ok(await client.get("/audit/verify"))
            assert report["ok"] is True
            events = await ok(await client.get("/audit"))
            resolve = next(e for e in events if e["action"] == "interrupt.resolve")
            assert resolve["detail"]["decision"] == "accept"
            assert resolve["payload_hash"] == item["payload_hash"]
            assert resolve["prev_hash"] == events[events.index(resolve) - 1]["hash"]
        async with api.runtime.stores.transaction() as store:
            # the triggers refuse it; the service's own role is not even allowed to try
            with pytest.raises(Exception, match=r"append-only|permission denied"):
                async with store.session.begin_nested():
                    await store.session.execute(
                        text("UPDATE audit_events SET actor = 'mallory' WHERE id = :id"),
                        {"id": resolve["id"]},
                    )
        await _tamper(api, resolve["id"])
        async with api.client(tenant) as client:
            report = await ok(await client.get("/audit/verify"))
        assert report["ok"] is False
        assert report["first_bad_seq"] == resolve["seq"]


async def _tamper(api: Api, event_id: str) -> None:
    """Change an audit row behind the application's back (as a superuser could)."""
    from sqlalchemy import text

    if api.backend == "postgres":
        async with await psycopg.AsyncConnection.connect(api.admin_url) as conn:
            await conn.execute("SET LOCAL session_replication_role = replica")
            await conn.execute(
                "UPDATE audit_events SET actor = 'mallory' WHERE id = %s", (event_id,)
            )
        return
    async with api.runtime.stores.transaction() as store:
        await store.session.execute(text("DROP TRIGGER audit_events_no_update"))
        await store.session.execute(
            text("UPDATE audit_events SET actor = 'mallory' WHERE id = :id"), {"id": event_id}
        )
        await store.session.execute(
            text(
                "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
                "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END"
            )
        )


async def test_live_inbox_events(api: Api, tenant: str) -> None:
    from service.domain.principal import Principal
    from service.services import inbox

    async with api.client(tenant) as client:
        principal = Principal(tenant_id=tenant, subject="alice")
        seen: list[tuple[str, dict[str, Any]]] = []

        async def listen() -> None:
            import json

            async for event in inbox.live(api.runtime, principal, None):
                seen.append((event.event, json.loads(event.data)))
                if len(seen) == 2:
                    return

        listener = asyncio.create_task(listen())
        await asyncio.sleep(0.1)
        item = await paused_refund(client)
        await ok(
            await client.post(
                f"/inbox/{item['id']}/decision", json=decision(item, {"type": "accept"})
            ),
            202,
        )
        await asyncio.wait_for(listener, 10)
    assert [name for name, _ in seen] == ["interrupt.created", "interrupt.resolved"]
    assert {data["id"] for _, data in seen} == {item["id"]}
    assert seen[0][1]["type"] == "refund"
