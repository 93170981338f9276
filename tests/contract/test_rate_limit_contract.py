"""One conformance suite for the rate limiters: in memory (one process) and Redis (shared).

Both apply ``domain.rates.gcra``: ``burst`` requests at once, then one per interval; a refused
request charges nothing; several keys are charged together or not at all. Redis is the real
server at ``COUNTERSIGN_TEST_REDIS``; every test uses keys of its own.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from service.domain.rates import NO_LIMIT, Rate, gcra
from service.queue.rate_limit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from tests.contract.conftest import REDIS_URL

UNREACHABLE_REDIS = "redis://127.0.0.1:1/15"


@pytest.fixture(params=["memory", "redis"])
async def limiter(request: pytest.FixtureRequest) -> AsyncIterator[RateLimiter]:
    made: RateLimiter = (
        MemoryRateLimiter() if request.param == "memory" else RedisRateLimiter.from_url(REDIS_URL)
    )
    yield made
    await made.aclose()


def key() -> str:
    return f"test:{uuid.uuid4().hex}"


async def allowed(limiter: RateLimiter, limits: list[tuple[str, Rate]], n: int) -> int:
    return sum([await limiter.acquire(limits) == 0.0 for _ in range(n)])


async def test_burst_then_refused_with_the_time_to_wait(limiter: RateLimiter) -> None:
    rate = Rate(per_second=2, burst=5)
    limits = [(key(), rate)]
    assert await allowed(limiter, limits, 5) == 5
    wait = await limiter.acquire(limits)
    assert 0.3 < wait <= 0.5  # one interval (0.5 s) after the first request of the burst


async def test_refused_requests_charge_nothing_and_the_rate_refills(limiter: RateLimiter) -> None:
    rate = Rate(per_second=10, burst=2)
    limits = [(key(), rate)]
    assert await allowed(limiter, limits, 2) == 2
    assert await allowed(limiter, limits, 20) == 0  # hammering does not push retry further
    await asyncio.sleep(0.12)
    assert await limiter.acquire(limits) == 0.0
    assert await limiter.acquire(limits) > 0


async def test_keys_are_charged_together_or_not_at_all(limiter: RateLimiter) -> None:
    tenant, alice, bob = key(), key(), key()
    wide, narrow = Rate(per_second=1, burst=3), Rate(per_second=1, burst=2)
    assert await allowed(limiter, [(tenant, wide), (alice, narrow)], 3) == 2  # alice's limit
    # alice's refused third request did not use the tenant's last place: bob gets it
    assert await allowed(limiter, [(tenant, wide), (bob, narrow)], 2) == 1


async def test_disabled_limits_never_refuse(limiter: RateLimiter) -> None:
    assert await allowed(limiter, [(key(), NO_LIMIT)], 200) == 200
    assert await limiter.acquire([]) == 0.0


async def test_redis_limits_are_shared_by_processes() -> None:
    first, second = RedisRateLimiter.from_url(REDIS_URL), RedisRateLimiter.from_url(REDIS_URL)
    limits = [(key(), Rate(per_second=1, burst=4))]
    try:
        got = [await (first if i % 2 else second).acquire(limits) == 0.0 for i in range(8)]
        assert sum(got) == 4
    finally:
        await first.aclose()
        await second.aclose()


async def test_redis_unreachable_lets_requests_through() -> None:
    down = RedisRateLimiter.from_url(UNREACHABLE_REDIS)
    try:
        began = time.monotonic()
        assert await allowed(down, [(key(), Rate(per_second=1, burst=1))], 3) == 3
        assert time.monotonic() - began < 5
    finally:
        await down.aclose()


def test_gcra_rule() -> None:
    rate = Rate(per_second=4, burst=2)  # interval 250 ms, two at once
    tat, wait = gcra(None, 1000.0, rate)
    assert (tat, wait) == (1250.0, 0.0)
    tat, wait = gcra(tat, 1000.0, rate)
    assert (tat, wait) == (1500.0, 0.0)
    assert gcra(tat, 1000.0, rate) == (1500.0, 250.0)  # refused: TAT unchanged
    assert gcra(tat, 1250.0, rate) == (1750.0, 0.0)
    assert gcra(500.0, 10_000.0, rate) == (10_250.0, 0.0)  # an old TAT counts as empty
