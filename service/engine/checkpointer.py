"""Checkpointer lifecycle: AsyncPostgresSaver (production) or AsyncSqliteSaver (embedded).

Both run without server-side prepared statements (``prepare_threshold=None``), so a
PgBouncer in transaction mode works in front of Postgres.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

log = logging.getLogger(__name__)

_SETUP_LOCK_KEY = 0x436F756E74657273  # "Counters": one process at a time runs setup()


class PooledPostgresSaver(AsyncPostgresSaver):
    """AsyncPostgresSaver on a connection pool, without the process-wide lock.

    The upstream saver takes one ``asyncio.Lock`` around every cursor, which makes a
    pool useless: all checkpoint reads and writes of a process run one at a time.
    With a pool (and no pipeline) each cursor has its own connection, so the lock
    is not needed.
    """

    @asynccontextmanager
    async def _cursor(self, *, pipeline: bool = False) -> AsyncIterator[Any]:
        assert isinstance(self.conn, AsyncConnectionPool)
        async with self.conn.connection() as conn:
            if pipeline:
                async with (
                    conn.transaction(),
                    conn.cursor(binary=True, row_factory=dict_row) as cur,
                ):
                    yield cur
            else:
                async with conn.cursor(binary=True, row_factory=dict_row) as cur:
                    yield cur


def is_postgres_url(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


async def _setup_postgres(url: str, saver: PooledPostgresSaver) -> None:
    async with await AsyncConnection.connect(url, autocommit=True, prepare_threshold=None) as conn:
        await conn.execute("SELECT pg_advisory_lock(%s)", (_SETUP_LOCK_KEY,))
        try:
            await saver.setup()
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (_SETUP_LOCK_KEY,))


@asynccontextmanager
async def open_checkpointer(
    url: str, *, pool_size: int = 10, application_name: str = "countersign"
) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    if is_postgres_url(url):
        pool: AsyncConnectionPool[AsyncConnection[DictRow]] = AsyncConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            open=False,
            kwargs={
                "autocommit": True,
                "prepare_threshold": None,
                "row_factory": dict_row,
                "application_name": application_name,
            },
            check=AsyncConnectionPool.check_connection,
        )
        await pool.open(wait=True, timeout=30)
        try:
            saver = PooledPostgresSaver(pool)
            await _setup_postgres(url, saver)
            yield saver
        finally:
            await pool.close()
        return
    path = Path(url)
    path.parent.mkdir(parents=True, exist_ok=True)
    async with aiosqlite.connect(str(path)) as conn:
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL")
        await conn.execute("PRAGMA busy_timeout=10000")
        sqlite_saver = AsyncSqliteSaver(conn)
        await sqlite_saver.setup()
        yield sqlite_saver
