"""Redis bell for production: workers in any process wake when a run becomes claimable.

``{prefix}:bell``
    LIST used as a doorbell. ``ring()`` is ``LPUSH`` of a token followed by ``LTRIM`` to
    ``bell_depth`` entries, so the list never grows without bound; ``wait(t)`` is ``BLPOP``
    with that timeout. A list rather than pub/sub because a ring made while no worker is
    waiting (all busy, or between two waits) stays in the list and is picked up by the next
    ``wait``; a pub/sub message would be lost. Each ``BLPOP`` takes one token, so one ring
    wakes exactly one of the workers blocked on the key (in any process); a burst of rings
    wakes up to ``bell_depth`` of them. Spare tokens only cause a cheap extra claim attempt.
    ``ring()`` never raises and gives up after ``ring_timeout`` (200 ms): the caller has
    already committed, and the worker's poll finds the run anyway.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Self

import redis.asyncio as aioredis

from service.queue.redis_client import (
    BLOCK_SECONDS,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_PREFIX,
    OP_TIMEOUT,
    Complaints,
    block_cap,
    client_from_url,
)

log = logging.getLogger(__name__)

RING_TIMEOUT = 0.2  # seconds; ring() runs right after a commit, in the request path
BELL_DEPTH = 32  # most tokens the bell list keeps
WAIT_ERROR_PAUSE = 1.0  # longest pause of Bell.wait after a Redis error


class RedisBell:
    """``Bell`` on a Redis list: LPUSH + LTRIM to ring, BLPOP to wait (see the module doc)."""

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str = DEFAULT_PREFIX,
        ring_timeout: float = RING_TIMEOUT,
        op_timeout: float = OP_TIMEOUT,
        bell_depth: int = BELL_DEPTH,
        owns_client: bool = False,
    ) -> None:
        self._client = client
        self.key = f"{prefix}:bell"
        self._ring_timeout = ring_timeout
        self._op_timeout = op_timeout
        self._depth = max(1, bell_depth)
        self._owns_client = owns_client
        self._closed = False
        self._block = block_cap(client, BLOCK_SECONDS)
        self._ring_failures = Complaints("ringing the bell", log)
        self._wait_failures = Complaints("waiting on the bell", log)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        **options: Any,
    ) -> Self:
        """A bell on its own client; ``options`` go to ``redis.asyncio.Redis.from_url``."""
        client = client_from_url(url, max_connections, options)
        return cls(client, prefix=prefix, owns_client=True)

    async def ring(self) -> None:
        try:
            async with asyncio.timeout(self._ring_timeout):
                async with self._client.pipeline(transaction=False) as pipe:
                    pipe.lpush(self.key, b"1")
                    pipe.ltrim(self.key, 0, self._depth - 1)
                    await pipe.execute()
        except Exception as exc:  # a lost ring costs latency, never a run
            self._ring_failures.failed(exc)

    async def wait(self, timeout: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, timeout)
        blocked = False
        try:
            while True:
                remaining = deadline - loop.time()
                if remaining < 0.01:
                    if blocked:
                        return False
                    async with asyncio.timeout(self._op_timeout):
                        return await self._client.lpop(self.key) is not None
                block = min(remaining, self._block)
                async with asyncio.timeout(block + self._op_timeout):
                    popped = await self._client.blpop([self.key], timeout=block)
                blocked = True
                if popped is not None:
                    return True
        except Exception as exc:
            self._wait_failures.failed(exc)
            await asyncio.sleep(min(max(0.0, deadline - loop.time()), WAIT_ERROR_PAUSE))
            return False

    async def aclose(self) -> None:
        if self._owns_client and not self._closed:
            self._closed = True
            await self._client.aclose()
