"""What a run attempt last wrote, kept so that the end of the run reads it without a query.

A run holds its thread (one run per thread at a time, its writes fenced), so between its
checkpoint writes nobody else changes the thread's newest checkpoint: the checkpoint the
attempt wrote last, with the writes made against it since, *is* what a read of the thread's
newest checkpoint returns. ``GraphEngine.execute`` reads the final state that way (the
``/wait`` answer, the thread's state view, the review index) and then forgets the attempt.

The tuple is the one the Postgres saver's read would build: the checkpoint and metadata
pass through JSON as they do through ``jsonb``, channel values and writes through the
saver's serializer, writes in the saver's order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    CheckpointTuple,
    get_serializable_checkpoint_metadata,
    writes_sort_key,
)
from langgraph.checkpoint.serde.base import SerializerProtocol
from langgraph.checkpoint.serde.types import _DeltaSnapshot

_SCALARS = (str, int, float, bool)


# a write as the saver dumps it: (thread, ns, checkpoint, task, path, index, channel, type, blob)
Dumped = tuple[str, str, str, str, str, int, str, str, bytes]


@dataclass
class Written:
    """A root-namespace checkpoint as the saver stored it."""

    thread_id: str
    checkpoint_id: str
    parent_id: str | None
    checkpoint: dict[str, Any]  # through JSON, without the values the saver keeps as blobs
    blobs: dict[str, Any]  # the channel values the saver serializes
    metadata: dict[str, Any]


@dataclass
class Attempt:
    """What one run attempt wrote: its last checkpoint, and writes by checkpoint id (a
    task's writes may be put before the checkpoint they belong to is: LangGraph puts
    checkpoints in the background, in order)."""

    last: Written | None = None
    writes: dict[str, dict[tuple[str, int], Dumped]] = field(default_factory=dict)

    def put(self, record: Written | None) -> None:
        """A new last checkpoint (None: one that cannot be kept; the end reads the database).
        Checkpoint ids grow with time: writes against older checkpoints are dropped."""
        self.last = record
        if record is not None:
            self.writes = {k: v for k, v in self.writes.items() if k >= record.checkpoint_id}

    def add_writes(self, rows: list[Dumped]) -> None:
        """As the saver stores them (the same dumped rows): special channels (errors,
        interrupts, resumes) replace the task's earlier one, other writes keep the first."""
        for row in rows:
            kept = self.writes.setdefault(row[2], {})
            key = (row[3], row[5])
            if row[6] in WRITES_IDX_MAP or key not in kept:
                kept[key] = row

    def newest(
        self, serde: SerializerProtocol, thread_id: str, checkpoint_id: str | None
    ) -> CheckpointTuple | None:
        """The tuple a read of the thread's newest checkpoint gives, if this attempt wrote
        it: values and writes pass through ``serde`` as they do through the database."""
        last = self.last
        if last is None or last.thread_id != thread_id:
            return None
        if checkpoint_id not in (None, last.checkpoint_id):
            return None

        def config(checkpoint_id: str) -> Any:
            return {
                "configurable": {
                    "thread_id": last.thread_id,
                    "checkpoint_ns": "",
                    "checkpoint_id": checkpoint_id,
                }
            }

        blobs = {k: serde.loads_typed(serde.dumps_typed(v)) for k, v in last.blobs.items()}
        rows = sorted(
            self.writes.get(last.checkpoint_id, {}).values(),
            key=lambda w: writes_sort_key(w[4], w[3], w[5]),
        )
        return CheckpointTuple(
            config(last.checkpoint_id),
            {**last.checkpoint, "channel_values": {**last.checkpoint["channel_values"], **blobs}},  # type: ignore[typeddict-item]
            last.metadata,  # type: ignore[arg-type]
            config(last.parent_id) if last.parent_id else None,
            [(w[3], w[6], serde.loads_typed((w[7], w[8]))) for w in rows],
        )


def written(config: Any, checkpoint: Any, metadata: Any) -> Written | None:
    """The record of one ``aput`` in the root namespace, or None when it cannot be kept
    exactly (channel values stored as deltas)."""
    configurable = config["configurable"]
    values = checkpoint["channel_values"]
    if any(isinstance(value, _DeltaSnapshot) for value in values.values()):
        return None
    inline = {k: v for k, v in values.items() if v is None or isinstance(v, _SCALARS)}
    return Written(
        thread_id=str(configurable["thread_id"]),
        checkpoint_id=str(checkpoint["id"]),
        parent_id=configurable.get("checkpoint_id"),
        checkpoint=json.loads(json.dumps({**checkpoint, "channel_values": inline})),
        blobs={k: v for k, v in values.items() if k not in inline},
        metadata=json.loads(json.dumps(get_serializable_checkpoint_metadata(config, metadata))),
    )
