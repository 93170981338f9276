from __future__ import annotations

from typing import Any

from sqlalchemy import Select, bindparam, delete, func, select

from service.models import Assistant
from service.models.base import utcnow
from service.store.assistant_versions import AssistantVersionRepository
from service.store.base import Repository

_COLUMN_OF = {attr.key: attr.columns[0] for attr in Assistant.__mapper__.column_attrs}
SORTABLE = {"assistant_id", "graph_id", "name", "created_at", "updated_at"}


_GET = select(Assistant).where(
    Assistant.assistant_id == bindparam("assistant_id"),
    Assistant.tenant_id == bindparam("tenant_id"),
)

_GET_LOCKED = _GET.with_for_update().execution_options(populate_existing=True)


class AssistantRepository(Repository):
    async def get(
        self, assistant_id: str, *, tenant_id: str, lock: bool = False
    ) -> Assistant | None:
        """``lock``: for a change (Postgres; SQLite's writer holds the whole database)."""
        params = {"assistant_id": assistant_id, "tenant_id": tenant_id}
        stmt = _GET_LOCKED if lock and self.postgres else _GET
        return (await self.session.scalars(stmt, params)).one_or_none()

    def add(self, assistant: Assistant) -> None:
        self.session.add(assistant)

    async def add_new(self, assistant: Assistant) -> bool:
        """Insert ``assistant`` unless its tenant has that id (one statement); False then."""
        now = utcnow()
        values = {c.name: getattr(assistant, a) for a, c in _COLUMN_OF.items()}
        values.update(created_at=now, updated_at=now)
        if await self.insert_ignore(Assistant.__table__, [values]) != 1:
            return False
        assistant.created_at = assistant.updated_at = now
        return True

    async def ensure_defaults(self, tenant_id: str, defaults: dict[str, str]) -> None:
        """Create the default assistant (id -> graph id) of each graph, if missing."""
        now = utcnow()
        rows = [
            {
                "assistant_id": assistant_id,
                "tenant_id": tenant_id,
                "graph_id": graph_id,
                "name": graph_id,
                "description": None,
                "config": {},
                "context": {},
                "metadata": {"created_by": "system"},
                "version": 1,
                "created_at": now,
                "updated_at": now,
            }
            for assistant_id, graph_id in defaults.items()
        ]
        await self.insert_ignore(Assistant.__table__, rows)
        await AssistantVersionRepository(self.session).add_missing(rows)  # their version 1

    def _filtered(
        self,
        stmt: Select[Any],
        *,
        tenant_id: str,
        graph_id: str | None,
        name: str | None,
        metadata: dict[str, Any] | None,
    ) -> Select[Any]:
        stmt = stmt.where(Assistant.tenant_id == tenant_id)
        if graph_id:
            stmt = stmt.where(Assistant.graph_id == graph_id)
        if name:
            stmt = stmt.where(Assistant.name.contains(name, autoescape=True))
        if metadata:
            stmt = stmt.where(self.json_contains(Assistant.metadata_, metadata))
        return stmt

    async def search(
        self,
        *,
        tenant_id: str,
        graph_id: str | None = None,
        name: str | None = None,
        metadata: dict[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
        sort_by: str = "created_at",
        descending: bool = True,
    ) -> list[Assistant]:
        column = getattr(Assistant, sort_by if sort_by in SORTABLE else "created_at")
        stmt = self._filtered(
            select(Assistant), tenant_id=tenant_id, graph_id=graph_id, name=name, metadata=metadata
        )
        order = column.desc() if descending else column.asc()
        stmt = stmt.order_by(order, Assistant.assistant_id).limit(limit).offset(offset)
        return list((await self.session.scalars(stmt)).all())

    async def count(
        self,
        *,
        tenant_id: str,
        graph_id: str | None = None,
        name: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> int:
        stmt = self._filtered(
            select(func.count()).select_from(Assistant),
            tenant_id=tenant_id,
            graph_id=graph_id,
            name=name,
            metadata=metadata,
        )
        return int((await self.session.execute(stmt)).scalar_one())

    async def delete(self, assistant_id: str, *, tenant_id: str) -> bool:
        stmt = delete(Assistant).where(
            Assistant.assistant_id == assistant_id, Assistant.tenant_id == tenant_id
        )
        result = await self.session.execute(stmt)
        return bool(result.rowcount)  # type: ignore[attr-defined]
