"""Rate limiters: several keys (a tenant, a principal) checked and charged together.

``MemoryRateLimiter`` serves one process (the embedded default); ``RedisRateLimiter`` shares
the limits among every API process through one Lua script (one round trip, atomic, Redis's
clock). Both apply ``domain.rates.gcra``. When Redis cannot answer, requests are let
through (and that is logged): a limiter must not take the API down with it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Protocol

import redis.asyncio as aioredis

from service.domain.rates import Rate, gcra
from service.queue.redis_client import OP_TIMEOUT, client_from_url

log = logging.getLogger(__name__)

Limit = tuple[str, Rate]  # (key, its rate)


class RateLimiter(Protocol):
    async def acquire(self, limits: Sequence[Limit]) -> float:
        """Charge one request to every key if all allow it: 0.0; else the seconds until
        they would (nothing charged)."""

    async def aclose(self) -> None: ...


class MemoryRateLimiter:
    def __init__(self, max_keys: int = 100_000) -> None:
        self._tat: OrderedDict[str, float] = OrderedDict()  # least recently used first
        self._max_keys = max_keys

    async def acquire(self, limits: Sequence[Limit]) -> float:
        now = time.monotonic() * 1000.0
        wait, updates = 0.0, []
        for key, rate in limits:
            if not rate.enabled:
                continue
            tat, retry = gcra(self._tat.get(key), now, rate)
            wait = max(wait, retry)
            updates.append((key, tat))
        if wait > 0:
            return wait / 1000.0
        for key, tat in updates:
            self._tat[key] = tat
            self._tat.move_to_end(key)
        while len(self._tat) > self._max_keys:
            self._tat.popitem(last=False)
        return 0.0

    async def aclose(self) -> None:
        return None


# KEYS: the limited keys; ARGV: interval_ms and tolerance_ms of each key, in KEYS' order.
# The same rule as domain.rates.gcra, on Redis's clock; TATs expire when back to empty.
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local wait = 0
local tats = {}
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i - 1])
  local tolerance = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then tat = now end
  local allow_at = tat + interval - tolerance
  if now < allow_at then
    if allow_at - now > wait then wait = allow_at - now end
  end
  tats[i] = tat + interval
end
if wait > 0 then return tostring(wait) end
for i, key in ipairs(KEYS) do
  redis.call('SET', key, tostring(tats[i]), 'PX', math.ceil(tats[i] - now) + 1)
end
return '0'
"""


class RedisRateLimiter:
    def __init__(
        self, client: aioredis.Redis, *, prefix: str = "countersign:rate", owns_client: bool = False
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._script = client.register_script(_GCRA)
        self._owns_client = owns_client
        self._last_complaint = 0.0

    @classmethod
    def from_url(cls, url: str) -> RedisRateLimiter:
        return cls(client_from_url(url, 20, {}), owns_client=True)

    async def acquire(self, limits: Sequence[Limit]) -> float:
        active = [(key, rate) for key, rate in limits if rate.enabled]
        if not active:
            return 0.0
        keys = [f"{self._prefix}:{key}" for key, _ in active]
        args = [v for _, rate in active for v in (rate.interval_ms, rate.tolerance_ms)]
        try:
            async with asyncio.timeout(OP_TIMEOUT):
                wait = float(await self._script(keys=keys, args=args))
        except Exception as exc:  # fail open: an unlimited request beats a refused one
            if time.monotonic() - self._last_complaint > 60:
                self._last_complaint = time.monotonic()
                log.warning("rate limiter: Redis did not answer (%r); not limiting", exc)
            return 0.0
        return wait / 1000.0

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()
