"""Redis event bus for production (API and workers in separate processes); the bell is
``redis_bell.py``, the shared client settings ``redis_client.py``.

Postgres is the source of truth for runs. Redis only shortens latencies, and it may lose
everything at any moment (``FLUSHALL``, a restart, ``SHUTDOWN NOSAVE``) or stall
(``CLIENT PAUSE``, ``SIGSTOP``). Every call here is therefore bounded in time with
``asyncio.timeout`` on top of the socket timeouts, and losing Redis costs latency or stream
parts, never a run (workers poll the ledger, leases and the reaper recover the rest).

Keys (``prefix`` defaults to ``countersign``; one prefix per deployment):

``{prefix}:run:{run_id}:events``
    STREAM per run. ``publish`` is ``XADD ... MAXLEN ~ maxlen`` (10,000: a runaway run cannot
    fill memory) with the fields ``event`` and ``data``, plus a generous ``PEXPIRE``
    (``max(replay_seconds, 3600)`` s) so the stream of a crashed run does not live forever.
    Event ids are the stream ids (``"1700000000000-0"``); clients send them back as
    ``Last-Event-ID``, and any API process can resume from them. ``finish`` appends an entry
    named ``port.END_EVENT`` and sets the expiry to ``replay_seconds``. Reading is shared: in
    one process, one *follower* task per stream key does the ``XREAD BLOCK`` (5 s blocks) and
    hands each entry to every subscriber of that key, so 1,000 SSE clients of one tenant's
    inbox cost one Redis connection, not 1,000. A subscriber registers with the follower
    first, then catches up on its own with non-blocking ``XREAD`` from its position (replay of
    ``Last-Event-ID`` / history), then takes the follower's entries, skipping ids it has
    already yielded: no gap between the two, no duplicate. A subscriber that lags more than
    ``INBOX_BACKLOG`` entries behind drops its buffer and catches up on its own again. The last
    subscriber to leave cancels the follower. ``subscribe`` never yields the end marker and
    returns after it. On a Redis error readers retry with a short backoff from their last id:
    no duplicates, no gaps (other than entries Redis itself lost). ``publish``/``finish`` are
    bounded by ``op_timeout`` (1 s) and raise; the worker logs and goes on. ``has_stream`` is
    ``EXISTS``; when Redis cannot answer it logs and says False (the events are out of reach).

``{prefix}:control``
    pub/sub channel for control messages (``{"run_id": ..., "action": ...}``, e.g. cancel).
    Fire and forget: a message published while a listener reconnects is lost, which is
    acceptable because the worker's lease renewal also notices runs cancelled in the ledger.
    ``send_control`` never raises (bounded by ``control_timeout``). A background listener,
    started by ``on_control`` (or ``await start()``), reconnects after errors, pings the
    channel when it has been quiet so a half-open connection is noticed, and awaits every
    registered handler; a failing handler is logged and the others still run.

Connections: every blocked ``XREAD`` (one per stream key followed in a process: per run being
streamed or waited on, per tenant inbox being watched) and every blocked ``BLPOP`` holds a
pool connection for up to one block. ``from_url`` therefore builds a pool
with ``max_connections`` (default 1,000) and a socket timeout longer than a block; when the
pool is exhausted, readers back off and retry, and ``ring`` gives up quietly. Its clients
also retry a command twice on a fresh connection (``Redis.from_url`` alone never retries, so
a pooled connection closed by a Redis restart would fail its next command). A client passed
in by the caller is used as is (blocks are kept shorter than its socket timeout; give it a
retry policy) and is not closed by ``aclose()``. Bell and bus may share one client.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Self

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.typing import EncodableT, FieldT

from service.queue.coalesce import Coalescer
from service.queue.port import END_EVENT, EndWatches, StreamEvent
from service.queue.redis_client import (
    BLOCK_SECONDS,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_PREFIX,
    OP_TIMEOUT,
    Complaints,
    block_cap,
    bytes_of,
    client_from_url,
    entries,
    field_of,
    id_order,
    text_of,
    valid_stream_id,
)

log = logging.getLogger(__name__)

ControlHandler = Callable[[str, str], Awaitable[None]]

ENDED_ACTION = "ended"  # on the control channel: a run ended (wakes /wait and /join)
CONTROL_TIMEOUT = 0.5  # seconds; send_control also runs after a commit
STREAM_MAXLEN = 10_000  # approximate cap of one run's stream
LIVE_TTL_SECONDS = 3600.0  # at least this long while a run is still publishing
READ_COUNT = 500  # stream entries per XREAD
INBOX_BACKLOG = 10 * READ_COUNT  # entries a subscriber may lag behind its follower
RETRY_MIN, RETRY_MAX = 0.05, 1.0  # backoff of readers and of the control listener
LISTEN_POLL = 1.0  # control listener: seconds per get_message
PING_AFTER = 15.0  # control listener: ping when nothing was heard for this long
PING_GRACE = 10.0  # ... and reconnect when the pong does not come within this


class _Inbox:
    """Entries a follower handed to one subscriber, not yet yielded."""

    def __init__(self) -> None:
        self.entries: deque[tuple[str, Mapping[Any, Any]]] = deque()
        self.wake = asyncio.Event()
        self.overflowed = False

    def hand(self, batch: list[tuple[str, Mapping[Any, Any]]]) -> None:
        if len(self.entries) + len(batch) > INBOX_BACKLOG:
            # A slow consumer: drop what it holds; it reads on its own from its position.
            self.entries.clear()
            self.overflowed = True
        else:
            self.entries.extend(batch)
        self.wake.set()


class _Follower:
    """One blocking reader of one stream key, shared by the subscribers of this process."""

    def __init__(self) -> None:
        self.inboxes: set[_Inbox] = set()
        self.ready = asyncio.Event()  # set once its starting position is known
        self.task: asyncio.Task[None]


class RedisEventBus:
    """``EventBus`` on one Redis stream per run plus a pub/sub control channel."""

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        replay_seconds: float = 600.0,
        prefix: str = DEFAULT_PREFIX,
        maxlen: int = STREAM_MAXLEN,
        block_seconds: float = BLOCK_SECONDS,
        op_timeout: float = OP_TIMEOUT,
        control_timeout: float = CONTROL_TIMEOUT,
        owns_client: bool = False,
    ) -> None:
        self._client = client
        self._pipeline = Coalescer(client)
        self._prefix = prefix
        self.channel = f"{prefix}:control"
        self._replay_ms = max(1, int(replay_seconds * 1000))
        self._live_ttl_ms = max(self._replay_ms, int(LIVE_TTL_SECONDS * 1000))
        self._maxlen = maxlen
        self._block = block_cap(client, block_seconds)
        self._op_timeout = op_timeout
        self._control_timeout = control_timeout
        self._owns_client = owns_client
        self._handlers: list[ControlHandler] = []
        self._ends = EndWatches()
        self.watch_end = self._ends.watch
        self._listener: asyncio.Task[None] | None = None
        self._followers: dict[str, _Follower] = {}
        self._subscribed = asyncio.Event()
        self._closed = False
        self._control_failures = Complaints("sending a control message", log)
        self._listen_failures = Complaints("listening for control messages", log)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        replay_seconds: float = 600.0,
        prefix: str = DEFAULT_PREFIX,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        **options: Any,
    ) -> Self:
        """A bus on its own client; ``options`` go to ``redis.asyncio.Redis.from_url``."""
        client = client_from_url(url, max_connections, options)
        return cls(client, replay_seconds=replay_seconds, prefix=prefix, owns_client=True)

    def stream_key(self, run_id: str) -> str:
        return f"{self._prefix}:run:{run_id}:events"

    # ---- events ---------------------------------------------------------------------

    async def _append(
        self,
        run_id: str,
        event: str,
        data: bytes,
        ttl_ms: int,
        *,
        announce: str | None = None,
        window: bool = False,
    ) -> str:
        """XADD and PEXPIRE (and PUBLISH ``announce`` on the control channel), one round trip.
        A ``window`` stream is trimmed by age (MINID: ids are milliseconds), a run's by count."""
        key = self.stream_key(run_id)
        fields: dict[FieldT, EncodableT] = {"event": event, "data": data}

        def commands(pipe: Pipeline) -> None:
            if window:
                oldest = f"{int(time.time() * 1000) - self._replay_ms}-0"
                pipe.xadd(key, fields, minid=oldest, approximate=False)
            else:
                pipe.xadd(key, fields, maxlen=self._maxlen, approximate=True)
            pipe.pexpire(key, ttl_ms)
            if announce is not None:
                pipe.publish(self.channel, announce)

        async with asyncio.timeout(self._op_timeout):
            # no MULTI/EXEC: the TTL is refreshed by every later event too; sent with the
            # events other runs of this process publish in the same turn (``coalesce``)
            replies = await self._pipeline.send(commands, 3 if announce is not None else 2)
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return text_of(replies[0])

    async def publish(self, run_id: str, event: str, data: bytes, *, window: bool = False) -> str:
        return await self._append(run_id, event, data, self._live_ttl_ms, window=window)

    async def finish(self, run_id: str, outcome: bytes | None = None) -> None:
        """The end marker, and word to every process that the run ended (``watch_end``),
        with the ``outcome`` when there is one."""
        word: dict[str, Any] = {"run_id": run_id, "action": ENDED_ACTION}
        if outcome is not None:
            word["outcome"] = outcome.decode()
        await self._append(run_id, END_EVENT, b"", self._replay_ms, announce=json.dumps(word))
        self._ends.ended(run_id, outcome)

    async def has_stream(self, run_id: str) -> bool:
        """EXISTS; False (logged) when Redis cannot answer: its events are out of reach."""
        try:
            async with asyncio.timeout(self._op_timeout):
                return bool(await self._client.exists(self.stream_key(run_id)))
        except Exception as exc:
            log.warning("redis: has_stream(%s) failed: %r", run_id, exc)
            return False

    async def _last_id(self, key: str) -> str:
        async with asyncio.timeout(self._op_timeout):
            newest = await self._client.xrevrange(key, count=1)
        return next((entry_id for entry_id, _ in entries([[key, newest]])), "0-0")

    async def subscribe(
        self, run_id: str, last_event_id: str | None = None, *, from_end: bool = False
    ) -> AsyncIterator[StreamEvent]:
        key = self.stream_key(run_id)
        position = valid_stream_id(last_event_id) or "0-0"
        if from_end and valid_stream_id(last_event_id) is None:
            try:
                position = await self._last_id(key)
            except Exception as exc:
                log.warning("redis: reading the end of %s failed: %r", key, exc)
        failures = Complaints(f"reading the events of run {run_id}", log)
        while True:  # once, unless this subscriber fell too far behind its follower
            inbox = _Inbox()
            follower = self._join(key, inbox)
            try:
                await follower.ready.wait()
                # Registered before this catch-up read: whatever it misses, the follower
                # reads after the registration and hands over (duplicates skipped by id).
                while True:
                    batch = await self._read_now(key, position, failures)
                    for entry_id, fields in batch:
                        position = entry_id
                        event = text_of(field_of(fields, "event"))
                        if event == END_EVENT:
                            return
                        yield StreamEvent(entry_id, event, bytes_of(field_of(fields, "data")))
                    if len(batch) < READ_COUNT:
                        break
                while not inbox.overflowed:
                    if not inbox.entries:
                        inbox.wake.clear()
                        await inbox.wake.wait()
                        continue
                    entry_id, fields = inbox.entries.popleft()
                    if id_order(entry_id) <= id_order(position):
                        continue
                    position = entry_id
                    event = text_of(field_of(fields, "event"))
                    if event == END_EVENT:
                        return
                    yield StreamEvent(entry_id, event, bytes_of(field_of(fields, "data")))
            finally:
                self._leave(key, follower, inbox)

    async def _read_now(
        self, key: str, position: str, failures: Complaints
    ) -> list[tuple[str, Mapping[Any, Any]]]:
        """Entries after ``position`` that are there now (no block); retried until Redis answers."""
        delay = RETRY_MIN
        while True:
            try:
                async with asyncio.timeout(self._op_timeout):
                    reply = await self._client.xread({key: position}, count=READ_COUNT)
                return list(entries(reply))
            except Exception as exc:
                failures.failed(exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX)

    def _join(self, key: str, inbox: _Inbox) -> _Follower:
        follower = self._followers.get(key)
        if follower is None or follower.task.done():
            follower = _Follower()
            follower.task = asyncio.create_task(self._follow(key, follower), name=f"follow {key}")
            self._followers[key] = follower
        follower.inboxes.add(inbox)
        return follower

    def _leave(self, key: str, follower: _Follower, inbox: _Inbox) -> None:
        follower.inboxes.discard(inbox)
        if not follower.inboxes:
            # Cancelling disconnects the blocked XREAD's connection: nothing is left behind.
            follower.task.cancel()
            if self._followers.get(key) is follower:
                del self._followers[key]

    async def _follow(self, key: str, follower: _Follower) -> None:
        """The one blocking XREAD of ``key`` in this process; hands every entry to each inbox."""
        delay = RETRY_MIN
        failures = Complaints(f"following {key}", log)
        while True:
            try:
                position = await self._last_id(key)
                break
            except Exception as exc:
                failures.failed(exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX)
        follower.ready.set()
        block_ms = max(1, int(self._block * 1000))
        delay = RETRY_MIN
        while True:
            try:
                async with asyncio.timeout(self._block + self._op_timeout):
                    reply = await self._client.xread(
                        {key: position}, count=READ_COUNT, block=block_ms
                    )
            except Exception as exc:
                failures.failed(exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX)
                continue
            delay = RETRY_MIN
            batch = list(entries(reply))
            if not batch:
                continue
            position = batch[-1][0]
            for inbox in list(follower.inboxes):
                inbox.hand(batch)
            if any(text_of(field_of(fields, "event")) == END_EVENT for _, fields in batch):
                return

    # ---- control --------------------------------------------------------------------

    async def send_control(self, run_id: str, action: str) -> None:
        """PUBLISH; never raises (the ledger and lease renewal are the fallback)."""
        message = json.dumps({"run_id": run_id, "action": action})
        try:
            async with asyncio.timeout(self._control_timeout):
                await self._client.publish(self.channel, message)
        except Exception as exc:
            self._control_failures.failed(exc)

    def on_control(self, handler: ControlHandler) -> None:
        self._handlers.append(handler)
        self._ensure_listener()

    async def start(self, timeout: float = 5.0) -> bool:
        """Start the control listener; True once it is subscribed (within ``timeout``)."""
        self._ensure_listener()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._subscribed.wait()
        return self._subscribed.is_set()

    def _ensure_listener(self) -> None:
        if self._closed or (self._listener is not None and not self._listener.done()):
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # no loop yet: start() begins listening
            return
        self._listener = asyncio.create_task(self._listen(), name="countersign-control")

    async def _listen(self) -> None:
        delay = RETRY_MIN
        while True:
            try:
                await self._listen_once()
            except Exception as exc:
                self._listen_failures.failed(exc)
            self._subscribed.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX)

    async def _listen_once(self) -> None:
        loop = asyncio.get_running_loop()
        pubsub = self._client.pubsub()
        try:
            async with asyncio.timeout(self._op_timeout):
                await pubsub.subscribe(self.channel)
            heard = loop.time()
            pinged = False
            while True:
                message = await pubsub.get_message(timeout=LISTEN_POLL)
                now = loop.time()
                if message is None:
                    if not pinged and now - heard > PING_AFTER:
                        async with asyncio.timeout(self._op_timeout):
                            await pubsub.ping()
                        pinged = True
                    elif pinged and now - heard > PING_AFTER + PING_GRACE:
                        raise RedisConnectionError("control channel went silent")
                    continue
                heard, pinged = now, False
                kind = text_of(message.get("type"))
                if kind == "subscribe":
                    self._subscribed.set()
                elif kind == "message":
                    await self._dispatch(message.get("data"))
        finally:
            self._subscribed.clear()
            close: Callable[[], Awaitable[None]] = pubsub.aclose  # untyped in redis-py
            with contextlib.suppress(Exception):
                await close()

    async def _dispatch(self, raw: object) -> None:
        try:
            message = json.loads(bytes_of(raw) if not isinstance(raw, str) else raw)
            run_id, action = message["run_id"], message["action"]
            if not isinstance(run_id, str) or not isinstance(action, str):
                raise TypeError("run_id and action must be strings")
        except (ValueError, KeyError, TypeError):
            log.warning("redis: ignoring a malformed control message %r", raw)
            return
        if action == ENDED_ACTION:
            outcome = message.get("outcome")
            self._ends.ended(run_id, outcome.encode() if isinstance(outcome, str) else None)
            return
        for handler in list(self._handlers):
            try:
                await handler(run_id, action)
            except Exception:
                log.exception("control handler failed for run %s (%s)", run_id, action)

    # ---- lifecycle ------------------------------------------------------------------

    async def ping(self) -> None:
        """Raise unless Redis answers within the operation timeout (readiness)."""
        async with asyncio.timeout(self._op_timeout):
            await self._client.ping()

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
        followers, self._followers = list(self._followers.values()), {}
        for follower in followers:
            follower.task.cancel()
        await asyncio.gather(*(f.task for f in followers), return_exceptions=True)
        if self._owns_client:
            await self._client.aclose()
