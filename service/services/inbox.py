"""The reviewer's inbox: pending interrupts of a tenant, their context, and decisions.

The list reads the review index only (never checkpoints) and filters in SQL by what the
caller may see and decide: the caller's permitted interrupt types are computed once per
request from the compiled policy, never per row. A decision names one interrupt row and
the payload hash the reviewer saw; it becomes ``Command(resume={interrupt_id: value})``
in a background run, exactly once.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from pydantic import ValidationError

from service.domain.ids import resolve_thread_id
from service.domain.interrupts import TYPE_JOIN, InboxEntry, InterruptStatus, payload_hash
from service.domain.principal import Principal
from service.domain.runs import MultitaskStrategy
from service.domain.tenants import TenantSettings
from service.errors import (
    AlreadyDecided,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    StaleDecision,
)
from service.models import Interrupt, Run, Thread
from service.models.base import utcnow
from service.queue.port import StreamEvent
from service.services import assistants, audit, runs
from service.services import interrupts as interrupt_index
from service.services.runtime import Runtime
from service.store.interrupts import InboxQuery
from service.store.store import Store

log = logging.getLogger(__name__)


def not_found() -> NotFound:
    return NotFound("Interrupt not found.")


@dataclass(frozen=True)
class Reach:
    """What one caller may see and decide in the inbox, computed once per request."""

    subject: str
    read_own_only: bool
    any_types: frozenset[str] | None
    own_types: frozenset[str] | None
    edit_any: frozenset[str] | None
    edit_own: frozenset[str] | None
    four_eyes: bool

    def _allowed(
        self, kind: str, owner: str, wide: frozenset[str] | None, own: frozenset[str] | None
    ) -> bool:
        """``kind`` may be a batch of tools (``a+b``): every one of them is needed."""
        mine = owner == self.subject
        if self.four_eyes and mine:
            return False
        return all(
            wide is None or part in wide or (mine and (own is None or part in own))
            for part in kind.split(TYPE_JOIN)
        )

    def can_decide(self, kind: str, owner: str) -> bool:
        return self._allowed(kind, owner, self.any_types, self.own_types)

    def can_edit(self, kind: str, owner: str) -> bool:
        return self.can_decide(kind, owner) and self._allowed(
            kind, owner, self.edit_any, self.edit_own
        )


async def reach(rt: Runtime, principal: Principal, store: Store | None = None) -> Reach:
    """The caller's inbox permissions, from the cached policy and the tenant's settings
    (read at most a second ago; in ``store``'s transaction when given, so a list costs one
    transaction)."""
    await rt.authz.require(principal, "inbox", "read")
    scope = await rt.authz.scope(principal, "threads", "read")
    if scope is None:
        raise Forbidden("Not allowed to read threads.")
    any_types, own_types = await rt.authz.decidable_types(principal, "decide")
    edit_any, edit_own = await rt.authz.decidable_types(principal, "edit")
    settings = await interrupt_index.recent_tenant_settings(
        rt.recent, principal.tenant_id, store, rt
    )
    return Reach(
        subject=principal.subject,
        read_own_only=scope == "own",
        any_types=any_types,
        own_types=own_types,
        edit_any=edit_any,
        edit_own=edit_own,
        four_eyes=settings.four_eyes,
    )


def encode_cursor(row: InboxEntry) -> str:
    raw = f"{row.created_at.isoformat()}|{row.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, row_id = raw.split("|", 1)
        return datetime.fromisoformat(at), row_id
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("Invalid cursor.") from exc


@dataclass(frozen=True)
class InboxPage:
    items: list[InboxEntry]
    next_cursor: str | None
    reach: Reach


async def list_pending(
    rt: Runtime,
    principal: Principal,
    *,
    types: Sequence[str] | None = None,
    graph_id: str | None = None,
    metadata: dict[str, Any] | None = None,
    created_before: datetime | None = None,
    created_after: datetime | None = None,
    decidable_only: bool = False,
    limit: int = 50,
    cursor: str | None = None,
    descending: bool = False,
) -> InboxPage:
    after = decode_cursor(cursor) if cursor else None
    async with rt.transaction(readonly=True) as uow:
        who = await reach(rt, principal, uow.store)
        query = await _query(
            uow.store,
            principal,
            who,
            types=types,
            graph_id=graph_id,
            metadata=metadata,
            created_before=created_before,
            created_after=created_after,
            decidable_only=decidable_only,
            limit=min(limit, rt.limits.list_cap) + 1,
            after=after,
            descending=descending,
        )
        rows = await uow.store.interrupts.inbox(query)
    more = len(rows) >= query.limit
    rows = rows[: query.limit - 1]
    return InboxPage(rows, encode_cursor(rows[-1]) if more and rows else None, who)


async def _query(
    store: Store,
    principal: Principal,
    who: Reach,
    *,
    decidable_only: bool,
    types: Sequence[str] | None,
    **kwargs: Any,
) -> InboxQuery:
    wanted = frozenset(types) if types else None
    decidable = (who.any_types, who.own_types) if decidable_only else None
    if (wanted is not None or (decidable and decidable[0] is not None)) and (
        batches := await store.interrupts.pending_batch_types(principal.tenant_id)
    ):
        # batches of several tools: a type filter takes those holding one of its tools; what
        # the caller may decide takes those whose every tool they may decide
        if wanted is not None:
            wanted |= {b for b in batches if set(b.split(TYPE_JOIN)) & wanted}
        if decidable is not None and decidable[0] is not None:
            wide, own = decidable[0], decidable[1]
            covered = {b for b in batches if set(b.split(TYPE_JOIN)) <= wide}
            if own is not None:
                own = own | {b for b in batches if set(b.split(TYPE_JOIN)) <= wide | own}
            decidable = (wide | covered, own)
    return InboxQuery(
        tenant_id=principal.tenant_id,
        types=wanted,
        thread_owner=principal.subject if who.read_own_only else None,
        not_owner=principal.subject if decidable_only and who.four_eyes else None,
        decidable=(*decidable, principal.subject) if decidable is not None else None,
        **kwargs,
    )


async def counts(
    rt: Runtime, principal: Principal, *, decidable_only: bool = False
) -> dict[str, int]:
    async with rt.transaction(readonly=True) as uow:
        who = await reach(rt, principal, uow.store)
        query = await _query(uow.store, principal, who, decidable_only=decidable_only, types=None)
        return await uow.store.interrupts.counts(query)


async def _load(rt: Runtime, principal: Principal, row_id: str) -> tuple[Interrupt, Thread]:
    async with rt.transaction(readonly=True) as uow:
        row = await uow.store.interrupts.get(row_id, tenant_id=principal.tenant_id)
        thread = (
            await uow.store.threads.get(row.thread_id, tenant_id=principal.tenant_id)
            if row is not None
            else None
        )
    if row is None or thread is None:
        raise not_found()
    if not (await rt.authz.check(principal, "threads", "read", owner=thread.owner)).allowed:
        raise not_found()
    return row, thread


async def get_item(
    rt: Runtime, principal: Principal, row_id: str, *, history: int = 5
) -> dict[str, Any]:
    """One interrupt with its context: the thread, its recent checkpoints and runs."""
    who = await reach(rt, principal)
    row, thread = await _load(rt, principal, row_id)
    recent = (
        await rt.engine.history(thread.thread_id, row.graph_id, limit=history) if history else []
    )
    async with rt.transaction(readonly=True) as uow:
        recent_runs = await uow.store.runs.list_for_thread(
            thread.thread_id, tenant_id=principal.tenant_id, limit=5
        )
    return {
        "row": row,
        "thread": thread,
        "reach": who,
        "history": [
            {
                "checkpoint_id": h["checkpoint_id"],
                "created_at": h["created_at"],
                "next": h["next"],
                "step": h["metadata"].get("step"),
                "source": h["metadata"].get("source"),
                "writes": h["metadata"].get("writes"),
            }
            for h in recent
        ],
        "runs": recent_runs,
    }


@dataclass(frozen=True)
class Answer:
    row_id: str
    value: Any
    payload_hash: str | None = None
    checkpoint_id: str | None = None


async def decide(
    rt: Runtime,
    principal: Principal,
    thread_ref: str | None,
    answers: Sequence[Answer],
    *,
    idempotency_key: str | None = None,
) -> tuple[Run, list[Interrupt]]:
    """Decide one or several pending interrupts of one thread in one resume run (202).

    Each answer names an interrupt row and should carry the payload hash (or checkpoint id)
    the reviewer saw; if the pending interrupt changed since, the answer is stale (409).
    Exactly one decision per interrupt wins, under any concurrency (the others get 409).
    """
    if not answers:
        raise InvalidInput("Give at least one decision.")
    loaded = [await _load(rt, principal, a.row_id) for a in answers]
    thread = loaded[0][1]
    if any(t.thread_id != thread.thread_id for _, t in loaded) or (
        thread_ref is not None
        and thread.thread_id != resolve_thread_id(principal.tenant_id, thread_ref)
    ):
        raise InvalidInput("All decisions of one request must be for interrupts of one thread.")
    pairs = list(zip(answers, loaded, strict=True))
    resume = {row.interrupt_id: answer.value for answer, (row, _) in pairs}
    expected = {
        row.interrupt_id: answer.payload_hash or row.payload_hash for answer, (row, _) in pairs
    }
    request = runs.RunRequest(
        assistant_id=str(thread.metadata_.get("assistant_id") or loaded[0][0].graph_id),
        command={"resume": resume},
        multitask_strategy=MultitaskStrategy.enqueue,
        expected_hashes=expected,
        idempotency=_idempotency(idempotency_key, thread.thread_id, answers),
    )
    run = await runs.replay_after_conflict(rt, principal, request)  # a retried request
    if run is None:
        for answer, (row, _) in pairs:
            if row.status == InterruptStatus.cancelled.value:
                raise StaleDecision()
            if row.status != InterruptStatus.pending.value:
                raise AlreadyDecided()
            if answer.checkpoint_id is not None and answer.checkpoint_id != row.checkpoint_id:
                raise StaleDecision()
        run = await runs.create(rt, principal, thread.thread_id, request)
    async with rt.transaction(readonly=True) as uow:
        rows = [
            await uow.store.interrupts.get(r.id, tenant_id=principal.tenant_id) for r, _ in loaded
        ]
    return run, [r for r in rows if r is not None]


def _idempotency(
    key: str | None, thread_id: str, answers: Sequence[Answer]
) -> tuple[str, str] | None:
    body = [thread_id, [(a.row_id, a.value, a.payload_hash, a.checkpoint_id) for a in answers]]
    return runs.idempotency(key, body)


# ---- expiry -----------------------------------------------------------------------------


async def expire_due(rt: Runtime, *, limit: int = 100) -> int:
    """Resolve expired interrupts with their default decision, as the service (audited).

    One transaction per interrupt, locking its thread first like every other writer; an
    interrupt decided meanwhile is left alone (the guarded close changes nothing).
    """
    now = utcnow()
    async with rt.transaction(readonly=True) as uow:
        due = await uow.store.interrupts.expiring(now=now, limit=limit)
    expired = 0
    for candidate in due:
        try:
            if await _expire(rt, candidate, now=now):
                expired += 1
        except Conflict:
            continue  # decided or superseded while we looked
    return expired


async def _expire(rt: Runtime, candidate: Interrupt, *, now: datetime) -> bool:
    async with rt.transaction() as uow:
        thread = await uow.store.threads.get(
            candidate.thread_id, tenant_id=candidate.tenant_id, lock=True
        )
        row = await uow.store.interrupts.get(candidate.id, tenant_id=candidate.tenant_id)
        if thread is None or row is None or row.status != InterruptStatus.pending.value:
            return False
        assistant_id = str(thread.metadata_.get("assistant_id") or row.graph_id)
        assistant = await assistants.resolve(uow.store, rt, row.tenant_id, assistant_id)
        request = runs.RunRequest(
            assistant_id=assistant.assistant_id,
            command={"resume": {row.interrupt_id: row.default_decision}},
            multitask_strategy=MultitaskStrategy.enqueue,
        )
        run = await runs.enqueue(uow, rt, thread, assistant, request, principal=None)
        closed = await uow.store.interrupts.close(
            [row.id],
            tenant_id=row.tenant_id,
            status=InterruptStatus.expired,
            now=now,
            by=audit.SYSTEM_ACTOR,
            decision=row.default_decision,
            resume_run_id=run.run_id,
        )
        if closed != 1:
            raise Conflict("interrupt changed while expiring")  # rolls this one back
        uow.store.interrupts.mark(row, InterruptStatus.expired)
        await interrupt_index.announce(uow, row, "interrupt.expired", owner=thread.owner)
        await audit.record(
            uow,
            tenant_id=row.tenant_id,
            actor=audit.SYSTEM_ACTOR,
            action="interrupt.expire",
            target_type="interrupt",
            target_id=row.id,
            detail={
                "thread_id": row.thread_id,
                "interrupt_id": row.interrupt_id,
                "type": row.type,
                "decision": row.default_decision,
                "decision_hash": payload_hash(row.default_decision),
                "run_id": run.run_id,
                "expired_at": row.expires_at.isoformat() if row.expires_at else None,
            },
            payload_hash=row.payload_hash,
        )
    return True


# ---- live inbox -------------------------------------------------------------------------


async def live(
    rt: Runtime, principal: Principal, last_event_id: str | None
) -> AsyncIterator[StreamEvent]:
    """Interrupts appearing in and leaving the tenant's inbox, as they happen."""
    who = await reach(rt, principal)
    stream = interrupt_index.inbox_stream(principal.tenant_id)
    async for item in rt.bus.subscribe(stream, last_event_id, from_end=True):
        if who.read_own_only:
            data = orjson.loads(item.data)
            if data.get("owner") != principal.subject:
                continue
        yield item


