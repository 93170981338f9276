"""Assistants: a configured graph. Each tenant gets one default assistant per graph."""

from __future__ import annotations

import contextlib
from typing import Any

from service.domain.ids import uuid7
from service.domain.principal import Principal
from service.errors import Conflict, InvalidInput, NotFound
from service.models import Assistant
from service.models.base import utcnow
from service.services import threads
from service.services.runtime import Runtime, UnitOfWork
from service.services.tenants import default_assistant_id
from service.store.store import Store


def _not_found() -> NotFound:
    return NotFound("Assistant not found.")


async def resolve(
    store: Store, rt: Runtime, tenant_id: str, assistant_id: str, *, lock: bool = False
) -> Assistant:
    """An assistant by id, or the tenant's default assistant when given a graph id;
    ``lock``: to change it (changes of one assistant, and so its versions, take turns)."""
    if assistant_id in rt.engine.graph_ids:
        assistant_id = default_assistant_id(tenant_id, assistant_id)
    assistant = await store.assistants.get(assistant_id, tenant_id=tenant_id, lock=lock)
    if assistant is None:
        raise _not_found()
    return assistant


def _recent_key(assistant_id: str) -> str:
    return f"assistant:{assistant_id}"


def forget(rt: Runtime, tenant_id: str, assistant_id: str) -> None:
    """The assistant changed: runs created from now on read it again."""
    rt.recent.forget(_recent_key(assistant_id), tenant_id)


async def for_run(uow: UnitOfWork, rt: Runtime, tenant_id: str, assistant_id: str) -> Assistant:
    """``resolve`` for a run to be created with, as this process read it at most a second
    ago (``Recent``): an update or a deletion made by another process applies to the runs
    created a second after it at the latest, one made here at once. Read only."""
    if assistant_id in rt.engine.graph_ids:
        assistant_id = default_assistant_id(tenant_id, assistant_id)

    async def load() -> Assistant:
        found = await resolve(uow.store, rt, tenant_id, assistant_id)
        # a copy in no session: a rollback of this transaction cannot expire it
        return Assistant(
            **{c.key: getattr(found, c.key) for c in Assistant.__mapper__.column_attrs}
        )

    return await uow.recent.get(_recent_key(assistant_id), tenant_id, load)


async def get(rt: Runtime, principal: Principal, assistant_id: str) -> Assistant:
    await rt.authz.require(principal, "assistants", "read")
    async with rt.transaction(readonly=True) as uow:
        return await resolve(uow.store, rt, principal.tenant_id, assistant_id)


async def create(
    rt: Runtime,
    principal: Principal,
    *,
    graph_id: str,
    assistant_id: str | None,
    config: dict[str, Any],
    context: dict[str, Any],
    metadata: dict[str, Any],
    name: str | None,
    description: str | None,
    if_exists: str,
) -> Assistant:
    await rt.authz.require(principal, "assistants", "write")
    if graph_id not in rt.engine.graph_ids:
        raise InvalidInput(f"Unknown graph_id {graph_id!r}.")
    async with rt.transaction() as uow:
        assistant = Assistant(
            assistant_id=assistant_id or uuid7(),
            tenant_id=principal.tenant_id,
            graph_id=graph_id,
            name=name or "Untitled",
            description=description,
            config=config,
            context=context,
            metadata_={**metadata, "created_by": principal.subject},
            version=1,
        )
        # one statement, so concurrent creates of one id cannot both pass a check
        if await uow.store.assistants.add_new(assistant):
            uow.store.assistant_versions.add(assistant)
            return assistant
        existing = await uow.store.assistants.get(
            assistant.assistant_id, tenant_id=principal.tenant_id
        )
        if existing is not None and if_exists == "do_nothing":
            return existing
        raise Conflict("Assistant already exists.")


async def update(
    rt: Runtime,
    principal: Principal,
    assistant_id: str,
    *,
    graph_id: str | None,
    config: dict[str, Any] | None,
    context: dict[str, Any] | None,
    metadata: dict[str, Any] | None,
    name: str | None,
    description: str | None,
) -> Assistant:
    await rt.authz.require(principal, "assistants", "write")
    if graph_id is not None and graph_id not in rt.engine.graph_ids:
        raise InvalidInput(f"Unknown graph_id {graph_id!r}.")
    async with rt.transaction() as uow:
        assistant = await resolve(uow.store, rt, principal.tenant_id, assistant_id, lock=True)
        if graph_id is not None:
            assistant.graph_id = graph_id
        if config is not None:
            assistant.config = config
        if context is not None:
            assistant.context = context
        if metadata is not None:
            assistant.metadata_ = {**assistant.metadata_, **metadata}
        if name is not None:
            assistant.name = name
        if description is not None:
            assistant.description = description
        assistant.version = 1 + await uow.store.assistant_versions.latest_number(
            assistant.assistant_id, tenant_id=principal.tenant_id
        )
        assistant.updated_at = utcnow()
        uow.store.assistant_versions.add(assistant)
        await uow.store.flush()
    rt.recent.forget(_recent_key(assistant.assistant_id), principal.tenant_id)
    return assistant


async def delete(
    rt: Runtime, principal: Principal, assistant_id: str, *, delete_threads: bool = False
) -> None:
    """Delete the assistant and its versions; ``delete_threads``: first its threads (those
    whose ``metadata.assistant_id`` is this assistant), each with its runs (cancelling
    those in flight), interrupts and checkpoints, as ``DELETE /threads/{id}`` does. The
    caller must be allowed to delete every one of them, else nothing is deleted."""
    await rt.authz.require(principal, "assistants", "write")
    if delete_threads:
        async with rt.transaction(readonly=True) as uow:
            assistant = await resolve(uow.store, rt, principal.tenant_id, assistant_id)
            found = await uow.store.threads.with_metadata(
                {"assistant_id": assistant.assistant_id}, tenant_id=principal.tenant_id
            )
        for _, owner in found:
            await rt.authz.require(principal, "threads", "delete", owner=owner)
        for thread_id, _ in found:
            with contextlib.suppress(NotFound):  # deleted meanwhile
                await threads.delete(rt, principal, thread_id)
    async with rt.transaction() as uow:
        assistant = await resolve(uow.store, rt, principal.tenant_id, assistant_id)
        await uow.store.assistants.delete(assistant.assistant_id, tenant_id=principal.tenant_id)
        await uow.store.assistant_versions.delete_all(
            assistant.assistant_id, tenant_id=principal.tenant_id
        )
    rt.recent.forget(_recent_key(assistant.assistant_id), principal.tenant_id)


async def search(
    rt: Runtime,
    principal: Principal,
    *,
    graph_id: str | None,
    name: str | None,
    metadata: dict[str, Any] | None,
    limit: int,
    offset: int,
    sort_by: str,
    descending: bool,
) -> list[Assistant]:
    await rt.authz.require(principal, "assistants", "read")
    async with rt.transaction(readonly=True) as uow:
        return await uow.store.assistants.search(
            tenant_id=principal.tenant_id,
            graph_id=graph_id,
            name=name,
            metadata=metadata,
            limit=min(limit, rt.limits.list_cap),
            offset=offset,
            sort_by=sort_by,
            descending=descending,
        )


async def count(
    rt: Runtime,
    principal: Principal,
    *,
    graph_id: str | None,
    name: str | None,
    metadata: dict[str, Any] | None,
) -> int:
    await rt.authz.require(principal, "assistants", "read")
    async with rt.transaction(readonly=True) as uow:
        return await uow.store.assistants.count(
            tenant_id=principal.tenant_id, graph_id=graph_id, name=name, metadata=metadata
        )
