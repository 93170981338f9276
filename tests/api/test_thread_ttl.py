"""Thread time to live (``ttl`` of ``POST /threads`` and ``PATCH /threads/{id}``, the
default of ``langgraph.json``'s ``checkpointer.ttl``) and the worker's sweeper, on each
backend."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.domain.ids import resolve_thread_id
from service.domain.thread_ttl import ThreadTtl, ThreadTtlConfig
from service.engine.registry import GraphConfigError
from service.engine.store_backends import read_thread_ttl_config
from service.services import thread_ttl
from tests.api.helpers import new_thread, ok
from tests.fixtures.app import Api

SLOW_INPUT = {"steps": 2, "seconds": 0}


def _expires(thread: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(thread["ttl"]["expires_at"])


async def _run(client: httpx.AsyncClient, thread_id: str) -> None:
    await ok(
        await client.post(
            f"/threads/{thread_id}/runs/wait", json={"assistant_id": "slow", "input": SLOW_INPUT}
        )
    )


async def _expire(api: Api, tenant: str, thread_id: str) -> None:
    """Move the thread's expiry into the past, as time passing would."""
    async with api.runtime.stores.transaction() as store:
        row = await store.threads.get(resolve_thread_id(tenant, thread_id), tenant_id=tenant)
        assert row is not None
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)


