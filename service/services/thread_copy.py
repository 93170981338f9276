"""Copy a thread (``POST /threads/{id}/copy``) and prune threads (``POST /threads/prune``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from service.domain.ids import new_thread_id
from service.domain.principal import Principal
from service.domain.runs import RunStatus, ThreadStatus
from service.domain.thread_ttl import ThreadTtl
from service.errors import NotFound, ThreadBusy
from service.models import Thread
from service.services import threads
from service.services.runtime import Runtime, UnitOfWork

PruneStrategy = Literal["delete", "keep_latest"]


async def copy(rt: Runtime, principal: Principal, thread_id: str) -> threads.ThreadView:
    """A new thread of the caller's, with the source's metadata and every checkpoint (so
    its state and history), which then runs on independently; its pending interrupts are
    offered for review like any thread's."""
    await rt.authz.require(principal, "threads", "create")
    async with rt.transaction(readonly=True) as uow:
        source = await threads.load(uow.store, rt, principal, thread_id)
    target = threads.new_thread(
        principal, new_thread_id(principal.tenant_id), dict(source.metadata_), _ttl_of(source)
    )
    target.config = dict(source.config or {})
    graph_id = threads.graph_of(source)
    if graph_id is None:  # no run yet: no checkpoints either
        async with rt.transaction(single_statement=True) as uow:
            await uow.store.threads.add_new(target)
        return threads.ThreadView(target, [])
    await rt.engine.copy_thread(source.thread_id, target.thread_id)
    try:
        errored = source.status == ThreadStatus.error.value
        status = RunStatus.error if errored else RunStatus.success
        result = await rt.engine.current(target.thread_id, graph_id, status)
        async with rt.transaction() as uow:
            await uow.store.threads.add_new(target)
            await threads.apply_result(uow, target, result, run_id=None, graph_id=graph_id)
            copied = await uow.store.threads.get(target.thread_id, tenant_id=principal.tenant_id)
            assert copied is not None
            return (await threads.views(uow.store, principal.tenant_id, [copied]))[0]
    except BaseException:
        await rt.engine.delete_thread(target.thread_id)  # no checkpoints without a thread
        raise


def _ttl_of(thread: Thread) -> ThreadTtl | None:
    """A copy lives as long as its source would: the same time to live, from now."""
    if thread.ttl_minutes is None:
        return None
    if thread.ttl_strategy == "keep_latest":
        return ThreadTtl("keep_latest", thread.ttl_minutes)
    return ThreadTtl("delete", thread.ttl_minutes)


async def prune(
    rt: Runtime, principal: Principal, thread_ids: Sequence[str], strategy: PruneStrategy
) -> int:
    """``delete``: delete the threads as ``DELETE /threads/{id}`` does; ``keep_latest``: each
    keeps only its latest checkpoint. Ids the caller cannot see (unknown, another tenant's)
    are skipped; a thread they see but may not prune refuses the whole request before
    anything changes. How many threads were pruned."""
    act = "delete" if strategy == "delete" else "update"
    found: list[Thread] = []
    async with rt.transaction(readonly=True) as uow:
        for raw in dict.fromkeys(thread_ids):
            try:
                found.append(await threads.load(uow.store, rt, principal, raw, act=act))
            except NotFound:
                continue
    pruned = 0
    for thread in found:
        try:
            if strategy == "delete":
                await threads.delete(rt, principal, thread.thread_id)
            else:
                await _keep_latest(rt, principal, thread.thread_id)
        except NotFound:  # deleted meanwhile
            continue
        pruned += 1
    return pruned


async def _keep_latest(rt: Runtime, principal: Principal, thread_id: str) -> None:
    async with rt.transaction() as uow:
        thread = await threads.load(uow.store, rt, principal, thread_id, act="update", lock=True)
        if await uow.store.runs.inflight_ids(thread):
            raise ThreadBusy("A run is in flight on a thread to prune; prune it when it is done.")
        await keep_latest(uow, rt, thread)


async def keep_latest(uow: UnitOfWork, rt: Runtime, thread: Thread) -> None:
    """Only the latest checkpoint of a thread locked in ``uow`` and idle stays."""
    await rt.engine.keep_latest([thread.thread_id])
    # the kept checkpoint has no parent any more: get_state reads it again
    await uow.store.threads.set_state(
        thread.thread_id, tenant_id=thread.tenant_id, status=thread.status, set_values=False
    )
