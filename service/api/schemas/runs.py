from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    field_validator,
)

from service.api.schemas.common import Body, Limit, Offset, iso
from service.api.schemas.threads import CheckpointRef
from service.domain.runs import MultitaskStrategy
from service.engine.executor import SUPPORTED_MODES, StreamModeName
from service.models import Run
from service.services.runs import RunRequest


class CommandBody(Body):
    resume: Any = None
    update: Any = None
    goto: Any = None


class RunCreate(Body):
    assistant_id: str = Field(min_length=1, max_length=128)
    input: Any = None
    command: CommandBody | None = None
    checkpoint: CheckpointRef | None = None
    checkpoint_id: str | None = Field(default=None, max_length=64)
    config: dict[str, Any] = Field(default_factory=dict)
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    stream_mode: StreamModeName | list[StreamModeName] = "values"
    stream_subgraphs: StrictBool = False
    stream_resumable: StrictBool = False
    interrupt_before: Literal["*"] | list[str] | None = None
    interrupt_after: Literal["*"] | list[str] | None = None
    webhook: str | None = Field(default=None, max_length=2048)
    multitask_strategy: MultitaskStrategy = MultitaskStrategy.enqueue
    if_not_exists: Literal["reject", "create"] = "reject"
    on_disconnect: Literal["cancel", "continue"] = "continue"
    on_completion: Literal["delete", "keep"] | None = None
    after_seconds: StrictFloat | None = Field(default=None, ge=0, le=86_400)
    durability: Literal["sync", "async", "exit"] | None = None
    feedback_keys: list[str] | None = None

    @field_validator("stream_mode")
    @classmethod
    def _known_modes(cls, value: str | list[str]) -> str | list[str]:
        modes = [value] if isinstance(value, str) else value
        if not set(modes) <= SUPPORTED_MODES:
            raise ValueError(f"stream_mode must be among {sorted(SUPPORTED_MODES)}")
        return value

    def to_request(self) -> RunRequest:
        modes: list[str] = (
            [self.stream_mode] if isinstance(self.stream_mode, str) else list(self.stream_mode)
        )
        checkpoint_id = self.checkpoint_id or (
            self.checkpoint.checkpoint_id if self.checkpoint else None
        )
        command = self.command.model_dump(exclude_none=True) if self.command else None
        return RunRequest(
            assistant_id=self.assistant_id,
            input=self.input,
            command=command,
            config=self.config,
            context=self.context,
            metadata=self.metadata,
            stream_mode=modes or ["values"],
            stream_subgraphs=self.stream_subgraphs,
            stream_resumable=self.stream_resumable,
            interrupt_before=self.interrupt_before,
            interrupt_after=self.interrupt_after,
            checkpoint_id=checkpoint_id,
            webhook=self.webhook,
            multitask_strategy=self.multitask_strategy,
            if_not_exists=self.if_not_exists,
            on_completion=self.on_completion,
            after_seconds=self.after_seconds,
            durability=self.durability,
            feedback_keys=self.feedback_keys,
        )


class RunListQuery(Body):
    limit: StrictInt = Limit
    offset: StrictInt = Offset


class RunOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    run_id: str
    thread_id: str
    assistant_id: str
    created_at: str
    updated_at: str
    status: Literal["pending", "running", "success", "error", "timeout", "interrupted"]
    metadata: dict[str, Any]
    run_kwargs: dict[str, Any] = Field(alias="kwargs")
    multitask_strategy: str
    attempt: int
    error: Any = None


class CancelMany(Body):
    thread_id: str | None = None
    run_ids: list[str] | None = Field(default=None, max_length=1000)
    status: Literal["pending", "running", "all"] | None = None


def run_json(row: Run) -> dict[str, Any]:
    return {
        "run_id": row.run_id,
        "thread_id": row.thread_id,
        "assistant_id": row.assistant_id,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
        "status": row.status,
        "metadata": row.metadata_ or {},
        "kwargs": row.kwargs or {},
        "multitask_strategy": row.multitask_strategy,
        "attempt": row.attempt,
        "error": row.error,
    }


class RunsCancel(Body):
    """``POST /runs/cancel``: the runs of one thread by id, or every run in a status."""

    thread_id: str | None = Field(default=None, min_length=1, max_length=200)
    run_ids: list[str] | None = Field(default=None, max_length=1000)
    status: Literal["pending", "running", "all"] | None = None
