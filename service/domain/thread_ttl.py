"""A thread's time to live (LangGraph Server's thread TTL): after ``minutes`` without activity
(its creation, an update, a run) the worker's sweeper deletes the thread (``delete``) or prunes
it to its latest checkpoint (``keep_latest``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

TtlStrategy = Literal["delete", "keep_latest"]
STRATEGIES: tuple[TtlStrategy, ...] = ("delete", "keep_latest")


@dataclass(frozen=True)
class ThreadTtl:
    strategy: TtlStrategy
    minutes: float

    def expires(self, now: datetime) -> datetime:
        return now + timedelta(minutes=self.minutes)


@dataclass(frozen=True)
class ThreadTtlConfig:
    """``langgraph.json``'s ``checkpointer.ttl``: the TTL of threads created without one, and
    how often the sweeper looks for expired threads."""

    default: ThreadTtl | None = None
    sweep_minutes: float = 5.0
