"""Redis commands issued in the same turn of the event loop, sent as one pipeline.

Under load many runs of a worker publish their events to Redis at once. Each used to send a
pipeline of its own: one write and one read system call per caller, for a few bytes each.
``Coalescer.send`` queues the caller's commands; the first caller of a turn schedules one
pipeline for everything queued in that turn, and every caller gets its own replies, in
order. A caller's commands stay together and in the order given; callers that await one
another (a run's successive events) stay in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

Commands = Callable[[Pipeline], object]  # puts one caller's commands on the pipeline


class Coalescer:
    def __init__(self, client: aioredis.Redis) -> None:
        self._client = client
        self._queued: list[tuple[Commands, int, asyncio.Future[list[Any]]]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def send(self, commands: Commands, count: int) -> list[Any]:
        """The replies to the ``count`` commands ``commands`` puts on the pipeline (a reply
        that is an error is returned as the exception, not raised)."""
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._queued.append((commands, count, future))
        if len(self._queued) == 1:  # the first of this turn: send after the turn
            asyncio.get_running_loop().call_soon(self._start)
        return await future

    def _start(self) -> None:
        task = asyncio.create_task(self._send(self._queued))
        self._queued = []
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, batch: list[tuple[Commands, int, asyncio.Future[list[Any]]]]) -> None:
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for commands, _, _ in batch:
                    commands(pipe)
                replies = await pipe.execute(raise_on_error=False)
        except Exception as exc:
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        except BaseException:  # cancelled (shutting down): so are its callers
            for _, _, future in batch:
                future.cancel()
            raise
        start = 0
        for _, count, future in batch:
            if not future.done():  # its caller may have given up (timeout)
                future.set_result(replies[start : start + count])
            start += count
