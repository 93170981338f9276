"""What the Redis bell and event bus share: how a client is built from a URL, how long a
blocking read may be, quiet complaining about failures, and reading stream replies."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator, Mapping
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff

DEFAULT_PREFIX = "countersign"
DEFAULT_MAX_CONNECTIONS = 1000
OP_TIMEOUT = 1.0  # seconds; bound of publish/finish/has_stream and of connecting
BLOCK_SECONDS = 5.0  # longest single server-side block of XREAD / BLPOP
REDIS_PY_SOCKET_TIMEOUT = 5.0  # redis-py's Connection default (redis._defaults)


def client_from_url(url: str, max_connections: int, options: Mapping[str, Any]) -> aioredis.Redis:
    settings: dict[str, Any] = {
        "max_connections": max_connections,
        "socket_connect_timeout": OP_TIMEOUT,
        # longer than one blocking read, so blocked XREAD/BLPOP never trip it
        "socket_timeout": BLOCK_SECONDS + 5.0,
        # Redis.from_url does not retry at all: a pooled connection that Redis closed
        # (restart, CLIENT KILL, idle timeout) would fail its next command. Reconnect instead;
        # the asyncio.timeout around every call still bounds the total time.
        "retry": Retry(ExponentialWithJitterBackoff(base=0.01, cap=0.2), retries=2),
        **options,
    }
    return aioredis.Redis.from_url(url, **settings)


def block_cap(client: aioredis.Redis, wanted: float) -> float:
    """The longest server-side block the client's socket timeout allows."""
    options = client.connection_pool.connection_kwargs
    # absent (e.g. Redis.from_url without it) means redis-py's connection default
    socket_timeout = options.get("socket_timeout", REDIS_PY_SOCKET_TIMEOUT)
    if socket_timeout is None:
        return wanted
    limit = float(socket_timeout)
    limit = limit - 0.5 if limit > 1.0 else limit / 2
    return max(0.05, min(wanted, limit))


class Complaints:
    """Logs failures of one kind at WARNING at most every ``every`` seconds (else DEBUG)."""

    def __init__(self, what: str, log: logging.Logger, every: float = 10.0) -> None:
        self._what = what
        self._log = log
        self._every = every
        self._last = -every

    def failed(self, exc: BaseException) -> None:
        now = time.monotonic()
        if now - self._last >= self._every:
            self._last = now
            self._log.warning("redis: %s failed: %r", self._what, exc)
        else:
            self._log.debug("redis: %s failed: %r", self._what, exc)


def text_of(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode()
    return str(value)


def bytes_of(value: object) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return b""


_STREAM_ID = re.compile(r"(\d{1,20})-(\d{1,20})")
_U64 = 2**64


def valid_stream_id(value: str | None) -> str | None:
    """A stream entry id as a client may send it back (``Last-Event-ID``), or None."""
    if not value:
        return None
    match = _STREAM_ID.fullmatch(value.strip())
    if match is None or int(match[1]) >= _U64 or int(match[2]) >= _U64:
        return None
    return match[0]


def entries(reply: object) -> Iterator[tuple[str, Mapping[Any, Any]]]:
    """``(id, fields)`` pairs of an XREAD reply, whatever its shape.

    redis-py shapes XREAD replies by protocol and options: ``[[key, [(id, fields), ...]]]``
    (RESP2 shapes, the default), ``{key: [[(id, fields), ...]]}`` (RESP3) or
    ``{key: [(id, fields), ...]}`` (unified). Only one stream is read at a time, so every
    ``(id, dict)`` pair in the reply belongs to it, in order.
    """
    if isinstance(reply, Mapping):
        for value in reply.values():
            yield from entries(value)
    elif isinstance(reply, list | tuple):
        if len(reply) == 2 and isinstance(reply[0], bytes | str) and isinstance(reply[1], Mapping):
            yield text_of(reply[0]), reply[1]
            return
        for item in reply:
            if isinstance(item, list | tuple | Mapping):
                yield from entries(item)


def field_of(fields: Mapping[Any, Any], name: str) -> object:
    value = fields.get(name.encode())
    return fields.get(name) if value is None else value


def id_order(entry_id: str) -> tuple[int, int]:
    millis, _, seq = entry_id.partition("-")
    return int(millis), int(seq or 0)
