from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, StrictBool, StrictInt, field_validator

from service.api.schemas.common import Body, IsoDatetime, Limit, Offset, SortOrder, iso
from service.domain.runs import MultitaskStrategy
from service.engine.executor import SUPPORTED_MODES, StreamModeName
from service.models import Cron
from service.services.crons import CronRequest

OnRunCompleted = Literal["delete", "keep"]
Nodes = Literal["*"] | list[str] | None


class _CronRun(Body):
    """What a firing's run is made of (``RunCreate`` fields a cron keeps)."""

    input: Any = None
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    interrupt_before: Nodes = None
    interrupt_after: Nodes = None
    webhook: str | None = Field(default=None, max_length=2048)
    stream_mode: StreamModeName | list[StreamModeName] | None = None
    stream_subgraphs: StrictBool | None = None
    stream_resumable: StrictBool | None = None
    durability: Literal["sync", "async", "exit"] | None = None
    timezone: str | None = Field(default=None, min_length=1, max_length=64)
    on_run_completed: OnRunCompleted | None = None
    enabled: StrictBool | None = None

    @field_validator("stream_mode")
    @classmethod
    def _known_modes(cls, value: str | list[str] | None) -> str | list[str] | None:
        modes = [value] if isinstance(value, str) else value or []
        if not set(modes) <= SUPPORTED_MODES:
            raise ValueError(f"stream_mode must be among {sorted(SUPPORTED_MODES)}")
        return value

    def payload(self) -> dict[str, Any]:
        fields = (
            "input",
            "config",
            "context",
            "interrupt_before",
            "interrupt_after",
            "webhook",
            "stream_mode",
            "stream_subgraphs",
            "stream_resumable",
            "durability",
        )
        dumped = self.model_dump(mode="json", include=set(fields))
        return {k: v for k, v in dumped.items() if v is not None}


def _aware(value: datetime | None) -> datetime | None:
    """In UTC (a date-time without an offset is UTC already)."""
    if value is None:
        return None
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("a date-time in years 1 to 9999 in UTC") from exc


class CronCreate(_CronRun):
    assistant_id: str = Field(min_length=1, max_length=128)
    schedule: str = Field(min_length=1, max_length=200)
    metadata: dict[str, Any] = Field(default_factory=dict)
    end_time: IsoDatetime | None = None
    multitask_strategy: MultitaskStrategy | None = None

    _end_time_aware = field_validator("end_time")(_aware)

    def to_request(self) -> CronRequest:
        payload = self.payload()
        if self.multitask_strategy is not None:
            payload["multitask_strategy"] = self.multitask_strategy.value
        return CronRequest(
            assistant_id=self.assistant_id,
            schedule=self.schedule,
            payload=payload,
            metadata=self.metadata,
            timezone=self.timezone,
            end_time=self.end_time,
            enabled=True if self.enabled is None else self.enabled,
            on_run_completed=self.on_run_completed,
        )


class CronPatch(_CronRun):
    schedule: str | None = Field(default=None, min_length=1, max_length=200)
    metadata: dict[str, Any] | None = None
    end_time: IsoDatetime | None = None

    _end_time_aware = field_validator("end_time")(_aware)

    def changes(self) -> dict[str, Any]:
        """The fields sent: ``end_time`` null clears it, any other null changes nothing."""
        changes: dict[str, Any] = self.payload()
        for key in ("schedule", "metadata", "timezone", "on_run_completed", "enabled"):
            if (value := getattr(self, key)) is not None:
                changes[key] = value
        if "end_time" in self.model_fields_set:
            changes["end_time"] = self.end_time
        return changes


class CronSearch(Body):
    assistant_id: str | None = Field(default=None, max_length=128)
    thread_id: str | None = Field(default=None, max_length=200)
    enabled: StrictBool | None = None
    metadata: dict[str, Any] | None = None
    limit: StrictInt = Limit
    offset: StrictInt = Offset
    sort_by: (
        Literal[
            "cron_id",
            "assistant_id",
            "thread_id",
            "created_at",
            "updated_at",
            "next_run_date",
            "end_time",
        ]
        | None
    ) = None
    sort_order: SortOrder | None = None


class CronCount(Body):
    assistant_id: str | None = Field(default=None, max_length=128)
    thread_id: str | None = Field(default=None, max_length=200)
    metadata: dict[str, Any] | None = None


class CronOut(BaseModel):
    cron_id: str
    assistant_id: str
    thread_id: str | None
    user_id: str | None
    schedule: str
    timezone: str | None
    payload: dict[str, Any]
    metadata: dict[str, Any]
    end_time: str | None
    next_run_date: str | None
    on_run_completed: OnRunCompleted | None
    enabled: bool
    created_at: str
    updated_at: str


def cron_json(row: Cron) -> dict[str, Any]:
    return {
        "cron_id": row.cron_id,
        "assistant_id": row.assistant_id,
        "thread_id": row.thread_id,
        "user_id": row.user_id,
        "schedule": row.schedule,
        "timezone": row.timezone,
        "payload": {**(row.payload or {}), "assistant_id": row.assistant_id},
        "metadata": row.metadata_ or {},
        "end_time": iso(row.end_time),
        "next_run_date": iso(row.next_run_date),
        "on_run_completed": row.on_run_completed,
        "enabled": row.enabled,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }
