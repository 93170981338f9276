"""Assistant versions: one row per version of an assistant (the only SQL for them)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from service.models import Assistant, AssistantVersion
from service.models.base import utcnow
from service.store.base import Repository

# what a version holds of its assistant (and what making it current copies back)
VERSIONED = ("graph_id", "name", "description", "config", "context", "metadata_")


def version_of(assistant: Assistant) -> AssistantVersion:
    return AssistantVersion(
        tenant_id=assistant.tenant_id,
        assistant_id=assistant.assistant_id,
        version=assistant.version,
        created_at=assistant.updated_at or utcnow(),
        **{key: getattr(assistant, key) for key in VERSIONED},
    )


class AssistantVersionRepository(Repository):
    def add(self, assistant: Assistant) -> None:
        """Record the assistant as it is now, as its version ``assistant.version``."""
        self.session.add(version_of(assistant))

    async def add_missing(self, assistants: list[dict[str, Any]]) -> None:
        """Version rows for assistants created in bulk (table rows), unless they exist."""
        await self.insert_ignore(
            AssistantVersion.__table__,
            [
                {
                    "tenant_id": row["tenant_id"],
                    "assistant_id": row["assistant_id"],
                    "version": row["version"],
                    "graph_id": row["graph_id"],
                    "name": row["name"],
                    "description": row["description"],
                    "config": row["config"],
                    "context": row["context"],
                    "metadata": row["metadata"],
                    "created_at": row["created_at"],
                }
                for row in assistants
            ],
        )

    async def get(
        self, assistant_id: str, version: int, *, tenant_id: str
    ) -> AssistantVersion | None:
        stmt = select(AssistantVersion).where(
            AssistantVersion.tenant_id == tenant_id,
            AssistantVersion.assistant_id == assistant_id,
            AssistantVersion.version == version,
        )
        return (await self.session.scalars(stmt)).one_or_none()

    async def search(
        self,
        assistant_id: str,
        *,
        tenant_id: str,
        metadata: dict[str, Any] | None,
        limit: int,
        offset: int,
    ) -> list[AssistantVersion]:
        """Newest version first."""
        stmt = select(AssistantVersion).where(
            AssistantVersion.tenant_id == tenant_id,
            AssistantVersion.assistant_id == assistant_id,
        )
        if metadata:
            stmt = stmt.where(self.json_contains(AssistantVersion.metadata_, metadata))
        stmt = stmt.order_by(AssistantVersion.version.desc()).limit(limit).offset(offset)
        return list((await self.session.scalars(stmt)).all())

    async def latest_number(self, assistant_id: str, *, tenant_id: str) -> int:
        """The highest version recorded (0: none)."""
        stmt = (
            select(AssistantVersion.version)
            .where(
                AssistantVersion.tenant_id == tenant_id,
                AssistantVersion.assistant_id == assistant_id,
            )
            .order_by(AssistantVersion.version.desc())
            .limit(1)
        )
        return int((await self.session.execute(stmt)).scalar_one_or_none() or 0)

    async def delete_all(self, assistant_id: str, *, tenant_id: str) -> None:
        await self.session.execute(
            delete(AssistantVersion).where(
                AssistantVersion.tenant_id == tenant_id,
                AssistantVersion.assistant_id == assistant_id,
            )
        )
