"""Thread streaming sessions (``client.threads.stream``): a protocol command and its answer,
and the filter of an event stream (``SubscribeParams`` plus ``since``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, StrictInt, field_validator

from service.api.schemas.common import Body
from service.services.session_protocol import EventFilter, valid_channel

SEGMENT = Field(min_length=1, max_length=256)


class SessionCommand(Body):
    id: StrictInt = Field(ge=0, le=2**53 - 1)
    method: str = Field(min_length=1, max_length=64)
    params: dict[str, Any] = Field(default_factory=dict)


class CommandMeta(BaseModel):
    applied_through_seq: int | None = None


class CommandAnswer(BaseModel):
    """``{"type": "success", "id", "result", "meta"}`` or ``{"type": "error", "id", "error",
    "message"}``: the protocol's own answers (a thread the caller cannot see is a 404)."""

    type: Literal["success", "error"]
    id: int | None
    result: dict[str, Any] | None = None
    meta: CommandMeta | None = None
    error: str | None = None
    message: str | None = None


class EventStreamRequest(Body):
    channels: list[str] = Field(min_length=1, max_length=32)
    namespaces: list[list[str]] | None = Field(default=None, max_length=64)
    depth: StrictInt | None = Field(default=None, ge=0, le=1000)
    since: StrictInt | None = Field(default=None, ge=0, le=2**63 - 1)

    @field_validator("channels")
    @classmethod
    def _known_channels(cls, value: list[str]) -> list[str]:
        unknown = [c for c in value if not valid_channel(c)]
        if unknown:
            raise ValueError(f"unknown channel {unknown[0]!r}")
        return value

    @field_validator("namespaces")
    @classmethod
    def _segments(cls, value: list[list[str]] | None) -> list[list[str]] | None:
        for namespace in value or []:
            if len(namespace) > 32 or not all(0 < len(s) <= 256 for s in namespace):
                raise ValueError("a namespace is up to 32 segments of 1-256 characters")
        return value

    def to_filter(self) -> EventFilter:
        namespaces = None if self.namespaces is None else tuple(tuple(n) for n in self.namespaces)
        return EventFilter(frozenset(self.channels), namespaces, self.depth)
