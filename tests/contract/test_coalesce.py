"""``Coalescer`` against a real Redis: one pipeline per turn, each caller its own replies."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from service.queue.coalesce import Coalescer

UNREACHABLE_REDIS = "redis://127.0.0.1:1/15"


class CountingPipelines(aioredis.Redis):
    pipelines = 0

    def pipeline(self, *args: Any, **kwargs: Any) -> Pipeline:
        CountingPipelines.pipelines += 1
        return super().pipeline(*args, **kwargs)


async def test_callers_of_one_turn_share_a_pipeline_and_get_their_own_replies(
    redis_url: str,
) -> None:
    client = CountingPipelines.from_url(redis_url)
    coalescer = Coalescer(client)
    key = f"coalesce:{uuid.uuid4()}"

    def incr(by: int) -> Any:
        return lambda pipe: (pipe.incrby(key, by), pipe.get(key))

    try:
        CountingPipelines.pipelines = 0
        replies = await asyncio.gather(*(coalescer.send(incr(n), 2) for n in range(1, 11)))
        assert CountingPipelines.pipelines == 1
        totals = [sum(range(1, n + 1)) for n in range(1, 11)]  # in the order they were queued
        assert replies == [[total, str(total).encode()] for total in totals]
        again = await coalescer.send(incr(100), 2)  # a later turn: its own pipeline
        assert again == [155, b"155"]
        assert CountingPipelines.pipelines == 2
    finally:
        await client.delete(key)
        await client.aclose()


async def test_an_error_reply_is_that_callers_only(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    coalescer = Coalescer(client)
    key = f"coalesce:{uuid.uuid4()}"
    try:
        good, bad = await asyncio.gather(
            coalescer.send(lambda pipe: pipe.set(key, "text"), 1),
            coalescer.send(lambda pipe: pipe.incr(key), 1),  # not a number
        )
        assert good == [True]
        assert isinstance(bad[0], ResponseError)
    finally:
        await client.delete(key)
        await client.aclose()


async def test_when_redis_is_unreachable_every_caller_of_the_turn_raises() -> None:
    client = aioredis.Redis.from_url(UNREACHABLE_REDIS, socket_connect_timeout=0.5)
    coalescer = Coalescer(client)
    try:
        results = await asyncio.gather(
            *(coalescer.send(lambda pipe: pipe.ping(), 1) for _ in range(3)),
            return_exceptions=True,
        )
        assert all(isinstance(r, RedisConnectionError) for r in results), results
        with pytest.raises(RedisConnectionError):
            await coalescer.send(lambda pipe: pipe.ping(), 1)
    finally:
        await client.aclose()
