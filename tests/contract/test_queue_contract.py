"""Conformance suite of the queue ports (``Bell``, ``EventBus``), one suite for every adapter.

In the style of LangGraph's checkpoint conformance suite: every test of the first part runs
against the in-process adapters and against Redis (``kit`` is parametrized), so both keep
exactly the same observable behaviour. The second part holds Redis-only fault tests: Redis
may lose everything or stall at any moment, and the adapters must neither raise where the
port says they must not nor hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable
from typing import Any, TypeVar, cast

import pytest
import redis
import redis.asyncio as aioredis

from service.queue import redis_adapter
from service.queue.port import END_EVENT, Bell, EventBus, StreamEvent
from service.queue.redis_adapter import RedisEventBus
from service.queue.redis_bell import RedisBell
from tests.contract.conftest import MemoryKit, QueueKit, RedisKit, SocketKit

T = TypeVar("T")

UNREACHABLE_REDIS = "redis://127.0.0.1:1/15"  # nothing listens on port 1


def new_run() -> str:
    return f"run-{uuid.uuid4()}"


def payload(i: int) -> bytes:
    return json.dumps({"i": i, "text": "réponse ✓"}, ensure_ascii=False).encode()


def order(event_id: str) -> tuple[int, ...]:
    """Sort key of an event id of either adapter ("7" or "1700000000000-3")."""
    return tuple(int(part) for part in event_id.split("-"))


def as_tuples(events: list[StreamEvent]) -> list[tuple[str, str, bytes]]:
    return [(e.id, e.event, e.data) for e in events]


async def collect(
    events: AsyncIterator[StreamEvent], *, limit: int | None = None, timeout: float = 5.0
) -> list[StreamEvent]:
    """Events until the stream ends (or ``limit`` of them), closing the subscription."""
    got: list[StreamEvent] = []
    async with contextlib.aclosing(cast(AsyncGenerator[StreamEvent, None], events)) as stream:
        async with asyncio.timeout(timeout):
            async for item in stream:
                got.append(item)
                if limit is not None and len(got) >= limit:
                    break
    return got


async def timed(awaitable: Awaitable[T]) -> tuple[T, float]:
    started = time.monotonic()
    result = await awaitable
    return result, time.monotonic() - started


async def publish_many(bus: EventBus, run_id: str, count: int) -> list[tuple[str, str, bytes]]:
    names = ["metadata", "values", "updates|sub:1", "custom", "messages/partial"]
    sent = []
    for i in range(count):
        event = names[i % len(names)]
        event_id = await bus.publish(run_id, event, payload(i))
        sent.append((event_id, event, payload(i)))
    return sent


async def eventually(check: Any, timeout: float = 5.0, every: float = 0.02) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(every)


class Follower:
    """A subscriber running in the background, recording what it receives."""

    def __init__(self, bus: EventBus, run_id: str, last_event_id: str | None = None) -> None:
        self.events: list[StreamEvent] = []
        self.task = asyncio.create_task(self._follow(bus.subscribe(run_id, last_event_id)))

    async def _follow(self, events: AsyncIterator[StreamEvent]) -> None:
        async with contextlib.aclosing(cast(AsyncGenerator[StreamEvent, None], events)) as s:
            async for item in s:
                self.events.append(item)

    async def has(self, count: int, timeout: float = 5.0) -> None:
        await eventually(lambda: len(self.events) >= count, timeout)

    async def ended(self, timeout: float = 5.0) -> list[StreamEvent]:
        async with asyncio.timeout(timeout):
            await self.task
        return self.events

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


# ---- event bus: every adapter ------------------------------------------------------------


async def test_publish_returns_increasing_string_ids(kit: QueueKit) -> None:
    bus, run = kit.bus(), new_run()
    ids = [await bus.publish(run, "values", payload(i)) for i in range(25)]
    assert all(isinstance(i, str) and i for i in ids)
    assert len(set(ids)) == len(ids)
    assert [order(i) for i in ids] == sorted(order(i) for i in ids)


async def test_subscribe_from_none_replays_everything_in_order(kit: QueueKit) -> None:
    bus, run = kit.bus(), new_run()
    sent = await publish_many(bus, run, 12)
    await bus.finish(run)
    got = await collect(bus.subscribe(run, None))
    assert as_tuples(got) == sent
    assert all(e.event != END_EVENT for e in got)


@pytest.mark.parametrize("name", ["memory", "socket", "redis"])
async def test_a_windowed_stream_keeps_only_the_replay_window(
    name: str, request: pytest.FixtureRequest
) -> None:
    """A tenant's inbox stream never ends: it keeps the replay window's events, not the last
    10,000 (the 30-minute soak, R16, saw Redis grow by the inbox stream)."""
    made: QueueKit
    if name == "memory":
        made = MemoryKit(replay_seconds=0.5)
    elif name == "socket":
        made = SocketKit(replay_seconds=0.5)
        await made.start()
    else:
        made = RedisKit(request.getfixturevalue("redis_url"), replay_seconds=0.5)
    try:
        bus, stream = made.bus(), f"inbox:{new_run()}"
        for i in range(10):
            await bus.publish(stream, "interrupt.created", payload(i), window=True)
        await asyncio.sleep(0.7)
        recent = await bus.publish(stream, "interrupt.created", payload(10), window=True)
        await bus.finish(stream)
        got = await collect(bus.subscribe(stream, None))
        assert [e.id for e in got] == [recent]
    finally:
        await made.aclose()


async def test_subscribe_after_an_id_gives_exactly_the_rest(kit: QueueKit) -> None:
    worker, api = kit.bus(), kit.peer_bus()
    run = new_run()
    sent = await publish_many(worker, run, 8)
    await worker.finish(run)
    for k, (event_id, _, _) in enumerate(sent):
        got = await collect(api.subscribe(run, event_id))
        assert as_tuples(got) == sent[k + 1 :], f"resuming after event {k}"


@pytest.mark.parametrize("bad_id", ["", "garbage", "-1", "12-ab"])
async def test_unusable_last_event_id_replays_from_the_start(kit: QueueKit, bad_id: str) -> None:
    bus, run = kit.bus(), new_run()
    sent = await publish_many(bus, run, 3)
    await bus.finish(run)
    assert as_tuples(await collect(bus.subscribe(run, bad_id))) == sent


async def test_live_events_reach_a_subscriber_started_before_publish(kit: QueueKit) -> None:
    api, worker = kit.bus(), kit.peer_bus()
    run = new_run()
    follower = Follower(api, run)
    await asyncio.sleep(0.1)  # the subscriber is waiting on an empty stream
    sent = []
    for i in range(5):
        sent.append((await worker.publish(run, "values", payload(i)), "values", payload(i)))
        await follower.has(i + 1)  # each event arrives while the run is still live
    await worker.finish(run)
    assert as_tuples(await follower.ended()) == sent


async def test_a_late_subscriber_gets_history_then_live_events(kit: QueueKit) -> None:
    api, worker = kit.bus(), kit.peer_bus()
    run = new_run()
    sent = await publish_many(worker, run, 3)
    follower = Follower(api, run)
    await follower.has(3)
    sent += [
        (await worker.publish(run, "custom", payload(i)), "custom", payload(i)) for i in (3, 4)
    ]
    await worker.finish(run)
    got = await follower.ended()
    assert as_tuples(got) == sent
    assert [order(e.id) for e in got] == sorted(order(e.id) for e in got)


async def test_from_end_skips_history_and_gets_new_events(kit: QueueKit) -> None:
    bus, run = kit.bus(), new_run()
    await publish_many(bus, run, 3)
    listener = asyncio.create_task(collect(bus.subscribe(run, from_end=True), limit=2))
    await asyncio.sleep(0.2)
    later = await publish_many(bus, run, 2)
    assert as_tuples(await listener) == later


async def test_from_end_with_an_id_resumes_after_it(kit: QueueKit) -> None:
    bus, run = kit.bus(), new_run()
    sent = await publish_many(bus, run, 4)
    got = await collect(bus.subscribe(run, sent[1][0], from_end=True), limit=2)
    assert as_tuples(got) == sent[2:]


async def test_finish_ends_waiting_and_later_subscribers(kit: QueueKit) -> None:
    api, worker = kit.bus(), kit.peer_bus()
    run = new_run()
    waiting = Follower(api, run)
    await asyncio.sleep(0.1)
    await worker.finish(run)
    assert await waiting.ended(timeout=3.0) == []
    assert await collect(api.subscribe(run, None), timeout=3.0) == []


async def test_has_stream_before_and_after(kit: QueueKit) -> None:
    worker, api = kit.bus(), kit.peer_bus()
    run = new_run()
    assert not await api.has_stream(run)
    await worker.publish(run, "metadata", payload(0))
    assert await api.has_stream(run)
    await worker.finish(run)
    assert await api.has_stream(run)  # kept for the replay window
    assert not await api.has_stream(new_run())


async def test_two_subscribers_both_get_everything(kit: QueueKit) -> None:
    worker = kit.bus()
    first, second = kit.peer_bus(), kit.peer_bus()
    run = new_run()
    early = await publish_many(worker, run, 2)
    followers = [Follower(first, run), Follower(second, run)]
    await asyncio.gather(*(f.has(2) for f in followers))
    late = [(await worker.publish(run, "values", payload(i)), "values", payload(i)) for i in (2, 3)]
    await worker.finish(run)
    for follower in followers:
        assert as_tuples(await follower.ended()) == early + late


async def test_subscribers_joining_while_events_flow_get_exactly_their_tail(
    kit: QueueKit,
) -> None:
    """Many subscribers of one stream, joining at random moments from random positions
    while events are published: each gets every event after its position once, in order."""
    worker, api = kit.bus(), kit.peer_bus()
    run = new_run()
    rng = random.Random(7)
    sent: list[tuple[str, str, bytes]] = []
    followers: list[tuple[int, Follower]] = []  # (index of the first event it must get, ...)

    async def publish() -> None:
        for i in range(120):
            event_id = await worker.publish(run, "values", payload(i))
            sent.append((event_id, "values", payload(i)))
            await asyncio.sleep(rng.choice((0, 0, 0.001, 0.005)))

    publisher = asyncio.create_task(publish())
    try:
        while not publisher.done():
            known = len(sent)
            start = rng.randrange(known + 1)
            last_id = sent[start - 1][0] if start else None
            followers.append((start, Follower(api, run, last_id)))
            await asyncio.sleep(rng.choice((0, 0.002, 0.01)))
        await publisher
        await worker.finish(run)
        for start, follower in followers:
            assert as_tuples(await follower.ended(timeout=10.0)) == sent[start:]
    finally:
        for _, follower in followers:
            await follower.stop()
    assert len(followers) > 10


async def test_streams_of_different_runs_are_separate(kit: QueueKit) -> None:
    bus = kit.bus()
    run_a, run_b = new_run(), new_run()
    a = await bus.publish(run_a, "values", b'"a"')
    b = await bus.publish(run_b, "values", b'"b"')
    await bus.finish(run_a)
    await bus.finish(run_b)
    assert as_tuples(await collect(bus.subscribe(run_a))) == [(a, "values", b'"a"')]
    assert as_tuples(await collect(bus.subscribe(run_b))) == [(b, "values", b'"b"')]


async def test_a_consumer_may_stop_early(kit: QueueKit) -> None:
    bus, run = kit.bus(), new_run()
    sent = await publish_many(bus, run, 4)
    got = await collect(bus.subscribe(run), limit=2)  # closes the subscription after two
    assert as_tuples(got) == sent[:2]
    await bus.finish(run)
    assert as_tuples(await collect(bus.subscribe(run, got[-1].id))) == sent[2:]


async def test_control_message_reaches_the_registered_handler(kit: QueueKit) -> None:
    worker, api = kit.bus(), kit.peer_bus()
    received: list[tuple[str, str]] = []
    also: list[tuple[str, str]] = []

    async def handler(run_id: str, action: str) -> None:
        received.append((run_id, action))

    async def second(run_id: str, action: str) -> None:
        also.append((run_id, action))

    worker.on_control(handler)
    worker.on_control(second)
    await kit.ready(worker)
    run = new_run()
    await api.send_control(run, "cancel:interrupt")
    await api.send_control(run, "cancel:rollback")
    await eventually(lambda: len(received) >= 2 and len(also) >= 2)
    assert received == [(run, "cancel:interrupt"), (run, "cancel:rollback")]
    assert also == received


async def test_the_end_of_a_run_wakes_its_watchers_in_every_process(kit: QueueKit) -> None:
    api, worker = kit.bus(), kit.peer_bus()
    await kit.ready(api)
    run, other = new_run(), new_run()
    with api.watch_end(run) as ended, api.watch_end(other) as not_ended:
        assert not ended.is_set()
        await worker.publish(run, "values", payload(1))
        await asyncio.sleep(0.05)
        assert not ended.is_set()  # events are not the end
        await worker.finish(run)
        await asyncio.wait_for(ended.wait(), 5)
        assert not not_ended.is_set()  # only the watchers of that run
        assert ended.outcome is None  # ended without a word: the waiter reads the ledger


async def test_the_end_of_a_run_carries_its_outcome_to_every_process(kit: QueueKit) -> None:
    api, worker = kit.bus(), kit.peer_bus()
    await kit.ready(api)
    run = new_run()
    said = payload(7)  # not ASCII: reaches the waiter byte for byte
    with api.watch_end(run) as ended, worker.watch_end(run) as here:
        await worker.finish(run, said)
        await asyncio.wait_for(ended.wait(), 5)
        assert ended.outcome == said
        assert here.outcome == said  # the finishing process's own waiters too


# ---- bell: every adapter -----------------------------------------------------------------


async def test_ring_wakes_a_waiting_worker(kit: QueueKit) -> None:
    worker, api = kit.bell(), kit.peer_bell()
    waiter = asyncio.create_task(timed(worker.wait(5.0)))
    await asyncio.sleep(0.1)
    await api.ring()
    rung, elapsed = await waiter
    assert rung is True
    assert elapsed < 1.5


async def test_wait_without_a_ring_returns_false_after_the_timeout(kit: QueueKit) -> None:
    rung, elapsed = await timed(kit.bell().wait(0.3))
    assert rung is False
    assert 0.25 <= elapsed < 1.0


async def test_a_ring_before_anyone_waits_is_not_lost(kit: QueueKit) -> None:
    worker, api = kit.bell(), kit.peer_bell()
    await api.ring()
    await asyncio.sleep(0.2)
    rung, elapsed = await timed(worker.wait(3.0))
    assert rung is True
    assert elapsed < 0.5


async def test_one_ring_wakes_at_least_one_of_many_waiters(kit: QueueKit) -> None:
    bells: list[Bell] = [kit.bell(), kit.peer_bell(), kit.peer_bell()]
    waiters = [asyncio.create_task(b.wait(5.0)) for b in bells]
    await asyncio.sleep(0.2)
    await kit.peer_bell().ring()
    done, pending = await asyncio.wait(waiters, timeout=2.0, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    assert any(task.result() is True for task in done), "no waiter woke up"


# ---- Redis only: faults ------------------------------------------------------------------


async def kill_clients(admin: aioredis.Redis, name: str, kind: str = "normal") -> list[str]:
    """``CLIENT KILL TYPE <kind>``, limited to the connections of one test (by client name)."""
    killed = []
    for client in await admin.client_list(_type=kind):
        if client.get("name") == name:
            await admin.client_kill_filter(_id=client["id"], _type=kind)
            killed.append(str(client.get("cmd", "")))
    return killed


async def blocked_reads(admin: aioredis.Redis, name: str) -> int:
    return sum(
        1
        for client in await admin.client_list(_type="normal")
        if client.get("name") == name
        and client.get("cmd") == "xread"
        and "b" in str(client.get("flags", ""))  # blocked now, not just last used for XREAD
    )


async def test_everything_keeps_working_after_flushdb(
    redis_kit: RedisKit, admin: aioredis.Redis
) -> None:
    bell, bus = redis_kit.bell(), redis_kit.bus()
    run = new_run()
    await bus.publish(run, "values", payload(0))
    await bell.ring()
    await admin.flushdb()  # the test database only

    assert not await bus.has_stream(run)
    assert await bell.wait(0.2) is False  # the ring was lost with the data, nothing raised
    await bell.ring()
    assert await bell.wait(2.0) is True
    second = await bus.publish(run, "values", payload(1))
    await bus.finish(run)
    assert as_tuples(await collect(bus.subscribe(run))) == [(second, "values", payload(1))]


async def test_a_blocked_subscriber_survives_flushdb(
    redis_kit: RedisKit, admin: aioredis.Redis
) -> None:
    api, worker = redis_kit.bus(), redis_kit.peer_bus()
    run = new_run()
    first = await worker.publish(run, "values", payload(0))
    follower = Follower(api, run)
    try:
        await follower.has(1)
        await asyncio.sleep(0.2)  # now blocked in XREAD
        await admin.flushdb()
        await asyncio.sleep(0.1)
        later = [
            (await worker.publish(run, "values", payload(i)), "values", payload(i)) for i in (1, 2)
        ]
        await worker.finish(run)
        got = await follower.ended(timeout=10.0)
    finally:
        await follower.stop()
    assert as_tuples(got) == [(first, "values", payload(0)), *later]


async def test_a_blocked_subscriber_survives_client_kill(
    redis_kit: RedisKit, admin: aioredis.Redis
) -> None:
    api, worker = redis_kit.bus(), redis_kit.peer_bus()
    run = new_run()
    sent = await publish_many(worker, run, 2)
    follower = Follower(api, run)
    try:
        await follower.has(2)
        await asyncio.sleep(0.2)
        killed = await kill_clients(admin, redis_kit.client_name)
        assert "xread" in killed, killed
        sent += [
            (await worker.publish(run, "custom", payload(i)), "custom", payload(i)) for i in (2, 3)
        ]
        await worker.finish(run)
        got = await follower.ended(timeout=10.0)
    finally:
        await follower.stop()
    assert as_tuples(got) == sent  # continued from the last id: no duplicate, no gap


async def test_ring_is_quick_and_nothing_hangs_while_redis_is_paused(
    redis_kit: RedisKit, admin: aioredis.Redis
) -> None:
    bell, bus = redis_kit.bell(), redis_kit.bus()
    run = new_run()
    await bell.ring()  # connections are open before the stall
    assert await bell.wait(1.0) is True
    await bus.publish(run, "values", payload(0))

    await admin.client_pause(2000, all=True)  # CLIENT PAUSE 2000 ALL
    try:
        _, ring_time = await timed(bell.ring())
        assert ring_time < 0.5

        async def publish_fails() -> None:
            with pytest.raises((TimeoutError, redis.RedisError)):
                await bus.publish(run, "values", payload(1))

        (_, publish_time), (rung, wait_time), (_, control_time) = await asyncio.gather(
            timed(publish_fails()), timed(bell.wait(0.3)), timed(bus.send_control(run, "x"))
        )
        assert publish_time < 1.5
        assert rung is False
        assert wait_time < 1.8
        assert control_time < 1.0
    finally:
        # CLIENT UNPAUSE is itself held until the pause ends: this waits it out (<= 2 s)
        await admin.client_unpause()

    await bell.ring()
    assert await bell.wait(2.0) is True
    after = await bus.publish(run, "values", payload(2))
    await bus.finish(run)
    got = await collect(bus.subscribe(run))
    assert got[-1].id == after
    assert got[-1].data == payload(2)


async def test_nothing_raises_where_it_must_not_when_redis_is_unreachable() -> None:
    bell = RedisBell.from_url(UNREACHABLE_REDIS, prefix=f"cs-test-{uuid.uuid4().hex}")
    bus = RedisEventBus.from_url(UNREACHABLE_REDIS, replay_seconds=60)
    try:
        _, ring_time = await timed(bell.ring())
        assert ring_time < 0.5
        rung, wait_time = await timed(bell.wait(0.3))
        assert rung is False
        assert 0.25 <= wait_time < 2.0
        _, control_time = await timed(bus.send_control("run", "cancel:interrupt"))
        assert control_time < 1.0
        assert await bus.has_stream("run") is False
        with pytest.raises((TimeoutError, redis.RedisError)):
            await bus.publish("run", "values", payload(0))
        with pytest.raises((TimeoutError, redis.RedisError)):
            await bus.finish("run")
    finally:
        await bell.aclose()
        await bus.aclose()


async def test_a_cancelled_subscriber_releases_its_connection(
    redis_kit: RedisKit, admin: aioredis.Redis
) -> None:
    bus = redis_kit.bus()
    follower = Follower(bus, new_run())
    await asyncio.sleep(0.3)
    assert await blocked_reads(admin, redis_kit.client_name) == 1
    await follower.stop()
    await eventually(lambda: True)
    deadline = time.monotonic() + 2.0
    while await blocked_reads(admin, redis_kit.client_name) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert await blocked_reads(admin, redis_kit.client_name) == 0


async def test_subscribers_of_one_stream_share_one_blocked_read(
    redis_kit: RedisKit, admin: aioredis.Redis
) -> None:
    bus, worker = redis_kit.bus(), redis_kit.peer_bus()
    run = new_run()
    followers = [Follower(bus, run) for _ in range(25)]
    try:
        await asyncio.sleep(0.3)
        assert await blocked_reads(admin, redis_kit.client_name) == 1
        sent = await publish_many(worker, run, 3)
        await worker.finish(run)
        for follower in followers:
            assert as_tuples(await follower.ended()) == sent
    finally:
        for follower in followers:
            await follower.stop()


async def test_a_subscriber_that_falls_behind_still_gets_everything(
    redis_kit: RedisKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redis_adapter, "INBOX_BACKLOG", 4)
    bus, worker = redis_kit.bus(), redis_kit.peer_bus()
    run = new_run()
    stream = cast(AsyncGenerator[StreamEvent, None], bus.subscribe(run))
    try:
        early = await publish_many(worker, run, 1)
        first = await anext(stream)  # registered with the follower, then suspended
        late = await publish_many(worker, run, 30)  # far more than its backlog allows
        await worker.finish(run)
        rest = [item async for item in stream]
    finally:
        await stream.aclose()
    assert as_tuples([first, *rest]) == early + late


async def test_streams_are_capped_and_expire(redis_url: str, admin: aioredis.Redis) -> None:
    kit = RedisKit(redis_url, replay_seconds=30, maxlen=50)
    try:
        bus, run = kit.bus(), new_run()
        key = bus.stream_key(run)
        for i in range(600):
            await bus.publish(run, "values", payload(i))
        assert await admin.xlen(key) <= 250  # MAXLEN ~ 50 trims whole nodes of ~100 entries
        assert 30_000 < await admin.pttl(key) <= 3_600_000
        await bus.finish(run)
        assert 0 < await admin.pttl(key) <= 30_000
    finally:
        await kit.aclose()


async def test_the_bell_list_stays_small(redis_kit: RedisKit, admin: aioredis.Redis) -> None:
    bell = redis_kit.bell()
    for _ in range(200):
        await bell.ring()
    assert 1 <= await admin.llen(bell.key) <= 32


async def test_a_failing_control_handler_is_logged_not_fatal(
    redis_kit: RedisKit, admin: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    worker, api = redis_kit.bus(), redis_kit.peer_bus()
    received: list[tuple[str, str]] = []

    async def broken(run_id: str, action: str) -> None:
        raise RuntimeError("handler bug")

    async def good(run_id: str, action: str) -> None:
        received.append((run_id, action))

    worker.on_control(broken)
    worker.on_control(good)
    await redis_kit.ready(worker)
    with caplog.at_level(logging.WARNING, logger="service.queue.redis_adapter"):
        await api.send_control("r1", "cancel:interrupt")
        await admin.publish(worker.channel, b"not json")  # ignored, logged
        await api.send_control("r2", "cancel:rollback")
        await eventually(lambda: len(received) == 2)
    assert received == [("r1", "cancel:interrupt"), ("r2", "cancel:rollback")]
    messages = [r.getMessage() for r in caplog.records]
    assert any("control handler failed" in m for m in messages)
    assert any("malformed control message" in m for m in messages)


async def test_the_control_listener_reconnects(redis_kit: RedisKit, admin: aioredis.Redis) -> None:
    worker, api = redis_kit.bus(), redis_kit.peer_bus()
    received: list[str] = []

    async def handler(run_id: str, action: str) -> None:
        received.append(run_id)

    worker.on_control(handler)
    await redis_kit.ready(worker)
    assert await kill_clients(admin, redis_kit.client_name, kind="pubsub")
    # messages sent while it reconnects may be lost (the ledger is the fallback): keep sending
    async with asyncio.timeout(10.0):
        while not received:
            await api.send_control("after-kill", "cancel:interrupt")
            await asyncio.sleep(0.1)
    assert set(received) == {"after-kill"}


async def test_aclose_stops_the_control_listener(redis_kit: RedisKit) -> None:
    bus = redis_kit.new_bus()

    async def handler(run_id: str, action: str) -> None:
        return None

    bus.on_control(handler)
    await redis_kit.ready(bus)
    await bus.aclose()
    await bus.aclose()  # idempotent
    listeners = [t for t in asyncio.all_tasks() if t.get_name() == "countersign-control"]
    assert all(t.done() for t in listeners)
