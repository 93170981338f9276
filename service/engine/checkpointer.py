"""Checkpointer lifecycle: AsyncPostgresSaver (production) or AsyncSqliteSaver (embedded).

Postgres connections prepare statements they run often (psycopg's ``prepare_threshold``);
``prepared_statements=False`` turns that off for transaction-mode poolers that do not
track prepared statements (PgBouncer before 1.21).
"""

from __future__ import annotations

import contextlib
import logging
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, cast

import aiosqlite
import psycopg
from langgraph.checkpoint.base import WRITES_IDX_MAP, BaseCheckpointSaver
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from service import sqlite_inline, tenancy
from service.engine.batched_writes import BatchCursor
from service.engine.last_checkpoint import Attempt, written
from service.engine.store_setup import migrated, setup_postgres_store
from service.errors import FencedWrite, Unavailable
from service.observability import FENCED_WRITES

log = logging.getLogger(__name__)

_SETUP_LOCK_KEY = 0x436F756E74657273  # "Counters": one process at a time runs setup()

READ_TRIES = 3  # a checkpoint read on connections the server ended one after another

# row-level security on LangGraph's tables (S13): a thread id starts with its tenant
CHECKPOINT_TABLES = ("checkpoints", "checkpoint_writes", "checkpoint_blobs")
_OWN_CHECKPOINTS = (
    "coalesce(current_setting('app.tenant_id', true), '') = '' "
    "OR starts_with(thread_id, current_setting('app.tenant_id', true) || ':')"
)


def checkpoint_row_security() -> list[str]:
    """Statements (idempotent) that put LangGraph's tables under row-level security."""
    statements = []
    for table in CHECKPOINT_TABLES:
        statements += [
            f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
            f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
            f"DROP POLICY IF EXISTS tenant_rows ON {table}",
            f"CREATE POLICY tenant_rows ON {table} USING ({_OWN_CHECKPOINTS}) "
            f"WITH CHECK ({_OWN_CHECKPOINTS})",
        ]
    return statements


# the tenant each pooled connection's session acts for (see ``tenancy``)
_acting: weakref.WeakKeyDictionary[AsyncConnection[Any], str] = weakref.WeakKeyDictionary()


FENCE_KEY = "__countersign_fence__"
_fence: ContextVar[tuple[str, int] | None] = ContextVar("countersign_fence", default=None)
_batching: ContextVar[bool] = ContextVar("countersign_batching", default=False)


def _fence_of(config: Any) -> tuple[str, int] | None:
    value = (config or {}).get("configurable", {}).get(FENCE_KEY)
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return str(value[0]), int(value[1])
    return None


@asynccontextmanager
async def pooled_cursor(
    pool: AsyncConnectionPool[Any],
    act: Callable[[AsyncConnection[Any]], Awaitable[None]],
    *,
    pipeline: bool,
) -> AsyncIterator[Any]:
    """A dict-row cursor on a pooled connection that ``act`` first makes act for the task's
    tenant (the saver's and the store's); ``pipeline``: statements that belong together, in
    one transaction."""
    async with pool.connection() as conn:
        await act(conn)
        if pipeline:
            async with conn.transaction(), conn.cursor(binary=True, row_factory=dict_row) as cur:
                yield cur
        else:
            async with conn.cursor(binary=True, row_factory=dict_row) as cur:
                yield cur


