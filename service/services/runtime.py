"""App-wide resources handed to every use case, and the unit of work."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from service.authz.guard import Authorizer
from service.domain.thread_ttl import ThreadTtlConfig
from service.engine.executor import GraphEngine
from service.errors import Unavailable
from service.queue.port import Bell, EventBus, PendingJobs
from service.services.memory_port import MemoryPort
from service.store.store import Store, StoreFactory

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Limits:
    list_cap: int = 1000
    stream_replay_seconds: int = 600
    lease_ttl_seconds: float = 60.0
    max_attempts: int = 3
    webhook_allow: tuple[str, ...] = ()


class Recent:
    """What this process read of a tenant's rarely changed configuration (settings, webhook
    subscriptions), reused for ``reuse_seconds``: a change made by another process reaches
    this one within that time, a change made here at once (``forget``, after its commit).

    Never for what a decision is checked against in its own transaction.
    """

    def __init__(self, reuse_seconds: float = 1.0, max_keys: int = 10_000) -> None:
        self.reuse_seconds = reuse_seconds
        self._max_keys = max_keys
        self._seen: dict[tuple[str, str], tuple[float, Any]] = {}

    async def get(self, kind: str, tenant_id: str, load: Callable[[], Awaitable[T]]) -> T:
        key = (kind, tenant_id)
        now = time.monotonic()  # before the read: a copy is never reused past its age
        seen = self._seen.get(key)
        if seen is not None and now - seen[0] < self.reuse_seconds:
            return cast(T, seen[1])
        value = await load()
        if len(self._seen) >= self._max_keys:
            self._seen.clear()
        self._seen[key] = (now, value)
        return value

    def forget(self, kind: str, tenant_id: str) -> None:
        self._seen.pop((kind, tenant_id), None)


async def every(seconds: float, job: Callable[[], Awaitable[object]], what: str) -> None:
    """A worker's background loop: ``job`` every ``seconds`` (the first after ``seconds``), a
    failed pass logged and never fatal."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await job()
        except Unavailable:
            log.warning("%s: the database is unavailable", what)
        except Exception:
            log.warning("%s failed", what, exc_info=True)


@dataclass
class UnitOfWork:
    store: Store
    jobs: PendingJobs
    recent: Recent = field(default_factory=Recent)
    # what this transaction already read and will not change, e.g. webhook subscriptions
    memo: dict[str, Any] = field(default_factory=dict)
    # writes run last, just before COMMIT (the audit chain: its tenant lock is held briefly)
    before_commit: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


@dataclass
class Runtime:
    stores: StoreFactory
    engine: GraphEngine
    bell: Bell
    bus: EventBus
    authz: Authorizer
    limits: Limits = field(default_factory=Limits)
    known_tenants: set[str] = field(default_factory=set)
    recent: Recent = field(default_factory=Recent)
    probes: dict[str, Callable[[], Awaitable[None]]] = field(default_factory=dict)
    memory: MemoryPort | None = None  # LangGraph's store, tenant-scoped (``services/memory``)
    thread_ttl: ThreadTtlConfig = field(default_factory=ThreadTtlConfig)  # langgraph.json's

    async def readiness(self) -> dict[str, bool]:
        """Each backing service answering (database, Redis when configured)."""
        results = {}
        for name, probe in self.probes.items():
            try:
                await asyncio.wait_for(probe(), 2.0)
                results[name] = True
            except Exception:
                results[name] = False
        return results

    @asynccontextmanager
    async def transaction(
        self, *, readonly: bool = False, single_statement: bool = False
    ) -> AsyncIterator[UnitOfWork]:
        """One transaction; queued bells, control messages and events go out after it commits.

        ``readonly`` transactions never wait for SQLite's write lock; ``single_statement``
        says the block writes with one statement (atomic without BEGIN/COMMIT on Postgres).
        """
        jobs = PendingJobs()
        try:
            async with self.stores.transaction(
                readonly=readonly, single_statement=single_statement
            ) as store:
                uow = UnitOfWork(store=store, jobs=jobs, recent=self.recent)
                yield uow
                for hook in uow.before_commit:
                    await hook()
        except BaseException:
            jobs.discard()
            raise
        try:
            await jobs.flush(self.bell, self.bus)
        except Exception:  # the ledger is the truth: a lost ring costs latency only
            log.warning("could not ring the queue bell after commit", exc_info=True)
