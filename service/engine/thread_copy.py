"""Copy a thread's checkpoints to another thread, and keep only a thread's latest ones.

Neither saver copies (``acopy_thread`` is not implemented upstream) and the SQLite saver
does not prune, so both are written here, on the savers' own connections: our pool and
the connection's tenant (row-level security: both thread ids carry the caller's tenant)
for ``PooledPostgresSaver``, the saver's lock for ``AsyncSqliteSaver``. Postgres's
``keep_latest`` is the upstream ``aprune`` (it runs on our pooled cursors).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from psycopg_pool import AsyncConnectionPool

from service.engine.checkpointer import PooledPostgresSaver

_PG_COPY = (
    "INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, "
    "type, checkpoint, metadata) SELECT %s, checkpoint_ns, checkpoint_id, "
    "parent_checkpoint_id, type, checkpoint, metadata FROM checkpoints WHERE thread_id = %s",
    "INSERT INTO checkpoint_blobs (thread_id, checkpoint_ns, channel, version, type, blob) "
    "SELECT %s, checkpoint_ns, channel, version, type, blob FROM checkpoint_blobs "
    "WHERE thread_id = %s",
    "INSERT INTO checkpoint_writes (thread_id, checkpoint_ns, checkpoint_id, task_id, "
    "task_path, idx, channel, type, blob) SELECT %s, checkpoint_ns, checkpoint_id, task_id, "
    "task_path, idx, channel, type, blob FROM checkpoint_writes WHERE thread_id = %s",
)
_SQLITE_COPY = (
    "INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, "
    "type, checkpoint, metadata) SELECT ?, checkpoint_ns, checkpoint_id, "
    "parent_checkpoint_id, type, checkpoint, metadata FROM checkpoints WHERE thread_id = ?",
    "INSERT INTO writes (thread_id, checkpoint_ns, checkpoint_id, task_id, task_path, idx, "
    "channel, type, value) SELECT ?, checkpoint_ns, checkpoint_id, task_id, task_path, idx, "
    "channel, type, value FROM writes WHERE thread_id = ?",
)
# the newest checkpoint of each namespace of a thread (ids sort by time)
_SQLITE_NEWEST = (
    "(SELECT max(c.checkpoint_id) FROM checkpoints c "
    "WHERE c.thread_id = {t}.thread_id AND c.checkpoint_ns = {t}.checkpoint_ns)"
)
_SQLITE_KEEP_LATEST = (
    "DELETE FROM writes WHERE thread_id = ? AND checkpoint_id IS NOT "  # noqa: S608 (constants)
    + _SQLITE_NEWEST.format(t="writes"),
    "DELETE FROM checkpoints WHERE thread_id = ? AND checkpoint_id IS NOT "  # noqa: S608
    + _SQLITE_NEWEST.format(t="checkpoints"),
    "UPDATE checkpoints SET parent_checkpoint_id = NULL WHERE thread_id = ?",
)


async def copy_thread(saver: BaseCheckpointSaver[Any], source: str, target: str) -> None:
    """Every checkpoint, blob and pending write of ``source`` becomes ``target``'s too, from
    one snapshot of ``source``."""
    if isinstance(saver, PooledPostgresSaver):
        assert isinstance(saver.conn, AsyncConnectionPool)
        async with saver.conn.connection() as conn:
            await saver.act_for_tenant(conn)
            async with conn.transaction():
                await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                for sql in _PG_COPY:
                    await conn.execute(sql, (target, source))
        return
    if isinstance(saver, AsyncSqliteSaver):
        async with saver.lock:
            for sql in _SQLITE_COPY:
                await saver.conn.execute(sql, (target, source))
            await saver.conn.commit()
        return
    raise NotImplementedError(f"copying threads on {type(saver).__name__}")


async def keep_latest(saver: BaseCheckpointSaver[Any], thread_ids: Sequence[str]) -> None:
    """Each thread keeps only its latest checkpoint (per namespace) and that one's writes."""
    if not thread_ids:
        return
    if isinstance(saver, AsyncSqliteSaver):
        async with saver.lock:
            for thread_id in thread_ids:
                for sql in _SQLITE_KEEP_LATEST:
                    await saver.conn.execute(sql, (thread_id,))
            await saver.conn.commit()
        return
    await saver.aprune(list(thread_ids), strategy="keep_latest")
