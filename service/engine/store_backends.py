"""The service's one LangGraph store, on the checkpointer's database.

Postgres: ``AsyncPostgresStore`` on the checkpointer's connection pool, each connection acting
for the task's tenant (``PooledPostgresSaver.act_for_tenant``), so row-level security on the
``store`` table (``store_setup``) backs up the tenant prefix ``tenant_store`` adds. SQLite (the
embedded default): ``AsyncSqliteStore`` on a connection of its own to the checkpointer's
file (``sqlite_inline``), its transactions begun ``IMMEDIATE`` so a write never finds the
database locked half way. ``langgraph.json``'s ``store`` section: ``ttl`` as LangGraph's stores
take it; a vector ``index`` is not supported (a warning says it is ignored).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import aiosqlite
import psycopg
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.store.base import TTLConfig
from langgraph.store.postgres.aio import AsyncPostgresStore
from langgraph.store.sqlite.aio import AsyncSqliteStore
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from service import sqlite_inline
from service.domain.thread_ttl import STRATEGIES, ThreadTtl, ThreadTtlConfig
from service.engine.checkpointer import PooledPostgresSaver, pooled_cursor
from service.engine.registry import GraphConfigError
from service.engine.tenant_store import TenantStores
from service.errors import Unavailable

log = logging.getLogger(__name__)

TTL_KEYS: dict[str, tuple[type, ...]] = {
    "default_ttl": (int, float, type(None)),
    "refresh_on_read": (bool,),
    "sweep_interval_minutes": (int, type(None)),
    "omit_expired": (bool,),
}


def _section(config_path: Path, name: str) -> dict[str, Any] | None:
    """A section of ``langgraph.json`` (None: absent, or the file unreadable, which the
    registry reports)."""
    try:
        raw = json.loads(config_path.read_text()).get(name)
    except (OSError, ValueError, AttributeError):
        return None
    return raw if isinstance(raw, dict) else None


def read_store_config(config_path: Path) -> TTLConfig | None:
    """The ``ttl`` settings of ``langgraph.json``'s ``store`` section (none: items never
    expire); a value of the wrong type stops the start (``GraphConfigError``). Unknown keys
    and a vector ``index`` are ignored with a warning."""
    raw = _section(config_path, "store")
    if raw is None:
        return None
    if raw.get("index"):
        log.warning("langgraph.json store.index (vector search) is not supported: ignored")
    ttl = raw.get("ttl")
    if not isinstance(ttl, dict):
        return None
    unknown = set(ttl) - set(TTL_KEYS)
    if unknown:
        log.warning("langgraph.json store.ttl: ignored unknown keys %s", sorted(unknown))
    known = {key: value for key, value in ttl.items() if key in TTL_KEYS}
    for key, value in known.items():
        if not _valid(value, TTL_KEYS[key]):
            raise GraphConfigError(f"langgraph.json store.ttl.{key}: {value!r} is not valid")
    return cast(TTLConfig, known)


def read_thread_ttl_config(config_path: Path) -> ThreadTtlConfig:
    """``langgraph.json``'s ``checkpointer.ttl`` (``strategy``, ``default_ttl`` in minutes,
    ``sweep_interval_minutes``); a bad value stops the start (``GraphConfigError``)."""
    raw = _section(config_path, "checkpointer")
    ttl = raw.get("ttl") if raw is not None else None
    if not isinstance(ttl, dict):
        return ThreadTtlConfig()
    strategy = ttl.get("strategy", "delete")
    if strategy not in STRATEGIES:
        raise GraphConfigError(
            f"langgraph.json checkpointer.ttl.strategy: {strategy!r} is not valid"
        )
    minutes = {"default_ttl": None, "sweep_interval_minutes": 5.0}
    for key in minutes:
        value = ttl.get(key, minutes[key])
        if not _valid(value, (int, float, type(None))):
            raise GraphConfigError(f"langgraph.json checkpointer.ttl.{key}: {value!r} is not valid")
        minutes[key] = value
    default, sweep = minutes["default_ttl"], minutes["sweep_interval_minutes"]
    return ThreadTtlConfig(
        default=ThreadTtl(strategy, float(default)) if default is not None else None,
        sweep_minutes=float(sweep) if sweep is not None else 5.0,
    )


def _valid(value: Any, types: tuple[type, ...]) -> bool:
    if isinstance(value, bool):  # a bool is an int to Python, not a number of minutes here
        return bool in types
    if isinstance(value, (int, float)):
        return isinstance(value, types) and value > 0
    return isinstance(value, types)


Act = Callable[[AsyncConnection[Any]], Awaitable[None]]


class PooledPostgresStore(AsyncPostgresStore):
    """``AsyncPostgresStore`` on a pool whose connections act for the task's tenant; a broken
    connection is ``Unavailable`` (503), not a failure of the caller's request."""

    def __init__(self, pool: AsyncConnectionPool[Any], act: Act, ttl: TTLConfig | None) -> None:
        super().__init__(pool, ttl=ttl)
        self._act = act

    @asynccontextmanager
    async def _cursor(self, *, pipeline: bool = False) -> AsyncIterator[Any]:
        assert isinstance(self.conn, AsyncConnectionPool)
        try:
            async with pooled_cursor(self.conn, self._act, pipeline=pipeline) as cur:
                yield cur
        except psycopg.OperationalError as exc:
            raise Unavailable("The store is unavailable.") from exc


class InlineSqliteStore(AsyncSqliteStore):
    """``AsyncSqliteStore`` whose transactions take the write lock when they begin (waited
    for asynchronously by ``sqlite_inline``) and roll back on an error."""

    @asynccontextmanager
    async def _cursor(self, *, transaction: bool = True) -> AsyncIterator[aiosqlite.Cursor]:
        if not self.is_setup:
            await self.setup()
        async with self.lock:
            if not transaction:
                async with self.conn.cursor() as cur:
                    yield cur
                return
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                async with self.conn.cursor() as cur:
                    yield cur
            except BaseException:
                await self.conn.execute("ROLLBACK")
                raise
            await self.conn.execute("COMMIT")


@asynccontextmanager
async def open_store(
    checkpointer_url: str, saver: BaseCheckpointSaver[Any], ttl: TTLConfig | None
) -> AsyncIterator[TenantStores]:
    """The store beside ``saver`` (its tables set up with the checkpoint tables on Postgres),
    with a TTL sweeper when ``ttl`` asks for one."""
    store: AsyncPostgresStore | AsyncSqliteStore
    async with contextlib.AsyncExitStack() as stack:
        if isinstance(saver, PooledPostgresSaver):
            assert isinstance(saver.conn, AsyncConnectionPool)
            store = PooledPostgresStore(saver.conn, saver.act_for_tenant, ttl)
        else:
            path = Path(checkpointer_url)
            conn = await stack.enter_async_context(sqlite_inline.connect(str(path), timeout=10))
            conn.isolation_level = None  # the store begins and commits its transactions
            await conn.execute("PRAGMA synchronous=NORMAL")  # as the checkpointer's (WAL)
            store = InlineSqliteStore(cast(aiosqlite.Connection, conn), ttl=ttl)
            await store.setup()
        if ttl and ttl.get("sweep_interval_minutes"):
            await store.start_ttl_sweeper()
            stack.push_async_callback(_stop_sweeper, store)
        yield TenantStores(store)


async def _stop_sweeper(store: AsyncPostgresStore | AsyncSqliteStore) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(store.stop_ttl_sweeper(), timeout=5)
