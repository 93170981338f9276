"""The tables of LangGraph's Postgres store: its own ``setup()``, then row-level security on
``store`` like the checkpoint tables' (``checkpointer.checkpoint_row_security``): a row's
``prefix`` (its namespace, labels joined by ``.``) starts with its tenant and a dot.

Run where the checkpoint tables are set up (``open_checkpointer``: every start and
``countersign migrate``), one process at a time, and only when the store's migrations are
behind; the usual start reads one number.
"""

from __future__ import annotations

from typing import Any, cast

import psycopg
from langgraph.store.postgres.aio import AsyncPostgresStore
from psycopg import AsyncConnection
from psycopg.rows import DictRow

_SETUP_LOCK_KEY = 0x53746F7265536574  # "StoreSet": one process at a time runs setup()

_OWN_ITEMS = (
    "coalesce(current_setting('app.tenant_id', true), '') = '' "
    "OR starts_with(prefix, current_setting('app.tenant_id', true) || '.')"
)


def store_row_security() -> list[str]:
    """Statements (idempotent) that put the store's table under row-level security."""
    return [
        "ALTER TABLE store ENABLE ROW LEVEL SECURITY",
        "ALTER TABLE store FORCE ROW LEVEL SECURITY",
        "DROP POLICY IF EXISTS tenant_rows ON store",
        f"CREATE POLICY tenant_rows ON store USING ({_OWN_ITEMS}) WITH CHECK ({_OWN_ITEMS})",
    ]


async def setup_postgres_store(conn: AsyncConnection[Any]) -> None:
    """The store's tables at LangGraph's last migration, under row-level security, through
    the start-up connection the checkpoint tables' check used (autocommit)."""
    if await migrated(conn, "store_migrations", len(AsyncPostgresStore.MIGRATIONS) - 1):
        return
    await conn.execute("SELECT pg_advisory_lock(%s)", (_SETUP_LOCK_KEY,))
    try:
        store = AsyncPostgresStore(cast(AsyncConnection[DictRow], conn))
        await store.setup()
        for statement in store_row_security():
            await conn.execute(statement.encode())
    finally:
        await conn.execute("SELECT pg_advisory_unlock(%s)", (_SETUP_LOCK_KEY,))


async def migrated(conn: AsyncConnection[Any], table: str, last: int) -> bool:
    """Whether LangGraph's migrations table ``table`` (the saver's or the store's) is at
    ``last``: the usual start reads only this."""
    try:
        cursor = await conn.execute(f"SELECT max(v) FROM {table}")  # noqa: S608 (our constants)
    except psycopg.errors.UndefinedTable:
        return False
    row = await cursor.fetchone()
    return row is not None and row[0] == last
