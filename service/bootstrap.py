"""Builds the runtime both composition roots share: storage, engine, bell, bus, authz."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from service import failpoints
from service.authz.guard import Authorizer
from service.engine.checkpointer import open_checkpointer
from service.engine.executor import GraphEngine
from service.engine.registry import GraphRegistry
from service.engine.store_backends import open_store, read_store_config, read_thread_ttl_config
from service.observability import AUTHZ_LATENCY
from service.outbound.sender import WebhookSender
from service.queue.local_socket import (
    BusHub,
    HubBell,
    HubEventBus,
    SocketBell,
    SocketEventBus,
    SocketLink,
)
from service.queue.memory import MemoryBell, MemoryEventBus
from service.queue.port import Bell, EventBus
from service.queue.redis_adapter import RedisEventBus
from service.queue.redis_bell import RedisBell
from service.services.execution import RunWorker, WorkerConfig
from service.services.policies import policy_loader
from service.services.runtime import Limits, Runtime
from service.settings import Settings
from service.store import migrations
from service.store.db import create_engine, inject_transient_faults
from service.store.store import StoreFactory

log = logging.getLogger(__name__)


def worker_id(role: str) -> str:
    return f"{role}-{socket.gethostname()}-{os.getpid()}"


Probes = dict[str, Callable[[], Awaitable[None]]]


@asynccontextmanager
async def _queue(
    settings: Settings, hub_path: Path | None
) -> AsyncIterator[tuple[Bell, EventBus, Probes]]:
    """The bell and bus: Redis ones shared by processes; in the embedded default the
    in-process ones, served at ``hub_path`` to the worker child of ``countersign serve``,
    which reaches them through ``settings.bus_socket``."""
    if settings.bus_socket:
        link = SocketLink(Path(settings.bus_socket))
        await link.connect()
        try:
            yield SocketBell(link), SocketEventBus(link), {}
        finally:
            await link.aclose()
        return
    if not settings.redis_url:
        replay = settings.stream_replay_seconds
        if hub_path is None:
            yield MemoryBell(), MemoryEventBus(replay_seconds=replay), {}
            return
        hub = BusHub(hub_path, HubBell(), HubEventBus(replay_seconds=replay))
        await hub.start()

        async def worker_ready() -> None:
            if not hub.workers_ready:
                raise RuntimeError("the worker process is not ready")

        try:
            yield hub.bell, hub.bus, {"worker": worker_ready}
        finally:
            await hub.aclose()
        return
    bell = RedisBell.from_url(settings.redis_url)
    bus = RedisEventBus.from_url(settings.redis_url, replay_seconds=settings.stream_replay_seconds)
    await bus.start()
    try:
        yield bell, bus, {"redis": bus.ping}
    finally:
        with contextlib.suppress(Exception):
            await bus.aclose()
        with contextlib.suppress(Exception):
            await bell.aclose()


@asynccontextmanager
async def open_runtime(
    settings: Settings, *, role: str, hub_path: Path | None = None
) -> AsyncIterator[Runtime]:
    engine = create_engine(
        settings.sqlalchemy_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        application_name=f"countersign-{role}",
        prepared_statements=settings.db_prepared_statements,
    )
    # The policy loader has a pool of its own: an authorization check made inside a
    # transaction may have to load the tenant's policy, and with one shared pool, requests
    # holding every connection while waiting for that load would wait for each other.
    policy_engine = create_engine(
        settings.sqlalchemy_url,
        pool_size=2,
        max_overflow=2,
        application_name=f"countersign-{role}-policy",
        prepared_statements=settings.db_prepared_statements,
    )
    try:
        if settings.embedded and not settings.bus_socket:  # the worker child's API did it
            await migrations.upgrade(engine)
        if settings.hitl_test and settings.hitl_transient_faults and role != "cli":
            faults = failpoints.transient_fault(settings.hitl_transient_faults)
            inject_transient_faults(engine, faults)
        async with (
            open_checkpointer(
                settings.checkpointer_url,
                pool_size=settings.db_pool_size,
                application_name=f"countersign-{role}-checkpoints",
                prepared_statements=settings.db_prepared_statements,
            ) as saver,
            open_store(
                settings.checkpointer_url, saver, read_store_config(settings.graphs_config)
            ) as memory,
            _queue(settings, hub_path) as (bell, bus, probes),
        ):
            registry = GraphRegistry.load(settings.graphs_config, saver)
            registry.use_store(memory.graph_store)  # graphs get the tenant's store of each run
            stores = StoreFactory(engine)
            if role == "api":
                await _warn_if_exempt_from_row_security(stores)
            yield Runtime(
                stores=stores,
                engine=GraphEngine(registry, saver),
                bell=bell,
                bus=bus,
                authz=Authorizer(
                    policy_loader(StoreFactory(policy_engine)),
                    cache_size=settings.authz_cache_size,
                    roles_from_token=settings.authz_roles_from_token,
                    observe=AUTHZ_LATENCY.observe,
                ),
                limits=Limits(
                    list_cap=settings.list_limit_cap,
                    stream_replay_seconds=settings.stream_replay_seconds,
                    lease_ttl_seconds=settings.lease_ttl_seconds,
                    max_attempts=settings.max_attempts,
                    webhook_allow=tuple(settings.webhook_allow),
                ),
                probes={"database": stores.ping, **probes},
                memory=memory,
                thread_ttl=read_thread_ttl_config(settings.graphs_config),
            )
    finally:
        await policy_engine.dispose()
        await engine.dispose()


async def _warn_if_exempt_from_row_security(stores: StoreFactory) -> None:
    """A warning only: a failure to ask (the database briefly away) never stops a start."""
    try:
        exempt = await stores.bypasses_row_security()
    except Exception:
        log.info("could not check the database role for row-level security", exc_info=True)
        return
    if exempt:
        log.warning(
            "the database role is a superuser or has BYPASSRLS: row-level security "
            "does not apply to it; give the service a role of its own (README)"
        )


_CLAIMS = {"": "any", "main": "clean", "quarantine": "crashed"}


def build_worker(rt: Runtime, settings: Settings, *, role: str) -> RunWorker:
    quarantine = settings.worker_slot == "quarantine"  # crashed runs, one at a time
    return RunWorker(
        rt,
        WorkerConfig(
            worker_id=settings.worker_id or worker_id(role),
            claims=_CLAIMS[settings.worker_slot],
            concurrency=1 if quarantine else settings.worker_concurrency,
            poll_every=0.5 if quarantine else WorkerConfig.poll_every,
            lease_ttl=settings.lease_ttl_seconds,
            renew_every=settings.lease_renew_seconds,
            reaper_every=settings.reaper_interval_seconds,
            max_attempts=settings.max_attempts,
        ),
        failpoint=failpoints.build(settings.hitl_test, settings.hitl_failpoints),
        webhooks=None
        if quarantine
        else WebhookSender(
            allow=settings.webhook_allow,
            timeout=settings.webhook_timeout_seconds,
            max_attempts=settings.webhook_max_attempts,
        ),
    )
