from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Body(BaseModel):
    """Request bodies ignore unknown fields (newer SDKs send more) but never trust them:
    tenant and thread always come from the token and the path."""

    model_config = ConfigDict(extra="ignore")


class ErrorBody(BaseModel):
    detail: Any
    code: str


SortOrder = Literal["asc", "desc"]
Limit = Field(default=10, ge=1, le=1000)
Offset = Field(default=0, ge=0, le=1_000_000)


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