class TestSettings:
    async def test_create_with_minutes_or_a_strategy(self, api: Api, tenant: str) -> None:
        before = datetime.now(UTC)
        async with api.client(tenant) as client:
            plain = await new_thread(client, ttl=30)
            kept = await new_thread(client, ttl={"ttl": 2.5, "strategy": "keep_latest"})
            none = await new_thread(client)
            read = await ok(await client.get(f"/threads/{kept['thread_id']}"))
        assert plain["ttl"]["strategy"] == "delete"
        assert plain["ttl"]["ttl_minutes"] == 30
        assert before + timedelta(minutes=30) <= _expires(plain)
        assert _expires(plain) <= datetime.now(UTC) + timedelta(minutes=30)
        assert read["ttl"] == kept["ttl"]
        assert kept["ttl"]["strategy"] == "keep_latest"
        assert kept["ttl"]["ttl_minutes"] == 2.5
        assert none["ttl"] is None

    async def test_update_and_runs_move_the_expiry_on(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            thread = await new_thread(client, ttl=60)
            tid = thread["thread_id"]
            changed = await ok(await client.patch(f"/threads/{tid}", json={"ttl": 1}))
            assert changed["ttl"]["ttl_minutes"] == 1
            assert _expires(changed) < _expires(thread)
            await asyncio.sleep(0.05)
            touched = await ok(await client.patch(f"/threads/{tid}", json={"metadata": {"a": 1}}))
            assert touched["ttl"]["ttl_minutes"] == 1  # kept, counted from now
            assert _expires(touched) > _expires(changed)
            await asyncio.sleep(0.05)
            await _run(client, tid)
            after_run = await ok(await client.get(f"/threads/{tid}"))
        assert _expires(after_run) > _expires(touched)

    async def test_bad_ttls_are_422_and_change_nothing(self, api: Api, tenant: str) -> None:
        bad: list[Any] = [0, -5, "10", True, 1e12, {"ttl": 0}, {"strategy": "delete"}]
        bad.append({"ttl": 5, "strategy": "archive"})
        async with api.client(tenant) as client:
            thread = await new_thread(client, ttl=5)
            for ttl in bad:
                created = await client.post("/threads", json={"ttl": ttl})
                assert created.status_code == 422, ttl
                patched = await client.patch(f"/threads/{thread['thread_id']}", json={"ttl": ttl})
                assert patched.status_code == 422, ttl
                assert patched.json()["detail"]
            count = await ok(await client.post("/threads/count", json={}))
            read = await ok(await client.get(f"/threads/{thread['thread_id']}"))
        assert count == 1
        assert read["ttl"] == thread["ttl"]

    async def test_the_default_of_langgraph_json(self, api: Api, tenant: str) -> None:
        rt = api.runtime
        configured = ThreadTtlConfig(default=ThreadTtl("keep_latest", 15))
        with _replaced(rt, "thread_ttl", configured):
            async with api.client(tenant) as client:
                defaulted = await new_thread(client)
                own = await new_thread(client, ttl=3)
                run_created = await ok(
                    await client.post(
                        "/threads/never-seen/runs/wait",
                        json={
                            "assistant_id": "slow",
                            "input": SLOW_INPUT,
                            "if_not_exists": "create",
                        },
                    )
                )
                made = await ok(await client.get("/threads/never-seen"))
        assert run_created is not None
        assert defaulted["ttl"]["strategy"] == "keep_latest"
        assert defaulted["ttl"]["ttl_minutes"] == 15
        assert own["ttl"] == {**own["ttl"], "strategy": "delete", "ttl_minutes": 3}
        assert made["ttl"]["ttl_minutes"] == 15


class TestSweeper:
    async def test_delete_removes_the_thread_and_its_state(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            doomed = (await new_thread(client, ttl=5))["thread_id"]
            staying = (await new_thread(client, ttl=5))["thread_id"]
            forever = (await new_thread(client))["thread_id"]
            for tid in (doomed, staying, forever):
                await _run(client, tid)
            await _expire(api, tenant, doomed)
            await thread_ttl.sweep(api.runtime)
            assert (await client.get(f"/threads/{doomed}")).status_code == 404
            assert (await client.get(f"/threads/{doomed}/state")).status_code == 404
            runs = await client.get(f"/threads/{doomed}/runs")
            assert runs.status_code == 404
            for tid in (staying, forever):
                state = await ok(await client.get(f"/threads/{tid}/state"))
                assert state["values"]["done"] == [1, 2]
        own = {
            "configurable": {"thread_id": resolve_thread_id(tenant, doomed), "checkpoint_ns": ""}
        }
        assert await api.runtime.engine.checkpointer.aget_tuple(own) is None

    async def test_keep_latest_prunes_and_keeps_the_thread(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            tid = (await new_thread(client, ttl={"ttl": 5, "strategy": "keep_latest"}))["thread_id"]
            await _run(client, tid)
            await _run(client, tid)
            before = await ok(await client.get(f"/threads/{tid}/state"))
            await _expire(api, tenant, tid)
            await thread_ttl.sweep(api.runtime)
            after = await ok(await client.get(f"/threads/{tid}/state"))
            history = await ok(await client.post(f"/threads/{tid}/history", json={"limit": 10}))
            thread = await ok(await client.get(f"/threads/{tid}"))
            assert thread["ttl"]["expires_at"] is None  # until something happens on it
            await _run(client, tid)
            again = await ok(await client.get(f"/threads/{tid}"))
        assert after["values"] == before["values"]
        assert len(history) == 1
        assert again["ttl"]["expires_at"] is not None

    async def test_a_running_thread_waits_for_a_later_sweep(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            tid = (await new_thread(client, ttl=5))["thread_id"]
            run = await ok(
                await client.post(
                    f"/threads/{tid}/runs",
                    json={"assistant_id": "slow", "input": {"steps": 1, "seconds": 1.5}},
                )
            )
            await _expire(api, tenant, tid)  # expired while busy
            await thread_ttl.sweep(api.runtime)
            assert (await ok(await client.get(f"/threads/{tid}")))["status"] == "busy"
            await ok(await client.get(f"/threads/{tid}/runs/{run['run_id']}/join"))
            await _expire(api, tenant, tid)
            await thread_ttl.sweep(api.runtime)
            assert (await client.get(f"/threads/{tid}")).status_code == 404

    async def test_the_workers_loop_sweeps_every_interval(self, api: Api, tenant: str) -> None:
        rt = api.runtime
        async with api.client(tenant) as client:
            tid = (await new_thread(client, ttl=5))["thread_id"]
            await _expire(api, tenant, tid)
            with _replaced(rt, "thread_ttl", ThreadTtlConfig(sweep_minutes=0.002)):
                loop = asyncio.create_task(thread_ttl.run_sweeper(rt))
                try:
                    for _ in range(100):
                        if (await client.get(f"/threads/{tid}")).status_code == 404:
                            break
                        await asyncio.sleep(0.05)
                finally:
                    loop.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await loop
            assert (await client.get(f"/threads/{tid}")).status_code == 404


@contextlib.contextmanager
def _replaced(obj: Any, name: str, value: Any) -> Any:
    old = getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, old)


def _config(tmp: Path, ttl: Any) -> Path:
    path = tmp / "langgraph.json"
    path.write_text(json.dumps({"graphs": {}, "checkpointer": {"ttl": ttl}}))
    return path


def test_read_the_checkpointer_ttl_of_langgraph_json(tmp_path: Path) -> None:
    read = read_thread_ttl_config(
        _config(
            tmp_path, {"strategy": "delete", "default_ttl": 43200, "sweep_interval_minutes": 60}
        )
    )
    assert read == ThreadTtlConfig(default=ThreadTtl("delete", 43200.0), sweep_minutes=60.0)
    assert read_thread_ttl_config(_config(tmp_path, {"sweep_interval_minutes": 1})).default is None
    assert read_thread_ttl_config(tmp_path / "missing.json") == ThreadTtlConfig()
    for bad in ({"strategy": "archive"}, {"default_ttl": 0}, {"sweep_interval_minutes": "5"}):
        with pytest.raises(GraphConfigError):
            read_thread_ttl_config(_config(tmp_path, bad))
    assert dataclasses.asdict(ThreadTtlConfig()) == {"default": None, "sweep_minutes": 5.0}
