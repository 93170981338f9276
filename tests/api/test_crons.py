"""Crons (``/runs/crons``, ``/threads/{id}/runs/crons``) on each backend: the LangGraph
Server shapes, validation, tenant isolation, ownership, and firing by the worker."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select, text

from service.domain.ids import resolve_thread_id
from service.models import Cron, Run
from service.services import cron_scheduler
from tests.api.helpers import new_thread, ok
from tests.fixtures.app import Api

QUICK = {"steps": 1, "seconds": 0.01}  # the "slow" graph, one short step
YEARLY = "0 0 1 1 *"  # never due by itself during a test: firings are made due by hand


async def make_due(api: Api, tenant: str, cron_id: str, ago: float = 1.0) -> None:
    """Move the cron's next firing into the past, as time passing would."""
    async with api.runtime.stores.transaction() as store:
        cron = await store.crons.get(cron_id, tenant_id=tenant)
        assert cron is not None
        cron.next_run_date = datetime.now(UTC) - timedelta(seconds=ago)


async def cron_runs(api: Api, tenant: str, cron_id: str) -> list[Run]:
    async with api.runtime.stores.transaction(readonly=True) as store:
        rows = (await store.session.scalars(select(Run).where(Run.tenant_id == tenant))).all()
    return [r for r in rows if (r.metadata_ or {}).get("cron_id") == cron_id]


async def stored(api: Api, tenant: str, cron_id: str) -> Cron | None:
    async with api.runtime.stores.transaction(readonly=True) as store:
        return await store.crons.get(cron_id, tenant_id=tenant)


async def until_runs(api: Api, tenant: str, cron_id: str, count: int = 1) -> list[Run]:
    deadline = time.monotonic() + 15
    while True:
        found = await cron_runs(api, tenant, cron_id)
        if len(found) >= count:
            return found
        assert time.monotonic() < deadline, f"{len(found)} runs of cron {cron_id}"
        await asyncio.sleep(0.1)


async def thread_cron(client: httpx.AsyncClient, thread_id: str, **body: Any) -> dict[str, Any]:
    payload = {"assistant_id": "slow", "schedule": YEARLY, "input": QUICK, **body}
    return await ok(await client.post(f"/threads/{thread_id}/runs/crons", json=payload))  # type: ignore[no-any-return]


