"""What every repository shares: the session, dialect switches, JSON filters, paging."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, cast, func, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from service.errors import InvalidInput

_JSON_KEY_RE = re.compile(r"^[A-Za-z0-9_.:@ -]{1,128}$")


class Repository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @property
    def dialect(self) -> str:
        return self.session.get_bind().dialect.name

    @property
    def postgres(self) -> bool:
        return self.dialect == "postgresql"

    async def insert_ignore(self, table: Any, rows: Sequence[dict[str, Any]]) -> int:
        """Insert rows, skipping those whose primary key already exists; how many went in."""
        if not rows:
            return 0
        dialect_insert = postgresql.insert if self.postgres else sqlite.insert
        if len(rows) == 1:  # the usual case: a statement compiled once, its row as parameters
            one = dialect_insert(table).on_conflict_do_nothing()
            connection = await self.session.connection()  # Core: the ORM path has no rowcount
            return int((await connection.execute(one, dict(rows[0]))).rowcount)
        # several rows in one VALUES list (compiled each time)
        stmt = dialect_insert(table).values(list(rows)).on_conflict_do_nothing()
        result = await self.session.execute(stmt)
        return int(result.rowcount)  # type: ignore[attr-defined]

    def json_contains(
        self, column: InstrumentedAttribute[Any], wanted: dict[str, Any]
    ) -> ColumnElement[bool]:
        """``column @> wanted`` for top-level keys, on both dialects."""
        if not wanted:
            return true()
        for key in wanted:
            if not _JSON_KEY_RE.match(key):
                raise InvalidInput(f"Unsupported filter key {key!r}.")
        if self.postgres:
            return column.op("@>")(cast(wanted, JSONB))
        clauses = []
        for key, value in wanted.items():
            extracted = func.json_extract(column, f'$."{key}"')
            if isinstance(value, bool):
                clauses.append(extracted == (1 if value else 0))
            elif value is None:
                clauses.append(func.json_type(column, f'$."{key}"') == "null")
            elif isinstance(value, (dict, list)):
                text = json.dumps(value, separators=(",", ":"))
                clauses.append(func.json(extracted) == func.json(text))
            else:
                clauses.append(extracted == value)
        return and_(*clauses)


def page(stmt: Select[Any], *, limit: int, offset: int) -> Select[Any]:
    return stmt.limit(limit).offset(offset)
