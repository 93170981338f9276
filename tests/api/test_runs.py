from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from service.api import keepalive
from service.domain.principal import Principal
from service.domain.runs import MultitaskStrategy
from service.errors import ThreadBusy
from service.services import assistants, runs, threads
from tests.api.helpers import (
    REFUND_INPUT,
    new_thread,
    ok,
    parse_sse,
    resume_wait,
    run_to_interrupt,
    wait_for_status,
)
from tests.fixtures.app import Api


class TestBackgroundRuns:
    async def test_create_answers_200_with_the_durable_run(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            tid = (await new_thread(client))["thread_id"]
            response = await client.post(
                f"/threads/{tid}/runs", json={"assistant_id": "refund_agent", "input": REFUND_INPUT}
            )
            assert response.status_code == 200  # as LangGraph Server: the JS SDK drops a 202's body
            run = response.json()
            assert response.headers["content-location"] == f"/threads/{tid}/runs/{run['run_id']}"
            assert "location" not in response.headers
            assert run["status"] in ("pending", "running")
            assert run["thread_id"] == tid
            stored = await ok(await client.get(f"/threads/{tid}/runs/{run['run_id']}"))
            assert stored["run_id"] == run["run_id"]
            done = await wait_for_status(client, tid, run["run_id"], {"success"})
            assert done["attempt"] == 1

    @pytest.mark.parametrize("prefer", ["respond-async", "wait=5, Respond-Async"])
    async def test_prefer_respond_async_answers_202_with_location(
        self, api: Api, tenant: str, prefer: str
    ) -> None:
        async with api.client(tenant) as client:
            tid = (await new_thread(client))["thread_id"]
            body = {"assistant_id": "refund_agent", "input": REFUND_INPUT}
            response = await client.post(
                f"/threads/{tid}/runs", json=body, headers={"Prefer": prefer}
            )
            assert response.status_code == 202
            run = response.json()
            assert response.headers["location"] == f"/threads/{tid}/runs/{run['run_id']}"
            assert response.headers["preference-applied"] == "respond-async"
            stateless = await client.post(
                "/runs",
                json={"assistant_id": "refund_agent", "input": REFUND_INPUT},
                headers={"Prefer": prefer},
            )
            assert stateless.status_code == 202, stateless.text

    async def test_run_stops_at_interrupt_with_success_and_thread_interrupted(
        self, api: Api, tenant: str
    ) -> None:
        async with api.client(tenant) as client:
            tid = (await new_thread(client))["thread_id"]
            joined = await run_to_interrupt(client, tid)
            (pending,) = joined["__interrupt__"]
            assert pending["value"]["action_request"]["action"] == "refund"
            thread = await ok(await client.get(f"/threads/{tid}"))
            assert thread["status"] == "interrupted"
            (task_interrupts,) = thread["interrupts"].values()
            assert task_interrupts[0]["id"] == pending["id"]
            runs = await ok(await client.get(f"/threads/{tid}/runs"))
            assert [r["status"] for r in runs] == ["success"]

    @pytest.mark.parametrize(
        ("resume", "outcome", "refunded"),
        [
            ([{"type": "accept", "args": None}], "refunded", 42.0),
            (
                [
                    {
                        "type": "edit",
                        "args": {"action": "refund", "args": {"order_id": "A-1", "amount": 10}},
                    }
                ],
                "refunded",
                10.0,
            ),
            ([{"type": "response", "args": "Ask for a photo first."}], "declined with note", None),
            ({"type": "ignore", "args": None}, "ignored", None),
        ],
    )
    async def test_each_human_response_resumes_the_agent(
        self, api: Api, tenant: str, resume: object, outcome: str, refunded: float | None
    ) -> None:
        async with api.client(tenant) as client:
            tid = (await new_thread(client))["thread_id"]
            await run_to_interrupt(client, tid)
            values = await resume_wait(client, tid, resume)
            assert values["outcome"] == outcome
            assert "__interrupt__" not in values
            expected = [] if refunded is None else [refunded]
            assert [r["amount"] for r in values["refunds"]] == expected
            thread = await ok(await client.get(f"/threads/{tid}"))
            assert thread["status"] == "idle"
            assert thread["interrupts"] == {}

    async def test_resume_with_nothing_pending_is_409(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            tid = (await new_thread(client))["thread_id"]
            response = await client.post(
                f"/threads/{tid}/runs",
                json={"assistant_id": "refund_agent", "command": {"resume": "yes"}},
            )
            assert response.status_code == 409
            assert response.json()["code"] == "nothing_pending"
            assert await ok(await client.get(f"/threads/{tid}/runs")) == []

    async def test_second_resume_of_one_interrupt_is_409(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            tid = (await new_thread(client))["thread_id"]
            await run_to_interrupt(client, tid)
            body = {"assistant_id": "refund_agent", "command": {"resume": {"type": "accept"}}}
            first, second = await asyncio.gather(
                client.post(f"/threads/{tid}/runs", json=body),
                client.post(f"/threads/{tid}/runs", json=body),
            )
            assert sorted([first.status_code, second.status_code]) == [200, 409]

    async def test_several_pending_need_a_map_and_can_be_answered_one_by_one(
        self, api: Api, tenant: str
    ) -> None:
        async with api.client(tenant) as client:
            tid = (await new_thread(client))["thread_id"]
            run = await ok(
                await client.post(
                    f"/threads/{tid}/runs", json={"assistant_id": "double_review", "input": {}}
                ),
                200,
            )
            joined = await ok(await client.get(f"/threads/{tid}/runs/{run['run_id']}/join"))
            by_type = {i["value"]["type"]: i["id"] for i in joined["__interrupt__"]}
            assert set(by_type) == {"legal_check", "finance_check"}
            ambiguous = await client.post(
                f"/threads/{tid}/runs",
                json={"assistant_id": "double_review", "command": {"resume": True}},
            )
            assert ambiguous.status_code == 422
            partial = await ok(
                await client.post(
                    f"/threads/{tid}/runs/wait",
                    json={
                        "assistant_id": "double_review",
                        "command": {"resume": {by_type["legal_check"]: "ok"}},
                    },
                )
            )
            assert [i["id"] for i in partial["__interrupt__"]] == [by_type["finance_check"]]
            final = await ok(
                await client.post(
                    f"/threads/{tid}/runs/wait",
                    json={
                        "assistant_id": "double_review",
                        "command": {"resume": {by_type["finance_check"]: "fine"}},
                    },
                )
            )
            assert sorted(final["answers"], key=str) == sorted(
                [{"legal_check": "ok"}, {"finance_check": "fine"}], key=str
            )

    async def test_failing_graph_ends_error_and_thread_error(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            tid = (await new_thread(client))["thread_id"]
            out = await ok(
                await client.post(
                    f"/threads/{tid}/runs/wait",
                    json={"assistant_id": "failing", "input": {"message": "kaput"}},
                )
            )
            assert out["__error__"]["error"] == "ValueError"
            assert out["__error__"]["message"] == "kaput"
            (run,) = await ok(await client.get(f"/threads/{tid}/runs"))
            assert run["status"] == "error"
            assert (await ok(await client.get(f"/threads/{tid}")))["status"] == "error"

    async def test_command_update_and_goto(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            tid = (await new_thread(client))["thread_id"]
            await run_to_interrupt(client, tid)
            await resume_wait(client, tid, {"type": "accept"})
            values = await ok(
                await client.post(
                    f"/threads/{tid}/runs/wait",
                    json={
                        "assistant_id": "refund_agent",
                        "command": {
                            "update": {"decision": {"type": "ignore", "args": None}},
                            "goto": "act",
                        },
                    },
                )
            )
            assert values["outcome"] == "ignored"
            assert len(values["refunds"]) == 1  # the earlier refund stays; act ran again


class TestRunInputs:
    async def test_unknown_thread_is_404_unless_if_not_exists_create(
        self, api: Api, tenant: str
    ) -> None:
        async with api.client(tenant) as client:
            missing = await client.post(
                "/threads/nope-1/runs", json={"assistant_id": "refund_agent", "input": REFUND_INPUT}
            )
            assert missing.status_code == 404
            created = await client.post(
                "/threads/nope-1/runs",
                json={
                    "assistant_id": "refund_agent",
                    "input": REFUND_INPUT,
                    "if_not_exists": "create",
                },
            )
            assert created.status_code == 200
            assert created.json()["thread_id"] == f"{tenant}:nope-1"

    @pytest.mark.parametrize(
        "body",
        [
            {"assistant_id": "refund_agent", "input": {}, "command": {"resume": 1}},
            {"assistant_id": "refund_agent", "command": {}},
            {"assistant_id": "refund_agent", "stream_mode": ["telepathy"]},
            {"assistant_id": "refund_agent", "multitask_strategy": "sometimes"},
            {"input": {}},
            {"assistant_id": "refund_agent", "after_seconds": -1},
        ],
    )
    async def test_bad_run_bodies_are_422(
        self, api: Api, tenant: str, body: dict[str, object]
    ) -> None:
        async with api.client(tenant) as client:
            tid = (await new_thread(client))["thread_id"]
            response = await client.post(f"/threads/{tid}/runs", json=body)
            assert response.status_code == 422, response.text
            assert response.json()["code"] == "invalid_input"
            assert await ok(await client.get(f"/threads/{tid}/runs")) == []

    async def test_unknown_assistant_is_404(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            tid = (await new_thread(client))["thread_id"]
            response = await client.post(f"/threads/{tid}/runs", json={"assistant_id": "ghost"})
        assert response.status_code == 404

    async def test_body_cannot_choose_tenant_or_thread(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            tid = (await new_thread(client))["thread_id"]
            run = await ok(
                await client.post(
                    f"/threads/{tid}/runs",
                    json={
                        "assistant_id": "slow",
                        "input": {"steps": 1, "seconds": 0},
                        "tenant_id": "other",
                        "thread_id": "other:victim",
                        "config": {
                            "configurable": {"thread_id": "other:victim", "checkpoint_id": "x"}
                        },
                    },
                ),
                200,
            )
            assert run["thread_id"] == tid
            assert "thread_id" not in run["kwargs"]["config"].get("configurable", {})
            await wait_for_status(client, tid, run["run_id"], {"success"})


class TestStatelessRuns:
    async def test_wait_without_thread_returns_output_and_forgets_the_thread(
        self, api: Api, tenant: str
    ) -> None:
        async with api.client(tenant) as client:
            out = await ok(
                await client.post(
                    "/runs/wait", json={"assistant_id": "publish_workflow", "input": {"topic": "x"}}
                )
            )
            assert out["__interrupt__"][0]["value"]["type"] == "publish_post"
            assert await ok(await client.post("/threads/count", json={})) == 0

    async def test_background_stateless_run(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            run = await ok(
                await client.post(
                    "/runs",
                    json={
                        "assistant_id": "slow",
                        "input": {"steps": 1, "seconds": 0},
                        "on_completion": "keep",
                    },
                ),
                200,
            )
            done = await wait_for_status(client, run["thread_id"], run["run_id"], {"success"})
            assert done["status"] == "success"
            thread = await ok(await client.get(f"/threads/{run['thread_id']}"))
            assert thread["values"]["done"] == [1]


class TestStreaming:
    async def test_stream_sends_metadata_then_modes_with_ids(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            tid = (await new_thread(client))["thread_id"]
            response = await client.post(
                f"/threads/{tid}/runs/stream",
                json={
                    "assistant_id": "refund_agent",
                    "input": REFUND_INPUT,
                    "stream_mode": ["values", "updates"],
                },
            )
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers["location"].endswith("/stream")
            events = parse_sse(response.text)
            assert events[0][1] == "metadata"
            run_id = events[0][2]["run_id"]
            assert response.headers["content-location"] == f"/threads/{tid}/runs/{run_id}"
            kinds = [e[1] for e in events]
            assert "values" in kinds
            assert "updates" in kinds
            ids = [int(e[0]) for e in events if e[0] is not None]
            assert ids == sorted(ids)
            assert len(ids) == len(events)
            interrupt_updates = [e for e in events if e[1] == "updates" and "__interrupt__" in e[2]]
            assert interrupt_updates

    async def test_values_only_stream_still_shows_the_interrupt(
        self, api: Api, tenant: str
    ) -> None:
        async with api.client(tenant) as client:
            tid = (await new_thread(client))["thread_id"]
            response = await client.post(
                f"/threads/{tid}/runs/stream",
                json={"assistant_id": "refund_agent", "input": REFUND_INPUT},
            )
            events = parse_sse(response.text)
            assert {e[1] for e in events} == {"metadata", "values"}
            assert any("__interrupt__" in e[2] for e in events if isinstance(e[2], dict))

    async def test_join_stream_replays_after_last_event_id(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            tid = (await new_thread(client))["thread_id"]
            run = await ok(
                await client.post(
                    f"/threads/{tid}/runs",
                    json={
                        "assistant_id": "slow",
                        "input": {"steps": 3, "seconds": 0.01},
                        "stream_mode": ["updates", "custom", "debug"],
                    },
                ),
                200,
            )
            full = parse_sse((await client.get(f"/threads/{tid}/runs/{run['run_id']}/stream")).text)
            assert [e[1] for e in full].count("updates") == 3
            assert "debug" in [e[1] for e in full]
            cut = full[2][0]
            rest = parse_sse(
                (
                    await client.get(
                        f"/threads/{tid}/runs/{run['run_id']}/stream",
                        headers={"Last-Event-ID": cut},
                    )
                ).text
            )
            assert [e[0] for e in rest] == [e[0] for e in full[3:]]
            only = parse_sse(
                (
                    await client.get(
                        f"/threads/{tid}/runs/{run['run_id']}/stream",
                        params={"stream_mode": "updates"},
                    )
                ).text
            )
            assert {e[1] for e in only} == {"metadata", "updates"}

    async def test_events_mode(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            tid = (await new_thread(client))["thread_id"]
            response = await client.post(
                f"/threads/{tid}/runs/stream",
                json={
                    "assistant_id": "slow",
                    "input": {"steps": 1, "seconds": 0},
                    "stream_mode": ["events", "values"],
                },
            )
            events = parse_sse(response.text)
            kinds = {e[1] for e in events}
            assert {"metadata", "events", "values"} <= kinds
            assert any(e[2]["event"] == "on_chain_start" for e in events if e[1] == "events")


class TestCancelAndMultitask:
    async def test_cancel_a_running_run_keeps_progress(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            tid = (await new_thread(client))["thread_id"]
            run = await ok(
                await client.post(
                    f"/threads/{tid}/runs",
                    json={"assistant_id": "slow", "input": {"steps": 50, "seconds": 0.1}},
                ),
                200,
            )
            await wait_for_status(client, tid, run["run_id"], {"running"})
            await asyncio.sleep(0.35)
            cancelled = await ok(
                await client.post(f"/threads/{tid}/runs/{run['run_id']}/cancel?wait=1")
            )
            assert cancelled["status"] == "interrupted"
            thread = await ok(await client.get(f"/threads/{tid}"))
            assert thread["status"] == "idle"
            assert 1 <= len(thread["values"]["done"]) < 50

    async def test_cancel_a_pending_run(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            tid = (await new_thread(client))["thread_id"]
            run = await ok(
                await client.post(
                    f"/threads/{tid}/runs",
                    json={"assistant_id": "slow", "input": {"steps": 1}, "after_seconds": 60},
                ),
                200,
            )
            cancelled = await ok(await client.post(f"/threads/{tid}/runs/{run['run_id']}/cancel"))
            assert cancelled["status"] == "interrupted"
            assert (await ok(await client.get(f"/threads/{tid}")))["status"] == "idle"
            joined = await client.get(f"/threads/{tid}/runs/{run['run_id']}/join")
            assert joined.status_code == 200

    async def test_reject_refuses_a_second_run(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            tid = (await new_thread(client))["thread_id"]
            body = {
                "assistant_id": "slow",
                "input": {"steps": 3, "seconds": 0.05},
                "multitask_strategy": "reject",
            }
            first = await client.post(f"/threads/{tid}/runs", json=body)
            second = await client.post(f"/threads/{tid}/runs", json=body)
            assert first.status_code == 200
            assert second.status_code == 409
            assert second.json()["code"] == "thread_busy"
            await wait_for_status(client, tid, first.json()["run_id"], {"success"})

    async def test_enqueue_runs_one_after_another(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            tid = (await new_thread(client))["thread_id"]
            body = {
                "assistant_id": "slow",
                "input": {"steps": 1, "seconds": 0.05},
                "multitask_strategy": "enqueue",
            }
            runs = [
                await ok(await client.post(f"/threads/{tid}/runs", json=body), 200)
                for _ in range(4)
            ]
            for run in runs:
                await wait_for_status(client, tid, run["run_id"], {"success"})
            stored = await ok(await client.get(f"/threads/{tid}/runs?limit=10"))
            assert all(r["status"] == "success" for r in stored)
            thread = await ok(await client.get(f"/threads/{tid}"))
            assert thread["status"] == "idle"

    async def test_interrupt_strategy_cancels_the_running_run(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            tid = (await new_thread(client))["thread_id"]
            first = await ok(
                await client.post(
                    f"/threads/{tid}/runs",
                    json={"assistant_id": "slow", "input": {"steps": 50, "seconds": 0.1}},
                ),
                200,
            )
            await wait_for_status(client, tid, first["run_id"], {"running"})
            second = await _one_step_run(client, tid, "interrupt")
            assert (await wait_for_status(client, tid, first["run_id"], {"interrupted"}))[
                "status"
            ] == "interrupted"
            await wait_for_status(client, tid, second["run_id"], {"success"})

    async def test_delete_run(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            tid = (await new_thread(client))["thread_id"]
            run = await ok(
                await client.post(
                    f"/threads/{tid}/runs",
                    json={"assistant_id": "slow", "input": {"steps": 1, "seconds": 0}},
                ),
                200,
            )
            await wait_for_status(client, tid, run["run_id"], {"success"})
            await ok(await client.delete(f"/threads/{tid}/runs/{run['run_id']}"), 204)
            assert (await client.get(f"/threads/{tid}/runs/{run['run_id']}")).status_code == 404


async def _one_step_run(client: httpx.AsyncClient, tid: str, strategy: str) -> dict[str, Any]:
    body = {
        "assistant_id": "slow",
        "input": {"steps": 1, "seconds": 0},
        "multitask_strategy": strategy,
    }
    run: dict[str, Any] = await ok(await client.post(f"/threads/{tid}/runs", json=body), 200)
    return run


async def _only_the_second_remains(
    client: httpx.AsyncClient, tid: str, first: dict[str, Any], second: dict[str, Any]
) -> None:
    """The rolled-back first run, its checkpoints and its values are gone."""
    await wait_for_status(client, tid, second["run_id"], {"success"})
    assert (await client.get(f"/threads/{tid}/runs/{first['run_id']}")).status_code == 404
    runs = await ok(await client.get(f"/threads/{tid}/runs"))
    assert [r["run_id"] for r in runs] == [second["run_id"]]
    history = await ok(await client.post(f"/threads/{tid}/history", json={"limit": 100}))
    assert {h["metadata"].get("run_id") for h in history} == {second["run_id"]}
    thread = await ok(await client.get(f"/threads/{tid}"))
    assert thread["values"]["done"] == [1]


class TestRollback:
    async def test_rollback_deletes_the_running_run_and_its_checkpoints(
        self, api: Api, tenant: str
    ) -> None:
        async with api.client(tenant) as client:
            tid = (await new_thread(client))["thread_id"]
            first = await ok(
                await client.post(
                    f"/threads/{tid}/runs",
                    json={"assistant_id": "slow", "input": {"steps": 50, "seconds": 0.1}},
                ),
                200,
            )
            await wait_for_status(client, tid, first["run_id"], {"running"})
            await asyncio.sleep(0.3)
            second = await _one_step_run(client, tid, "rollback")
            await _only_the_second_remains(client, tid, first, second)

    @pytest.mark.parametrize("state", ["running", "pending"])
    async def test_cancel_with_rollback_and_wait_answers_the_run_then_forgets_it(
        self, api: Api, tenant: str, state: str
    ) -> None:
        async with api.client(tenant) as client:
            tid = (await new_thread(client))["thread_id"]
            body: dict[str, Any] = {"assistant_id": "slow", "input": {"steps": 50, "seconds": 0.1}}
            if state == "pending":
                body["after_seconds"] = 60
            run = await ok(await client.post(f"/threads/{tid}/runs", json=body))
            await wait_for_status(client, tid, run["run_id"], {state})
            cancelled = await client.post(
                f"/threads/{tid}/runs/{run['run_id']}/cancel?wait=true&action=rollback"
            )
            assert cancelled.status_code == 200, cancelled.text
            assert cancelled.json()["run_id"] == run["run_id"]
            assert cancelled.json()["status"] == "interrupted"
            gone = await client.get(f"/threads/{tid}/runs/{run['run_id']}")
            assert gone.status_code == 404
            assert (await ok(await client.get(f"/threads/{tid}/runs"))) == []

    async def test_a_run_whose_graph_ended_as_the_rollback_came_is_still_rolled_back(
        self, api: Api, tenant: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The rollback commits after the graph's last step but before its end is recorded.

        The ledger still showed the run in flight when the newer run arrived, so it goes
        (a run that had already ended would stay, as in LangGraph Server).
        """
        worker = api.app.state.worker
        finishing, proceed = asyncio.Event(), asyncio.Event()
        record_end = worker._finalize

        async def paused(run: Any, lease: Any, result: Any, *, rollback: bool = False) -> None:
            if run.thread_id.endswith(tid) and not rollback:
                finishing.set()
                await proceed.wait()
            await record_end(run, lease, result, rollback=rollback)

        monkeypatch.setattr(worker, "_finalize", paused)
        async with api.client(tenant) as client:
            tid = (await new_thread(client))["thread_id"]
            body = {"assistant_id": "slow", "input": {"steps": 2, "seconds": 0}}
            first = await ok(await client.post(f"/threads/{tid}/runs", json=body), 200)
            await asyncio.wait_for(finishing.wait(), timeout=30)
            second = await _one_step_run(client, tid, "rollback")
            proceed.set()
            await _only_the_second_remains(client, tid, first, second)


async def test_stream_past_the_replay_window_sends_a_snapshot(api: Api, tenant: str) -> None:
    async with api.client(tenant) as client:
        tid = (await new_thread(client))["thread_id"]
        run = await ok(
            await client.post(
                f"/threads/{tid}/runs",
                json={"assistant_id": "slow", "input": {"steps": 2, "seconds": 0}},
            ),
            200,
        )
        await wait_for_status(client, tid, run["run_id"], {"success"})
        api.runtime.bus._streams.pop(run["run_id"])  # type: ignore[attr-defined]  # expired
        events = parse_sse((await client.get(f"/threads/{tid}/runs/{run['run_id']}/stream")).text)
    assert events == [("snapshot", "values", {"steps": 2, "seconds": 0, "done": [1, 2]})]


class TestKeepAlives:
    async def test_a_long_wait_sends_newlines_until_its_json(
        self, api: Api, tenant: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(keepalive, "INTERVAL", 0.2)
        async with api.client(tenant) as client:
            tid = (await new_thread(client))["thread_id"]
            body = {"assistant_id": "slow", "input": {"steps": 8, "seconds": 0.1}}
            waited = await client.post(f"/threads/{tid}/runs/wait", json=body)
            assert waited.status_code == 200
            assert waited.content.startswith(b"\n"), waited.content[:20]
            assert len(waited.json()["done"]) == 8  # JSON parsers skip the newlines
            other = (await new_thread(client))["thread_id"]
            started = await ok(await client.post(f"/threads/{other}/runs", json=body))
            joined = await client.get(f"/threads/{other}/runs/{started['run_id']}/join")
            assert joined.status_code == 200
            assert joined.content.startswith(b"\n"), joined.content[:20]
            assert len(joined.json()["done"]) == 8

    async def test_a_quick_wait_is_plain_json_with_its_headers_and_errors_keep_status(
        self, api: Api, tenant: str
    ) -> None:
        async with api.client(tenant) as client:
            tid = (await new_thread(client))["thread_id"]
            body = {"assistant_id": "slow", "input": {"steps": 1, "seconds": 0}}
            waited = await client.post(f"/threads/{tid}/runs/wait", json=body)
            assert waited.status_code == 200
            assert waited.content.startswith(b"{")
            assert waited.headers["content-location"].startswith(f"/threads/{tid}/runs/")
            missing = await client.post("/threads/nope-9/runs/wait", json=body)
            assert missing.status_code == 404
            assert missing.json()["code"] == "not_found"


class TestStartingFromACheckpoint:
    async def test_only_the_threads_own_checkpoints_and_nothing_written_otherwise(
        self, api: Api, tenant: str
    ) -> None:
        async with api.client(tenant) as mine, api.client(f"{tenant}-b", "mallory") as theirs:
            tid = (await new_thread(mine))["thread_id"]
            await run_to_interrupt(mine, tid)
            victim = (await new_thread(theirs))["thread_id"]
            await run_to_interrupt(theirs, victim)
            foreign = (await ok(await theirs.get(f"/threads/{victim}/state")))["checkpoint"]
            own = (await ok(await mine.get(f"/threads/{tid}/state")))["checkpoint"]
            before = await ok(await mine.get(f"/threads/{tid}"))
            runs_before = await ok(await mine.get(f"/threads/{tid}/runs"))
            body = {"assistant_id": "refund_agent", "input": REFUND_INPUT}
            for extra in (
                {"checkpoint_id": foreign["checkpoint_id"]},
                {"checkpoint": {"checkpoint_id": foreign["checkpoint_id"]}},
                {"checkpoint_id": "1f0-made-up"},
            ):
                refused = await mine.post(f"/threads/{tid}/runs", json={**body, **extra})
                assert refused.status_code == 404, (extra, refused.text)
            assert (await ok(await mine.get(f"/threads/{tid}")))["values"] == before["values"]
            assert await ok(await mine.get(f"/threads/{tid}/runs")) == runs_before
            stateless = await mine.post(
                "/runs", json={**body, "checkpoint_id": own["checkpoint_id"]}
            )
            assert stateless.status_code == 422
            allowed = await mine.post(
                f"/threads/{tid}/runs",
                json={
                    **body,
                    "checkpoint_id": own["checkpoint_id"],
                    "multitask_strategy": "enqueue",
                },
            )
            assert allowed.status_code == 200, allowed.text


class TestResumeGuards:
    """``command.resume`` on the runs route is as safe as the inbox decision route."""

    ACCEPT = {
        "assistant_id": "refund_agent",
        "command": {"resume": {"type": "accept", "args": None}},
    }

    async def test_a_retried_resume_with_its_idempotency_key_gets_the_same_run(
        self, api: Api, tenant: str
    ) -> None:
        async with api.client(tenant) as client:
            tid = (await new_thread(client))["thread_id"]
            await run_to_interrupt(client, tid)
            headers = {"Idempotency-Key": f"resume-{tid}"}
            replies = await asyncio.gather(
                *(
                    client.post(f"/threads/{tid}/runs", json=self.ACCEPT, headers=headers)
                    for _ in range(8)
                )
            )
            assert {r.status_code for r in replies} == {200}, [r.text for r in replies]
            assert len({r.json()["run_id"] for r in replies}) == 1
            later = await client.post(f"/threads/{tid}/runs", json=self.ACCEPT, headers=headers)
            assert later.json()["run_id"] == replies[0].json()["run_id"]
            other = {**self.ACCEPT, "command": {"resume": {"type": "ignore", "args": None}}}
            reused = await client.post(f"/threads/{tid}/runs", json=other, headers=headers)
            assert reused.status_code == 422
            plain = await client.post(f"/threads/{tid}/runs", json=self.ACCEPT)
            assert plain.status_code == 409  # without the key a second answer is refused

    async def test_if_match_binds_the_resume_to_the_payload_seen(
        self, api: Api, tenant: str
    ) -> None:
        async with api.client(tenant) as client:
            tid = (await new_thread(client))["thread_id"]
            await run_to_interrupt(client, tid)
            items = (await ok(await client.get("/inbox", params={"limit": 1000})))["items"]
            (item,) = [i for i in items if i["thread_id"] == tid]
            stale = await client.post(
                f"/threads/{tid}/runs", json=self.ACCEPT, headers={"If-Match": '"0000"'}
            )
            assert stale.status_code == 409
            assert stale.json()["code"] == "stale_decision"
            still = (await ok(await client.get("/inbox", params={"limit": 1000})))["items"]
            assert item["id"] in [i["id"] for i in still]
            fresh = await client.post(
                f"/threads/{tid}/runs",
                json=self.ACCEPT,
                headers={"If-Match": f'"{item["payload_hash"]}"'},
            )
            assert fresh.status_code == 200, fresh.text


async def test_a_run_added_while_another_writer_waited_for_the_thread_is_seen(
    api: Api, tenant: str
) -> None:
    """A writer that waited for the thread's lock sees the runs added meanwhile: two runs
    created at once with ``multitask_strategy=reject``, one holding the thread while the
    other waits, do not both start (on Postgres the waiting statement's snapshot predates
    the run, so the list read with the lock must be left out and read again)."""
    rt = api.runtime
    async with api.client(tenant) as client:
        tid = (await new_thread(client))["thread_id"]
    principal = Principal(tenant_id=tenant, subject="alice")
    reject = MultitaskStrategy.reject
    holding, release = asyncio.Event(), asyncio.Event()

    async def first() -> str:
        async with rt.transaction() as uow:
            thread = await threads.load(uow.store, rt, principal, tid, lock=True)
            assistant = await assistants.resolve(uow.store, rt, tenant, "slow")
            request = runs.RunRequest(assistant_id="slow", input={}, multitask_strategy=reject)
            run = await runs.enqueue(uow, rt, thread, assistant, request, principal=principal)
            holding.set()
            await release.wait()
        return run.run_id

    holder = asyncio.create_task(first())
    await asyncio.wait_for(holding.wait(), 10)
    second = asyncio.create_task(
        runs.create(
            rt, principal, tid, runs.RunRequest(assistant_id="slow", multitask_strategy=reject)
        )
    )
    await asyncio.sleep(0.3)  # the second now waits for the thread
    assert not second.done()
    release.set()
    await holder
    with pytest.raises(ThreadBusy):
        await second