# ---- tenant settings --------------------------------------------------------------------


async def get_settings(rt: Runtime, principal: Principal) -> TenantSettings:
    await rt.authz.require(principal, "inbox", "read")
    async with rt.transaction(readonly=True) as uow:
        return await interrupt_index.tenant_settings(uow.store, principal.tenant_id)


async def update_settings(
    rt: Runtime, principal: Principal, changes: dict[str, Any]
) -> TenantSettings:
    await rt.authz.require(principal, "policies", "edit")
    async with rt.transaction() as uow:
        tenant = await uow.store.tenants.get(principal.tenant_id)
        if tenant is None:
            raise NotFound("Tenant not found.")
        before = TenantSettings.model_validate(tenant.settings or {})
        try:
            after = TenantSettings.model_validate({**before.model_dump(), **changes})
        except ValidationError as exc:  # a rule's fields are checked here, not by the route
            problem = exc.errors()[0]
            where = ".".join(str(part) for part in problem["loc"])
            raise InvalidInput(f"{where}: {problem['msg']}") from exc
        tenant.settings = after.model_dump(mode="json")
        await audit.record_for(
            uow,
            principal,
            "tenant.settings",
            "tenant",
            principal.tenant_id,
            detail={"before": before.model_dump(mode="json"), "after": tenant.settings},
        )
    rt.recent.forget(interrupt_index.SETTINGS, principal.tenant_id)
    return after