class TestCrud:
    async def test_create_for_thread_answers_the_cron(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            thread = await new_thread(client)
            cron = await thread_cron(
                client,
                thread["thread_id"],
                schedule="30 9 * * 1-5",
                timezone="America/New_York",
                metadata={"team": "ops"},
                webhook="http://127.0.0.1:9/hook",
            )
        assert cron["thread_id"] == thread["thread_id"]
        assert cron["user_id"] == "alice"
        assert cron["enabled"] is True
        assert cron["on_run_completed"] is None
        assert cron["metadata"] == {"team": "ops"}
        assert cron["payload"]["input"] == QUICK
        assert cron["payload"]["webhook"] == "http://127.0.0.1:9/hook"
        nxt = datetime.fromisoformat(cron["next_run_date"])
        local = nxt.astimezone(ZoneInfo("America/New_York"))
        assert (local.hour, local.minute) == (9, 30)
        assert local.weekday() < 5
        assert nxt > datetime.now(UTC)

    async def test_a_deleted_thread_takes_its_crons(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            kept = await new_thread(client)
            gone = await new_thread(client)
            survivor = await thread_cron(client, kept["thread_id"])
            doomed = await thread_cron(client, gone["thread_id"])
            deleted = await client.delete(f"/threads/{gone['thread_id']}")
            assert deleted.status_code == 204
            assert await stored(api, tenant, doomed["cron_id"]) is None
            assert await stored(api, tenant, survivor["cron_id"]) is not None
            found = await ok(await client.post("/runs/crons/search", json={}))
            assert [c["cron_id"] for c in found] == [survivor["cron_id"]]

    async def test_stateless_defaults_to_delete(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            cron = await ok(
                await client.post("/runs/crons", json={"assistant_id": "slow", "schedule": YEARLY})
            )
            kept = await ok(
                await client.post(
                    "/runs/crons",
                    json={"assistant_id": "slow", "schedule": YEARLY, "on_run_completed": "keep"},
                )
            )
        assert cron["thread_id"] is None
        assert cron["on_run_completed"] == "delete"
        assert kept["on_run_completed"] == "keep"

    async def test_search_count_update_delete(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            thread = await new_thread(client)
            first = await thread_cron(client, thread["thread_id"], metadata={"k": "a"})
            second = await ok(
                await client.post(
                    "/runs/crons",
                    json={
                        "assistant_id": "refund_agent",
                        "schedule": YEARLY,
                        "metadata": {"k": "b"},
                    },
                )
            )
            everything = await ok(await client.post("/runs/crons/search", json={}))
            assert {c["cron_id"] for c in everything} == {first["cron_id"], second["cron_id"]}
            by_thread = await ok(
                await client.post("/runs/crons/search", json={"thread_id": thread["thread_id"]})
            )
            assert [c["cron_id"] for c in by_thread] == [first["cron_id"]]
            by_graph = await ok(
                await client.post("/runs/crons/search", json={"assistant_id": "refund_agent"})
            )
            assert [c["cron_id"] for c in by_graph] == [second["cron_id"]]
            ordered = await ok(
                await client.post(
                    "/runs/crons/search", json={"sort_by": "created_at", "sort_order": "asc"}
                )
            )
            assert [c["cron_id"] for c in ordered] == [first["cron_id"], second["cron_id"]]
            assert await ok(await client.post("/runs/crons/count", json={})) == 2
            assert (
                await ok(await client.post("/runs/crons/count", json={"metadata": {"k": "b"}})) == 1
            )

            patched = await ok(
                await client.patch(
                    f"/runs/crons/{first['cron_id']}",
                    json={"schedule": "15 * * * *", "enabled": False, "input": {"steps": 2}},
                )
            )
            assert patched["schedule"] == "15 * * * *"
            assert patched["enabled"] is False
            assert patched["payload"]["input"] == {"steps": 2}
            disabled = await ok(await client.post("/runs/crons/search", json={"enabled": False}))
            assert [c["cron_id"] for c in disabled] == [first["cron_id"]]
            enabled = await ok(
                await client.patch(f"/runs/crons/{first['cron_id']}", json={"enabled": True})
            )
            assert datetime.fromisoformat(enabled["next_run_date"]).minute == 15

            end = (datetime.now(UTC) + timedelta(days=400)).isoformat()
            with_end = await ok(
                await client.patch(f"/runs/crons/{first['cron_id']}", json={"end_time": end})
            )
            assert with_end["end_time"] is not None
            cleared = await ok(
                await client.patch(f"/runs/crons/{first['cron_id']}", json={"end_time": None})
            )
            assert cleared["end_time"] is None

            await ok(await client.delete(f"/runs/crons/{first['cron_id']}"), 204)
            again = await client.delete(f"/runs/crons/{first['cron_id']}")
            assert again.status_code == 404
            assert await ok(await client.post("/runs/crons/count", json={})) == 1

    async def test_end_time_in_the_past_is_disabled(self, api: Api, tenant: str) -> None:
        past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
        async with api.client(tenant) as client:
            cron = await ok(
                await client.post(
                    "/runs/crons",
                    json={"assistant_id": "slow", "schedule": "* * * * *", "end_time": past},
                )
            )
        assert cron["enabled"] is False
        assert cron["next_run_date"] is None

    async def test_aliases_and_times_without_an_offset(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            cron = await ok(
                await client.post(
                    "/runs/crons",
                    json={
                        "assistant_id": "slow",
                        "schedule": "@daily",
                        "end_time": "2100-01-01T00:00:00",
                    },
                )
            )
        assert datetime.fromisoformat(cron["end_time"]) == datetime(2100, 1, 1, tzinfo=UTC)
        nxt = datetime.fromisoformat(cron["next_run_date"])
        assert (nxt.hour, nxt.minute) == (0, 0)


class TestValidation:
    async def test_bad_bodies_are_422(self, api: Api, tenant: str) -> None:
        bad = [
            {"assistant_id": "slow", "schedule": "61 * * * *"},
            {"assistant_id": "slow", "schedule": "every day"},
            {"assistant_id": "slow", "schedule": "* * *"},
            {"assistant_id": "slow", "schedule": "0 0 31 2 *"},  # never fires
            {"assistant_id": "slow", "schedule": "@reboot"},
            {"assistant_id": "slow", "schedule": YEARLY, "timezone": "Mars/Olympus"},
            {"assistant_id": "slow", "schedule": YEARLY, "on_run_completed": "archive"},
            {"assistant_id": "slow", "schedule": YEARLY, "end_time": 12},
            {"assistant_id": "slow", "schedule": YEARLY, "multitask_strategy": "nope"},
            {"assistant_id": "slow"},
            {"schedule": YEARLY},
        ]
        async with api.client(tenant) as client:
            for body in bad:
                response = await client.post("/runs/crons", json=body)
                assert response.status_code == 422, (body, response.text)
                assert response.json()["code"], body
            cron = await ok(
                await client.post("/runs/crons", json={"assistant_id": "slow", "schedule": YEARLY})
            )
            for patch in ({"schedule": "nope"}, {"timezone": "Nowhere/Land"}, {"enabled": "yes"}):
                response = await client.patch(f"/runs/crons/{cron['cron_id']}", json=patch)
                assert response.status_code == 422, (patch, response.text)

    async def test_unknown_assistant_and_thread_are_404(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            no_assistant = await client.post(
                "/runs/crons", json={"assistant_id": "missing", "schedule": YEARLY}
            )
            no_thread = await client.post(
                "/threads/nothing-here/runs/crons",
                json={"assistant_id": "slow", "schedule": YEARLY},
            )
        assert no_assistant.status_code == 404
        assert no_thread.status_code == 404
        assert no_thread.json()["code"] == "not_found"


class TestIsolation:
    async def test_other_tenant_never_sees_a_cron(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as a, api.client(tenant + "b") as b:
            thread = await new_thread(a)
            cron = await thread_cron(a, thread["thread_id"])
            unknown_patch = await b.patch(
                "/runs/crons/00000000-0000-0000-0000-000000000000", json={}
            )
            foreign_patch = await b.patch(f"/runs/crons/{cron['cron_id']}", json={"enabled": False})
            foreign_delete = await b.delete(f"/runs/crons/{cron['cron_id']}")
            assert foreign_patch.status_code == foreign_delete.status_code == 404
            assert foreign_patch.content == unknown_patch.content
            assert await ok(await b.post("/runs/crons/search", json={})) == []
            assert await ok(await b.post("/runs/crons/count", json={})) == 0
            by_thread = await ok(
                await b.post("/runs/crons/search", json={"thread_id": thread["thread_id"]})
            )
            assert by_thread == []
            on_foreign_thread = await b.post(
                f"/threads/{thread['thread_id']}/runs/crons",
                json={"assistant_id": "slow", "schedule": YEARLY},
            )
            assert on_foreign_thread.status_code == 404
            mine = await stored(api, tenant, cron["cron_id"])
        assert mine is not None
        assert mine.enabled

    async def test_agents_see_their_own_viewers_cannot_write(self, api: Api, tenant: str) -> None:
        async with (
            api.client(tenant, "bot-1", roles=("agent",)) as one,
            api.client(tenant, "bot-2", roles=("agent",)) as two,
            api.client(tenant, "vic", roles=("viewer",)) as viewer,
        ):
            thread = await new_thread(one)
            cron = await thread_cron(one, thread["thread_id"])
            assert await ok(await two.post("/runs/crons/search", json={})) == []
            assert (await two.delete(f"/runs/crons/{cron['cron_id']}")).status_code == 404
            # another agent's thread: no runs there, so no cron either
            on_theirs = await two.post(
                f"/threads/{thread['thread_id']}/runs/crons",
                json={"assistant_id": "slow", "schedule": YEARLY},
            )
            assert on_theirs.status_code == 404
            seen = await ok(await viewer.post("/runs/crons/search", json={}))
            assert [c["cron_id"] for c in seen] == [cron["cron_id"]]
            refused = await viewer.patch(f"/runs/crons/{cron['cron_id']}", json={"enabled": False})
            assert refused.status_code == 403
            stateless = await one.post(
                "/runs/crons", json={"assistant_id": "slow", "schedule": YEARLY}
            )
            assert stateless.status_code == 200, stateless.text
            create = await viewer.post(
                "/runs/crons", json={"assistant_id": "slow", "schedule": YEARLY}
            )
            assert create.status_code == 403


class TestFiring:
    async def test_a_due_thread_cron_fires_once_and_moves_on(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            thread = await new_thread(client)
            cron = await thread_cron(client, thread["thread_id"], metadata={"m": 1})
            await make_due(api, tenant, cron["cron_id"])
            (run,) = await until_runs(api, tenant, cron["cron_id"])
            assert run.thread_id == thread["thread_id"]
            assert run.created_by == "alice"
            assert run.kwargs["input"] == QUICK
            assert run.metadata_["m"] == 1
            runs = await ok(await client.get(f"/threads/{thread['thread_id']}/runs"))
            assert [r["run_id"] for r in runs] == [run.run_id]
            after = await ok(await client.post("/runs/crons/search", json={}))
        assert datetime.fromisoformat(after[0]["next_run_date"]) > datetime.now(UTC)
        assert await cron_scheduler.fire_due(api.runtime) == 0  # nothing due any more
        assert len(await cron_runs(api, tenant, cron["cron_id"])) == 1

    async def test_stateless_delete_removes_the_thread(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            deleting = await ok(
                await client.post(
                    "/runs/crons", json={"assistant_id": "slow", "schedule": YEARLY, "input": QUICK}
                )
            )
            keeping = await ok(
                await client.post(
                    "/runs/crons",
                    json={
                        "assistant_id": "slow",
                        "schedule": YEARLY,
                        "input": QUICK,
                        "on_run_completed": "keep",
                    },
                )
            )
            await make_due(api, tenant, deleting["cron_id"])
            await make_due(api, tenant, keeping["cron_id"])
            (gone,) = await until_runs(api, tenant, deleting["cron_id"])
            (kept,) = await until_runs(api, tenant, keeping["cron_id"])
            deadline = time.monotonic() + 15
            while (await client.get(f"/threads/{gone.thread_id}")).status_code != 404:
                assert time.monotonic() < deadline, "the firing's thread was not deleted"
                await asyncio.sleep(0.1)
            while (await ok(await client.get(f"/threads/{kept.thread_id}")))["status"] == "busy":
                assert time.monotonic() < deadline
                await asyncio.sleep(0.1)
            thread = await ok(await client.get(f"/threads/{kept.thread_id}"))
        assert thread["values"]["done"] == [1]

    async def test_past_its_end_it_is_disabled_without_firing(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            thread = await new_thread(client)
            end = (datetime.now(UTC) + timedelta(days=1)).isoformat()
            cron = await thread_cron(
                client, thread["thread_id"], schedule="0 0 * * *", end_time=end
            )
        async with api.runtime.stores.transaction() as store:
            row = await store.crons.get(cron["cron_id"], tenant_id=tenant)
            assert row is not None
            row.end_time = datetime.now(UTC) - timedelta(seconds=5)
            row.next_run_date = datetime.now(UTC) - timedelta(seconds=1)
        deadline = time.monotonic() + 15
        while (row := await stored(api, tenant, cron["cron_id"])) and row.enabled:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        assert row is not None
        assert row.next_run_date is None
        assert await cron_runs(api, tenant, cron["cron_id"]) == []

    async def test_a_cron_whose_thread_is_gone_is_disabled(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            thread = await new_thread(client)
            cron = await thread_cron(client, thread["thread_id"])
            # gone behind the API's back (DELETE /threads takes its crons along)
            async with api.runtime.stores.transaction() as store:
                own = resolve_thread_id(tenant, thread["thread_id"])
                assert await store.threads.delete(own, tenant_id=tenant)
            await make_due(api, tenant, cron["cron_id"])
            deadline = time.monotonic() + 15
            while (row := await stored(api, tenant, cron["cron_id"])) and row.enabled:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.1)
            assert await cron_runs(api, tenant, cron["cron_id"]) == []
            # the worker goes on firing the others
            other = await new_thread(client)
            fine = await thread_cron(client, other["thread_id"])
            await make_due(api, tenant, fine["cron_id"])
            assert len(await until_runs(api, tenant, fine["cron_id"])) == 1

    async def test_an_owner_who_lost_the_right_stops_firing(self, api: Api, tenant: str) -> None:
        async with (
            api.client(tenant) as admin,
            api.client(tenant, "bot", roles=("agent",)) as bot,
        ):
            thread = await new_thread(bot)
            cron = await thread_cron(bot, thread["thread_id"])
            await ok(await admin.delete("/policies/members/bot/roles/agent"))
            await make_due(api, tenant, cron["cron_id"])
            deadline = time.monotonic() + 15
            while (row := await stored(api, tenant, cron["cron_id"])) and row.enabled:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.1)
        assert await cron_runs(api, tenant, cron["cron_id"]) == []

    async def test_a_database_error_disables_it_and_rolls_the_firing_back(
        self, api: Api, tenant: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A statement that fails mid-firing aborts the firing's transaction (on Postgres
        every later statement in it fails too): nothing of the firing stays, and the cron
        is disabled in a transaction of its own, so it cannot fail every tick."""
        async with api.client(tenant) as client:
            thread = await new_thread(client)
            cron = await thread_cron(client, thread["thread_id"])
        real = cron_scheduler._start_run

        async def failing(uow: Any, rt: Any, row: Cron) -> Run:
            if row.cron_id != cron["cron_id"]:
                return await real(uow, rt, row)
            await real(uow, rt, row)  # the run is written, then the statement fails
            await uow.store.session.execute(text("SELECT 1 / 0"))
            raise AssertionError("unreachable")

        monkeypatch.setattr(cron_scheduler, "_start_run", failing)
        await make_due(api, tenant, cron["cron_id"])
        deadline = time.monotonic() + 15
        while (row := await stored(api, tenant, cron["cron_id"])) and row.enabled:
            assert time.monotonic() < deadline, "the failing cron stayed enabled"
            await asyncio.sleep(0.1)
        assert await cron_runs(api, tenant, cron["cron_id"]) == []


class TestExactlyOnce:
    async def test_concurrent_ticks_fire_each_due_cron_once(self, api: Api, tenant: str) -> None:
        """Many schedulers ticking at the same moment (as every worker process does), each
        in its own transaction and connection: every due cron fires exactly once."""
        async with api.client(tenant) as client:
            thread = await new_thread(client)
            made = [await thread_cron(client, thread["thread_id"]) for _ in range(12)]
        async with api.runtime.stores.transaction() as store:
            for cron in made:
                row = await store.crons.get(cron["cron_id"], tenant_id=tenant)
                assert row is not None
                row.next_run_date = datetime.now(UTC) - timedelta(seconds=1)
        ticks = await asyncio.gather(*(cron_scheduler.fire_due(api.runtime) for _ in range(6)))
        for cron in made:
            assert len(await cron_runs(api, tenant, cron["cron_id"])) == 1, cron["cron_id"]
        assert sum(ticks) <= len(made)
