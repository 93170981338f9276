"""One statement per checkpoint write: the fence check and every row in a single round trip.

The upstream Postgres saver writes a checkpoint as a transaction of its own: ``BEGIN``, one
``INSERT`` per blob, the checkpoint upsert, ``COMMIT`` (and ``aput_writes`` one ``INSERT``
per write). With the fence check of ``PooledPostgresSaver`` that is 5 to 10 statements per
write, about half of all the statements of a HITL cycle.

``BatchCursor`` stands in for the cursor the upstream ``aput``/``aput_writes`` write to: it
records their ``execute``/``executemany`` calls, and ``statement`` turns them into one
statement: a CTE that locks the run row if it still holds the fence (``FOR SHARE``), and
inserts every row (a ``VALUES`` list of scalar parameters: psycopg dumps scalars in C,
arrays in Python) only if it does. A single statement is its own
transaction, so either everything is written or, for a stale attempt, nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from langgraph.checkpoint.postgres import base


@dataclass(frozen=True)
class _Target:
    table: str
    columns: tuple[str, ...]
    types: tuple[str, ...]
    key: tuple[int, ...]  # positions of the conflict key in a row
    on_conflict: str

    @property
    def updates(self) -> bool:
        return "DO UPDATE" in self.on_conflict


_WRITE_COLUMNS = (
    "thread_id",
    "checkpoint_ns",
    "checkpoint_id",
    "task_id",
    "task_path",
    "idx",
    "channel",
    "type",
    "blob",
)
_WRITE_TYPES = ("text", "text", "text", "text", "text", "int4", "text", "text", "bytea")
_WRITE_KEY = "ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id, task_id, idx)"

# the upstream statements this replaces, by their text (their parameters keep their order)
TARGETS: dict[str, _Target] = {
    base.UPSERT_CHECKPOINT_BLOBS_SQL: _Target(
        "checkpoint_blobs",
        ("thread_id", "checkpoint_ns", "channel", "version", "type", "blob"),
        ("text", "text", "text", "text", "text", "bytea"),
        (0, 1, 2, 3),
        "ON CONFLICT (thread_id, checkpoint_ns, channel, version) DO NOTHING",
    ),
    base.UPSERT_CHECKPOINTS_SQL: _Target(
        "checkpoints",
        (
            "thread_id",
            "checkpoint_ns",
            "checkpoint_id",
            "parent_checkpoint_id",
            "checkpoint",
            "metadata",
        ),
        ("text", "text", "text", "text", "jsonb", "jsonb"),
        (0, 1, 2),
        "ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id) DO UPDATE SET "
        "checkpoint = EXCLUDED.checkpoint, metadata = EXCLUDED.metadata",
    ),
    base.UPSERT_CHECKPOINT_WRITES_SQL: _Target(
        "checkpoint_writes",
        _WRITE_COLUMNS,
        _WRITE_TYPES,
        (0, 1, 2, 3, 5),
        f"{_WRITE_KEY} DO UPDATE SET "
        "channel = EXCLUDED.channel, type = EXCLUDED.type, blob = EXCLUDED.blob",
    ),
    base.INSERT_CHECKPOINT_WRITES_SQL: _Target(
        "checkpoint_writes",
        _WRITE_COLUMNS,
        _WRITE_TYPES,
        (0, 1, 2, 3, 5),
        f"{_WRITE_KEY} DO NOTHING",
    ),
}

FENCE_CTE = (
    "fence AS (SELECT 1 FROM runs WHERE run_id = %s AND fence = %s AND status = 'running' "
    "FOR SHARE)"
)


class BatchCursor:
    """Records the writes of one upstream ``aput``/``aput_writes``."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[Sequence[Any]]]] = []

    async def execute(self, query: str, params: Sequence[Any]) -> None:
        self._record(query, [params])

    async def executemany(self, query: str, params_seq: Sequence[Sequence[Any]]) -> None:
        self._record(query, list(params_seq))

    def _record(self, query: str, rows: list[Sequence[Any]]) -> None:
        if query not in TARGETS:
            raise RuntimeError("unexpected statement in a batched checkpoint write")
        if rows:
            self.calls.append((query, rows))

    def statement(self, fence: tuple[str, int] | None) -> tuple[str, list[Any]]:
        """The one statement for everything recorded, and its parameters.

        With a fence it answers one row when the fence held (and the rows were written),
        none when it did not (and nothing was written).
        """
        merged: dict[str, list[Sequence[Any]]] = {}
        for query, rows in self.calls:
            merged.setdefault(query, []).extend(rows)
        ctes: list[str] = []
        params: list[Any] = []
        if fence is not None:
            ctes.append(FENCE_CTE)
            params.extend(fence)
        guard = " WHERE EXISTS (SELECT 1 FROM fence)" if fence is not None else ""
        for n, (query, rows) in enumerate(merged.items()):
            target = TARGETS[query]
            unique = _unique(rows, target)
            row = "(" + ", ".join(f"%s::{t}" for t in target.types) + ")"
            columns = ", ".join(target.columns)
            # table, columns and types are the constants above, never input
            ctes.append(
                f"w{n} AS (INSERT INTO {target.table} ({columns}) "  # noqa: S608
                f"SELECT * FROM (VALUES {', '.join([row] * len(unique))}) AS v({columns})"
                f"{guard} {target.on_conflict})"
            )
            for values in unique:
                params.extend(values)
        tail = "SELECT 1 FROM fence" if fence is not None else "SELECT 1"
        return f"WITH {', '.join(ctes)} {tail}", params


def _unique(rows: list[Sequence[Any]], target: _Target) -> list[Sequence[Any]]:
    """One row per conflict key, as the row-by-row upstream writes would leave it: the
    last one where a conflict updates, the first one where it does nothing (one statement
    may not touch a row twice)."""
    chosen: dict[tuple[Any, ...], Sequence[Any]] = {}
    for row in rows:
        key = tuple(row[i] for i in target.key)
        if target.updates or key not in chosen:
            chosen[key] = row
    return list(chosen.values())
