"""The service's LangGraph store on both backends, below the API: ``langgraph.json``'s
``store.ttl`` settings reach it (default TTL, sweeper), and a graph's store refuses to be used
outside a run (it could not know whose memory it is)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import cast

import pytest
from langgraph.store.base import TTLConfig
from langgraph.store.postgres.aio import AsyncPostgresStore
from langgraph.store.sqlite.aio import AsyncSqliteStore

from service.engine.checkpointer import open_checkpointer
from service.engine.registry import GraphConfigError
from service.engine.store_backends import open_store, read_store_config
from service.engine.tenant_store import TenantStores


@pytest.fixture(params=["sqlite", "postgres"])
def checkpointer_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return str(tmp_path / "checkpoints.sqlite")


def _config(tmp_path: Path, store: object) -> Path:
    path = tmp_path / "langgraph.json"
    path.write_text(json.dumps({"graphs": {"g": "./g.py:graph"}, "store": store}))
    return path


@asynccontextmanager
async def _open(url: str, ttl: TTLConfig | None) -> AsyncIterator[TenantStores]:
    async with open_checkpointer(url, pool_size=2) as saver, open_store(url, saver, ttl) as stores:
        yield stores


def test_the_ttl_settings_are_read_and_an_index_is_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ttl = {"default_ttl": 5, "refresh_on_read": False, "sweep_interval_minutes": 1, "other": 1}
    with caplog.at_level(logging.WARNING):
        read = read_store_config(_config(tmp_path, {"ttl": ttl, "index": {"dims": 3}}))
    assert read == {"default_ttl": 5, "refresh_on_read": False, "sweep_interval_minutes": 1}
    assert "index" in caplog.text
    assert "other" in caplog.text
    assert read_store_config(_config(tmp_path, {})) is None
    assert read_store_config(tmp_path / "missing.json") is None


@pytest.mark.parametrize(
    "ttl",
    [
        {"default_ttl": "an hour"},
        {"default_ttl": 0},
        {"refresh_on_read": "yes"},
        {"sweep_interval_minutes": 1.5},
        {"sweep_interval_minutes": True},
    ],
)
def test_a_bad_ttl_setting_stops_the_start(tmp_path: Path, ttl: dict[str, object]) -> None:
    with pytest.raises(GraphConfigError, match=next(iter(ttl))):
        read_store_config(_config(tmp_path, {"ttl": ttl}))


async def test_the_default_ttl_expires_items_and_the_sweeper_runs(checkpointer_url: str) -> None:
    ttl: TTLConfig = {"default_ttl": 0.001, "sweep_interval_minutes": 60}
    async with _open(checkpointer_url, ttl) as stores:
        await stores.put("t1", ("tmp",), "brief", {"v": 1}, index=None, ttl=None)
        await stores.put("t1", ("tmp",), "kept", {"v": 2}, index=None, ttl=600)
        inner = cast(AsyncSqliteStore | AsyncPostgresStore, stores.inner)
        task = inner._ttl_sweeper_task
        assert task is not None  # sweep_interval_minutes started one
        assert not task.done()
        await asyncio.sleep(1.1)  # SQLite compares expiry with a clock in whole seconds
        assert await inner.sweep_ttl() >= 1
        assert await stores.get("t1", ("tmp",), "brief", refresh_ttl=None) is None
        kept = await stores.get("t1", ("tmp",), "kept", refresh_ttl=None)
        assert kept is not None
        assert kept["value"] == {"v": 2}
    assert task.done()  # stopped with the store


async def test_a_graphs_store_refuses_outside_a_run(checkpointer_url: str) -> None:
    async with _open(checkpointer_url, None) as stores:
        with pytest.raises(RuntimeError, match="only inside one of its runs"):
            await stores.graph_store.aget(("memories", "u"), "k")
