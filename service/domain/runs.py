"""Runs and threads: statuses, strategies and what one execution produced."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class RunStatus(StrEnum):
    """LangGraph Server meanings: a run that stops at ``interrupt()`` ends ``success``;
    ``interrupted`` means the run was cancelled."""

    pending = "pending"
    running = "running"
    success = "success"
    error = "error"
    timeout = "timeout"
    interrupted = "interrupted"

    @property
    def terminal(self) -> bool:
        return self not in (RunStatus.pending, RunStatus.running)


INFLIGHT = (RunStatus.pending.value, RunStatus.running.value)


class ThreadStatus(StrEnum):
    idle = "idle"
    busy = "busy"
    interrupted = "interrupted"
    error = "error"


class MultitaskStrategy(StrEnum):
    reject = "reject"
    enqueue = "enqueue"
    interrupt = "interrupt"
    rollback = "rollback"


class CancelAction(StrEnum):
    interrupt = "interrupt"
    rollback = "rollback"


@dataclass(frozen=True, slots=True)
class InterruptSnapshot:
    """One pending ``Interrupt`` as the checkpoint holds it (JSON value)."""

    interrupt_id: str
    task_id: str
    node: str
    value: Any
    response_schema: dict[str, Any] | None = None  # JSON schema of the answer, if published


@dataclass(frozen=True, slots=True)
class RunResult:
    """What one execution attempt produced, as JSON-ready data."""

    status: RunStatus
    values: Any = None
    interrupts: list[InterruptSnapshot] = field(default_factory=list)
    error: dict[str, Any] | None = None
    checkpoint_id: str | None = None
    view: dict[str, Any] | None = None  # the state as get_state answers it, without values

    @property
    def thread_status(self) -> ThreadStatus:
        if self.status is RunStatus.error:
            return ThreadStatus.error
        if self.interrupts:
            return ThreadStatus.interrupted
        return ThreadStatus.idle


@dataclass(frozen=True, slots=True)
class RunSpec:
    """Everything the engine needs to execute one run; no tenants, no HTTP."""

    run_id: str
    thread_id: str
    graph_id: str
    assistant_id: str
    attempt: int
    fence: int
    input: Any = None
    command: dict[str, Any] | None = None
    config: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    stream_mode: tuple[str, ...] = ("values",)
    stream_subgraphs: bool = False
    interrupt_before: Any = None
    interrupt_after: Any = None
    checkpoint_id: str | None = None
    durability: str | None = None
    temporary: bool = False


def wait_output(values: Any, pending: list[dict[str, Any]]) -> Any:
    """What ``/wait`` and ``/join`` return: the values, plus ``__interrupt__`` when pending."""
    if not pending:
        return values
    if values is None:
        return {"__interrupt__": pending}
    if isinstance(values, dict):
        return {**values, "__interrupt__": pending}
    return values


def wait_answer(
    status: str, error: dict[str, Any] | None, values: Any, pending: list[dict[str, Any]]
) -> Any:
    """What ``/wait`` and ``/join`` return for a run that ended with ``status``."""
    if status == RunStatus.error.value and error:
        return {"__error__": error}
    return wait_output(values, pending)
