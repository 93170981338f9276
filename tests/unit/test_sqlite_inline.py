"""``sqlite_inline``: SQLite on the loop's thread, waiting for the lock without blocking it."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from service import sqlite_inline


async def open_pair(
    tmp_path: Path, timeout: float = 5.0
) -> tuple[sqlite_inline.InlineConnection, sqlite_inline.InlineConnection]:
    path = str(tmp_path / "db.sqlite")
    first = await sqlite_inline.connect(path, timeout=timeout)
    await first.execute("PRAGMA journal_mode=WAL")
    await first.execute("CREATE TABLE t (v INTEGER)")
    await first.commit()
    return first, await sqlite_inline.connect(path, timeout=timeout)


async def test_a_locked_database_is_waited_for_without_blocking_the_loop(tmp_path: Path) -> None:
    holder, waiter = await open_pair(tmp_path)
    holder.isolation_level = waiter.isolation_level = None
    await holder.execute("BEGIN IMMEDIATE")
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    ticking = asyncio.create_task(ticker())
    began = time.monotonic()
    begin = asyncio.ensure_future(waiter.execute("BEGIN IMMEDIATE"))
    await asyncio.sleep(0.15)
    assert not begin.done(), "BEGIN IMMEDIATE must wait while the other connection writes"
    await holder.execute("INSERT INTO t VALUES (1)")
    await holder.execute("COMMIT")
    await asyncio.wait_for(begin, 2)
    waited = time.monotonic() - began
    ticking.cancel()
    assert waited >= 0.15
    assert ticks >= 15, f"the event loop was blocked while waiting ({ticks} ticks)"
    assert waiter.in_transaction
    await waiter.execute("INSERT INTO t VALUES (2)")
    await waiter.execute("COMMIT")
    rows = await (await holder.execute("SELECT v FROM t ORDER BY v")).fetchall()
    assert rows == [(1,), (2,)]


async def test_waiting_for_the_lock_gives_up_after_the_timeout(tmp_path: Path) -> None:
    holder, waiter = await open_pair(tmp_path, timeout=0.2)
    holder.isolation_level = waiter.isolation_level = None
    await holder.execute("BEGIN IMMEDIATE")
    began = time.monotonic()
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        await waiter.execute("BEGIN IMMEDIATE")
    assert 0.2 <= time.monotonic() - began < 1.5
    assert not waiter.in_transaction


async def test_a_write_opens_a_transaction_unless_isolation_level_is_none(tmp_path: Path) -> None:
    first, second = await open_pair(tmp_path)
    await first.execute("INSERT INTO t VALUES (1)")  # sqlite3's default: a transaction begins
    assert first.in_transaction
    await first.rollback()
    second.isolation_level = None
    await second.execute("INSERT INTO t VALUES (2)")  # autocommit
    assert not second.in_transaction
    rows = await (await first.execute("SELECT v FROM t")).fetchall()
    assert rows == [(2,)]


async def test_an_implicit_write_transaction_waits_for_the_lock_too(tmp_path: Path) -> None:
    holder, waiter = await open_pair(tmp_path)
    holder.isolation_level = None
    await holder.execute("BEGIN IMMEDIATE")
    insert = asyncio.ensure_future(waiter.execute("INSERT INTO t VALUES (7)"))
    await asyncio.sleep(0.1)
    assert not insert.done()
    await holder.execute("COMMIT")
    await asyncio.wait_for(insert, 2)
    await waiter.commit()
    rows = await (await holder.execute("SELECT v FROM t")).fetchall()
    assert rows == [(7,)]


async def test_cursors_work_as_aiosqlite_ones(tmp_path: Path) -> None:
    conn, _ = await open_pair(tmp_path)
    async with conn.cursor() as cur:
        await cur.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(250)])
    await conn.commit()
    async with conn.execute("SELECT v FROM t ORDER BY v") as cur:
        seen = [row[0] async for row in cur]
    assert seen == list(range(250))
    assert conn.is_alive()
    await conn.close()
    assert not conn.is_alive()