class PooledPostgresSaver(AsyncPostgresSaver):
    """AsyncPostgresSaver on a connection pool, without the process-wide lock, fenced.

    The upstream saver takes one ``asyncio.Lock`` around every cursor, which makes a
    pool useless: all checkpoint reads and writes of a process run one at a time.
    With a pool (and no pipeline) each cursor has its own connection, so the lock
    is not needed.

    Fencing: a run's config carries its ``(run_id, fence)``. Every checkpoint write of
    that run checks, in the same statement (``batched_writes``), that the run is still
    ``running`` under that fence, holding a share lock on the run row until it commits. A stale
    attempt (its lease was taken over, the fence bumped) writes nothing: it gets
    ``FencedWrite``. The lock lives as long as that one statement, so a paused process
    holds none.

    Writes ride with the next checkpoint: a run's ``aput_writes`` (the writes of one task)
    are held in memory and sent with that run's next ``aput``, or by ``flush`` when the run
    stops (``GraphEngine.execute``), or before any read of the run: one statement per step
    instead of one per task and one per step. A crash in between loses the writes of tasks
    of an unfinished step, which the retried attempt runs again, as LangGraph's default
    (``async``) durability allows.
    """

    def __init__(self, *args: Any, scoped: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # connections set ``app.tenant_id`` (not behind a transaction-mode pooler, where a
        # session setting could reach another client: there the tables see the service's)
        self._scoped = scoped
        self._held: dict[tuple[str, int], BatchCursor] = {}  # fence -> writes not yet sent
        self._attempts: dict[tuple[str, int], Attempt] = {}  # fence -> what it wrote

    async def aput(self, config: Any, checkpoint: Any, metadata: Any, new_versions: Any) -> Any:
        fence = _fence_of(config)
        if fence is not None and not config["configurable"].get("checkpoint_ns"):
            self._attempts.setdefault(fence, Attempt()).put(written(config, checkpoint, metadata))
        token = _fence.set(fence)
        batching = _batching.set(True)
        try:
            return await super().aput(config, checkpoint, metadata, new_versions)
        except BaseException:
            if fence is not None:  # the end reads the database
                self._attempts.pop(fence, None)
            raise
        finally:
            _batching.reset(batching)
            _fence.reset(token)

    async def aput_writes(
        self, config: Any, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        fence = _fence_of(config)
        if fence is None:  # not a run's (e.g. a state update): written at once
            batching = _batching.set(True)
            try:
                await super().aput_writes(config, writes, task_id, task_path)
            finally:
                _batching.reset(batching)
            return
        # the upstream choice of statement, rows dumped here (small: no thread hop), held
        special = all(channel in WRITES_IDX_MAP for channel, _ in writes)
        query = self.UPSERT_CHECKPOINT_WRITES_SQL if special else self.INSERT_CHECKPOINT_WRITES_SQL
        conf = config["configurable"]
        rows = self._dump_writes(
            conf["thread_id"],
            conf["checkpoint_ns"],
            conf["checkpoint_id"],
            task_id,
            task_path,
            writes,
        )
        await self._held.setdefault(fence, BatchCursor()).executemany(query, rows)
        if not conf.get("checkpoint_ns"):
            self._attempts.setdefault(fence, Attempt()).add_writes(rows)

    async def aget_tuple(self, config: Any) -> Any:
        fence = _fence_of(config)
        if fence is not None and fence in self._held:  # a run reads what it wrote
            await self.flush(fence)
        attempt = self._attempts.get(fence) if fence is not None else None
        conf = config["configurable"]
        if attempt is not None and not conf.get("checkpoint_ns"):
            newest = attempt.newest(
                self.serde, str(conf.get("thread_id")), conf.get("checkpoint_id")
            )
            if newest is not None:
                return newest
        for _ in range(READ_TRIES - 1):
            # a pooled connection the server ended is found on its first use (and then
            # dropped by the pool); a read is safe to repeat on another one
            with contextlib.suppress(Unavailable):
                return await super().aget_tuple(config)
        return await super().aget_tuple(config)

    async def act_for_tenant(self, conn: AsyncConnection[Any]) -> None:
        """The connection's session acts for this task's tenant (``tenancy``), set only
        when it changes: a connection serving one tenant, or the worker, pays nothing."""
        tenant_id = tenancy.current()
        if self._scoped and _acting.get(conn, tenancy.SYSTEM) != tenant_id:
            await conn.execute("SELECT set_config(%s, %s, false)", (tenancy.SETTING, tenant_id))
            _acting[conn] = tenant_id

    def forget(self, fence: tuple[str, int]) -> None:
        """The attempt has ended: drop what it wrote last."""
        self._attempts.pop(fence, None)

    async def flush(self, fence: tuple[str, int]) -> None:
        """Send the writes held for this run attempt (none: nothing to do); they are no
        longer held even when sending fails."""
        held = self._held.pop(fence, None)
        if held is not None:
            await self._write_batch(held, fence)

    @asynccontextmanager
    async def _cursor(self, *, pipeline: bool = False) -> AsyncIterator[Any]:
        if pipeline and _batching.get():
            fence = _fence.get()
            batch = self._held.pop(fence, None) if fence is not None else None
            batch = batch or BatchCursor()  # the held writes first, then the checkpoint
            yield batch
            await self._write_batch(batch, fence)
            return
        try:
            async with self._pooled_cursor(pipeline=pipeline) as cur:
                yield cur
        except psycopg.OperationalError as exc:
            # the connection broke (server restart, terminated backend): not the graph's
            # fault, so the run is retried rather than recorded as failed
            raise Unavailable("The checkpoint store is unavailable.") from exc

    async def _write_batch(self, batch: BatchCursor, fence: tuple[str, int] | None) -> None:
        """Everything one ``aput``/``aput_writes`` wrote, as one fenced statement."""
        if not batch.calls:
            return
        assert isinstance(self.conn, AsyncConnectionPool)
        sql, params = batch.statement(fence)
        try:
            async with self.conn.connection() as conn, conn.cursor(binary=True) as cur:
                await self.act_for_tenant(conn)
                await cur.execute(sql, params)
                held = await cur.fetchone()
        except psycopg.OperationalError as exc:
            raise Unavailable("The checkpoint store is unavailable.") from exc
        if held is None:
            FENCED_WRITES.labels("checkpoint").inc()
            raise FencedWrite("checkpoint write of a stale run attempt")

    def _pooled_cursor(self, *, pipeline: bool) -> AbstractAsyncContextManager[Any]:
        assert isinstance(self.conn, AsyncConnectionPool)
        return pooled_cursor(self.conn, self.act_for_tenant, pipeline=pipeline)


async def send_held_writes(
    saver: BaseCheckpointSaver[Any], fence: tuple[str, int], *, quietly: bool = False
) -> None:
    """Send what the saver holds for this run attempt (``PooledPostgresSaver``; other savers
    hold nothing). ``quietly``: the attempt is already stopping for another reason, which
    must not be replaced by a failure to send (the held writes are dropped then)."""
    if not isinstance(saver, PooledPostgresSaver):
        return
    try:
        await saver.flush(fence)
    except (FencedWrite, Unavailable):
        if not quietly:
            raise


def forget_attempt(saver: BaseCheckpointSaver[Any], fence: tuple[str, int]) -> None:
    """The run attempt has ended (its final state read): the saver keeps nothing of it."""
    if isinstance(saver, PooledPostgresSaver):
        saver.forget(fence)


async def delete_run_checkpoints(
    saver: BaseCheckpointSaver[Any], thread_id: str, run_id: str
) -> None:
    """Remove the checkpoints a run wrote (multitask ``rollback``), on either saver."""
    if isinstance(saver, PooledPostgresSaver):
        assert isinstance(saver.conn, AsyncConnectionPool)
        async with saver.conn.connection() as conn:
            await saver.act_for_tenant(conn)
            async with conn.transaction():
                await conn.execute(
                    "DELETE FROM checkpoint_writes WHERE thread_id = %s AND checkpoint_id IN "
                    "(SELECT checkpoint_id FROM checkpoints WHERE thread_id = %s "
                    "AND metadata->>'run_id' = %s)",
                    (thread_id, thread_id, run_id),
                )
                await conn.execute(
                    "DELETE FROM checkpoints WHERE thread_id = %s AND metadata->>'run_id' = %s",
                    (thread_id, run_id),
                )
        return
    if isinstance(saver, AsyncSqliteSaver):
        async with saver.lock:
            await saver.conn.execute(
                "DELETE FROM writes WHERE thread_id = ? AND checkpoint_id IN "
                "(SELECT checkpoint_id FROM checkpoints WHERE thread_id = ? "
                "AND json_extract(CAST(metadata AS TEXT), '$.run_id') = ?)",
                (thread_id, thread_id, run_id),
            )
            await saver.conn.execute(
                "DELETE FROM checkpoints WHERE thread_id = ? "
                "AND json_extract(CAST(metadata AS TEXT), '$.run_id') = ?",
                (thread_id, run_id),
            )
            await saver.conn.commit()


async def _check_without_round_trip(conn: AsyncConnection[Any]) -> None:
    """Refuse a pooled connection already known to be broken, without a query.

    A connection the server ended while it sat in the pool is found on its first use;
    that raises ``Unavailable`` (above) and the run is retried.
    """
    if conn.closed or conn.broken:
        raise psycopg.OperationalError("pooled checkpoint connection is closed")


def is_postgres_url(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


async def _setup_postgres(url: str, saver: PooledPostgresSaver) -> None:
    """``setup()`` unless the checkpoint tables are already at the saver's last migration
    (``countersign migrate`` ran), one process at a time; then the same for LangGraph's store
    on the same database, through the same connection.

    The usual start only reads the migration versions: behind a transaction-mode pooler a
    session advisory lock would outlive its server connection, and a transaction-scoped one
    would wait forever for the saver's ``CREATE INDEX CONCURRENTLY``.
    """
    async with await AsyncConnection.connect(url, autocommit=True, prepare_threshold=None) as conn:
        if not await migrated(conn, "checkpoint_migrations", len(saver.MIGRATIONS) - 1):
            await conn.execute("SELECT pg_advisory_lock(%s)", (_SETUP_LOCK_KEY,))
            try:
                await saver.setup()
                for statement in checkpoint_row_security():
                    await conn.execute(statement.encode())
            finally:
                await conn.execute("SELECT pg_advisory_unlock(%s)", (_SETUP_LOCK_KEY,))
        await setup_postgres_store(conn)


@asynccontextmanager
async def open_checkpointer(
    url: str,
    *,
    pool_size: int = 10,
    application_name: str = "countersign",
    prepared_statements: bool = True,
) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    if is_postgres_url(url):
        pool: AsyncConnectionPool[AsyncConnection[DictRow]] = AsyncConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            open=False,
            kwargs={
                "autocommit": True,
                "prepare_threshold": 5 if prepared_statements else None,
                "row_factory": dict_row,
                "application_name": application_name,
            },
            check=_check_without_round_trip,
        )
        await pool.open(wait=True, timeout=30)
        try:
            saver = PooledPostgresSaver(pool, scoped=prepared_statements)
            await _setup_postgres(url, saver)
            yield saver
        finally:
            await pool.close()
        return
    path = Path(url)
    path.parent.mkdir(parents=True, exist_ok=True)
    async with sqlite_inline.connect(str(path), timeout=10) as conn:
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL")
        sqlite_saver = AsyncSqliteSaver(cast(aiosqlite.Connection, conn))
        await sqlite_saver.setup()
        yield sqlite_saver
