"""Fixtures of the queue conformance suite: one ``QueueKit`` per adapter.

Redis runs for real at ``COUNTERSIGN_TEST_REDIS`` (default ``redis://127.0.0.1:6379/15``).
Tests only ever flush that database (``FLUSHDB``), never the whole server. There is no
skipping: if Redis is not reachable the Redis tests fail loudly (run `make services`).
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis

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

REDIS_URL = os.environ.get("COUNTERSIGN_TEST_REDIS", "redis://127.0.0.1:6379/15")


class QueueKit:
    """Builds bells and buses of one adapter, all sharing one backend.

    ``bell()``/``bus()`` return the adapter under test; ``peer_bell()``/``peer_bus()`` return
    another instance on the same backend: for Redis a separate client, as if in another
    process; for the in-process adapter the same object (one process has one of each).
    """

    name: str

    def bell(self) -> Bell:
        raise NotImplementedError

    def peer_bell(self) -> Bell:
        raise NotImplementedError

    def bus(self) -> EventBus:
        raise NotImplementedError

    def peer_bus(self) -> EventBus:
        raise NotImplementedError

    async def ready(self, bus: EventBus) -> None:
        """Wait until ``bus`` receives control messages."""

    async def aclose(self) -> None:
        pass


class MemoryKit(QueueKit):
    name = "memory"

    def __init__(self, replay_seconds: float = 600.0) -> None:
        self._bell = MemoryBell()
        self._bus = MemoryEventBus(replay_seconds=replay_seconds)

    def bell(self) -> Bell:
        return self._bell

    def peer_bell(self) -> Bell:
        return self._bell

    def bus(self) -> EventBus:
        return self._bus

    def peer_bus(self) -> EventBus:
        return self._bus


class SocketKit(QueueKit):
    """The embedded default's two processes: a hub (the API's in-process adapters served on a
    Unix socket) and clients (the worker child). ``bus()``/``bell()`` are a client; the first
    ``peer_*()`` is the hub's own, later ones more clients: every test then runs across the
    socket in both directions."""

    name = "socket"
    LINKS = 4

    def __init__(self, replay_seconds: float = 600.0) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="cs-bus-")
        self.hub = BusHub(Path(self._dir.name) / "bus.sock", HubBell(), HubEventBus(replay_seconds))
        self.links = [SocketLink(self.hub.path) for _ in range(self.LINKS)]
        self._peers = 0
        self._peer_bells = 0

    async def start(self) -> None:
        await self.hub.start()
        for link in self.links:
            await link.connect()

    def bell(self) -> Bell:
        return SocketBell(self.links[0])

    def peer_bell(self) -> Bell:
        self._peer_bells += 1
        if self._peer_bells == 1:
            return self.hub.bell
        return SocketBell(self.links[self._peer_bells - 1])

    def bus(self) -> EventBus:
        return SocketEventBus(self.links[0])

    def peer_bus(self) -> EventBus:
        self._peers += 1
        if self._peers == 1:
            return self.hub.bus
        return SocketEventBus(self.links[self._peers - 1])

    async def aclose(self) -> None:
        for link in self.links:
            await link.aclose()
        await self.hub.aclose()
        self._dir.cleanup()


class RedisKit(QueueKit):
    name = "redis"

    def __init__(self, url: str, replay_seconds: float = 600.0, **bus_options: Any) -> None:
        self.url = url
        self.prefix = f"cs-test-{uuid.uuid4().hex[:12]}"
        # every connection of this test carries this name, so faults can target only them
        self.client_name = self.prefix
        self.replay_seconds = replay_seconds
        self.bus_options = bus_options
        self._bells: list[RedisBell] = []
        self._buses: list[RedisEventBus] = []

    def new_bell(self, **options: Any) -> RedisBell:
        bell = RedisBell.from_url(
            self.url, prefix=self.prefix, client_name=self.client_name, **options
        )
        self._bells.append(bell)
        return bell

    def new_bus(self, **options: Any) -> RedisEventBus:
        """The first bus gets a client built here (redis-py's default 5 s socket timeout);
        later ones ("other processes") are built by ``RedisEventBus.from_url``."""
        bus: RedisEventBus
        if self._buses and not options:
            bus = RedisEventBus.from_url(
                self.url,
                replay_seconds=self.replay_seconds,
                prefix=self.prefix,
                client_name=self.client_name,
            )
        else:
            client = aioredis.Redis.from_url(self.url, client_name=self.client_name)
            bus = RedisEventBus(
                client,
                replay_seconds=self.replay_seconds,
                prefix=self.prefix,
                owns_client=True,
                **{**self.bus_options, **options},
            )
        self._buses.append(bus)
        return bus

    def bell(self) -> RedisBell:
        return self._bells[0] if self._bells else self.new_bell()

    def peer_bell(self) -> RedisBell:
        self.bell()
        return self.new_bell()

    def bus(self) -> RedisEventBus:
        return self._buses[0] if self._buses else self.new_bus()

    def peer_bus(self) -> RedisEventBus:
        self.bus()
        return self.new_bus()

    async def ready(self, bus: EventBus) -> None:
        assert isinstance(bus, RedisEventBus)
        assert await bus.start(timeout=5.0), "the control listener did not subscribe"

    async def aclose(self) -> None:
        for bus in self._buses:
            await bus.aclose()
        for bell in self._bells:
            await bell.aclose()
        admin = aioredis.Redis.from_url(self.url)
        try:
            keys = [key async for key in admin.scan_iter(match=f"{self.prefix}:*")]
            if keys:
                await admin.delete(*keys)
        finally:
            await admin.aclose()


@pytest.fixture(scope="session")
def redis_url() -> str:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is required for the queue contract tests ({REDIS_URL}): {exc!r}")
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture(params=["memory", "socket", "redis"])
async def kit(request: pytest.FixtureRequest) -> AsyncIterator[QueueKit]:
    made: QueueKit
    if request.param == "memory":
        made = MemoryKit()
    elif request.param == "socket":
        made = SocketKit()
        await made.start()
    else:
        made = RedisKit(request.getfixturevalue("redis_url"))
    try:
        yield made
    finally:
        await made.aclose()


@pytest.fixture
async def redis_kit(redis_url: str) -> AsyncIterator[RedisKit]:
    made = RedisKit(redis_url)
    try:
        yield made
    finally:
        await made.aclose()


@pytest.fixture
async def admin(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    """A separate client for fault injection (FLUSHDB on the test database, CLIENT ...)."""
    client = aioredis.Redis.from_url(redis_url, client_name="cs-test-admin")
    try:
        yield client
    finally:
        await client.aclose()
