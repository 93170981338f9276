from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import Response
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

INT64_MAX = 2**63 - 1  # what both databases, and JSON columns through orjson, can hold


class Body(BaseModel):
    """Request bodies ignore unknown fields (newer SDKs send more) but never trust them:
    tenant and thread always come from the token and the path. Every number in them, however
    deep, must fit in 64 bits, and every text be valid Unicode (JSON may escape a lone UTF-16
    surrogate, which no database or UTF-8 encoder takes): 422 otherwise."""

    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        stack = [data]
        while stack:
            value = stack.pop()
            if isinstance(value, dict):
                stack.extend(value.values())
                stack.extend(value.keys())
            elif isinstance(value, list):
                stack.extend(value)
            elif isinstance(value, str):
                if not value.isascii():
                    try:
                        value.encode()
                    except UnicodeEncodeError:
                        raise ValueError("text must be valid Unicode (a lone surrogate)") from None
            elif isinstance(value, int) and not -INT64_MAX - 1 <= value <= INT64_MAX:
                raise ValueError("numbers must fit in 64 bits")
        return data


class ErrorBody(BaseModel):
    detail: Any
    code: str


_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def _iso_only(value: Any) -> Any:
    if not isinstance(value, datetime) and not (isinstance(value, str) and _ISO.match(value)):
        raise ValueError("an ISO 8601 date-time, such as 2026-12-05T10:00:00Z")
    return value


# a date-time as the schema says (format date-time), not a number of seconds since 1970
IsoDatetime = Annotated[datetime, BeforeValidator(_iso_only)]

SortOrder = Literal["asc", "desc"]
Limit = Field(default=10, ge=1, le=1000)
Offset = Field(default=0, ge=0, le=1_000_000)


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def json_response(
    data: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """Serialize once with orjson (hot routes skip a second pass through ``response_model``,
    which stays declared for the OpenAPI schema)."""
    body = orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)
    return Response(body, status_code=status_code, headers=headers, media_type="application/json")
