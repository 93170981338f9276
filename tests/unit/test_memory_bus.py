"""The in-process bus keeps finished streams for the replay window, then drops them."""

from __future__ import annotations

import asyncio

from service.queue.memory import MemoryEventBus


async def test_finished_streams_are_dropped_after_the_replay_window_oldest_first() -> None:
    bus = MemoryEventBus(replay_seconds=0.2)
    for run in ("old-1", "old-2"):
        await bus.publish(run, "values", b"{}")
        await bus.finish(run)
    await bus.publish("running", "values", b"{}")  # never finished: kept whatever its age
    await asyncio.sleep(0.25)
    await bus.publish("recent", "values", b"{}")
    await bus.finish("recent")
    await bus.publish("new", "values", b"{}")  # a new stream is when old ones are expired
    assert not await bus.has_stream("old-1")
    assert not await bus.has_stream("old-2")
    assert await bus.has_stream("running")
    assert await bus.has_stream("recent")
    assert await bus.has_stream("new")
