"""Assistant versions: list them, make one current (``POST /assistants/{id}/latest``).

Every create and update of an assistant records a version (``services/assistants.py``); the
assistant row is the current version, which is what runs are created with.
"""

from __future__ import annotations

from typing import Any

from service.domain.principal import Principal
from service.errors import InvalidInput, NotFound
from service.models import Assistant, AssistantVersion
from service.models.base import utcnow
from service.services import assistants
from service.services.runtime import Runtime
from service.store.assistant_versions import VERSIONED


async def search(
    rt: Runtime,
    principal: Principal,
    assistant_id: str,
    *,
    metadata: dict[str, Any] | None,
    limit: int,
    offset: int,
) -> list[AssistantVersion]:
    """The assistant's versions, newest first."""
    await rt.authz.require(principal, "assistants", "read")
    async with rt.transaction(readonly=True) as uow:
        assistant = await assistants.resolve(uow.store, rt, principal.tenant_id, assistant_id)
        return await uow.store.assistant_versions.search(
            assistant.assistant_id,
            tenant_id=principal.tenant_id,
            metadata=metadata,
            limit=min(limit, rt.limits.list_cap),
            offset=offset,
        )


async def set_latest(
    rt: Runtime, principal: Principal, assistant_id: str, *, version: int
) -> Assistant:
    """Make ``version`` the assistant's current one: its graph, config, context, metadata,
    name and description become the assistant's, and new runs use them."""
    await rt.authz.require(principal, "assistants", "write")
    async with rt.transaction() as uow:
        assistant = await assistants.resolve(
            uow.store, rt, principal.tenant_id, assistant_id, lock=True
        )
        chosen = await uow.store.assistant_versions.get(
            assistant.assistant_id, version, tenant_id=principal.tenant_id
        )
        if chosen is None:
            raise NotFound(f"Assistant version {version} not found.")
        if chosen.graph_id not in rt.engine.graph_ids:
            raise InvalidInput(f"Version {version} runs graph {chosen.graph_id!r}, gone now.")
        for key in VERSIONED:
            setattr(assistant, key, getattr(chosen, key))
        assistant.version = chosen.version
        assistant.updated_at = utcnow()
        await uow.store.flush()
    assistants.forget(rt, principal.tenant_id, assistant.assistant_id)
    return assistant
