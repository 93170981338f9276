"""The embedded default's bell and bus across its two processes, over a Unix socket.

``countersign serve`` runs the API in one process and the worker in a child process, so both
cores work. The API process keeps the in-process adapters (``memory.py``) and serves them on a
Unix socket in the data directory (``BusHub``); the worker child uses ``SocketBell`` and
``SocketEventBus``, which forward every call to the hub and receive what the hub pushes:
rings, control messages, the end of runs and the events of its subscriptions. Both sides keep
the port's behaviour exactly (the queue conformance suite runs against them).

Frames are JSON lines. Client to hub: ``{"op", "id", ...}``, answered ``{"re": id, "value"}``.
Hub to client, unasked: ``{"push": "ring" | "control" | "ended" | "event" | "done", ...}``.
Event data are bytes: sent as text decoded with ``surrogateescape``, so any bytes survive.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from service.queue.memory import MemoryBell, MemoryEventBus
from service.queue.port import EndWatches, RunEnd, StreamEvent

log = logging.getLogger(__name__)

Frame = dict[str, Any]


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


async def _send(writer: asyncio.StreamWriter, frame: Frame) -> None:
    writer.write(json.dumps(frame, separators=(",", ":")).encode() + b"\n")
    await writer.drain()


class HubBell(MemoryBell):
    """The API process's bell: a ring also wakes the worker children."""

    def __init__(self) -> None:
        super().__init__()
        self.hub: BusHub | None = None

    async def ring(self) -> None:
        await super().ring()
        if self.hub is not None:
            self.hub.broadcast({"push": "ring"})


class HubEventBus(MemoryEventBus):
    """The API process's bus: the end of a run is also told to the worker children."""

    def __init__(self, replay_seconds: float = 600.0) -> None:
        super().__init__(replay_seconds=replay_seconds)
        self.hub: BusHub | None = None

    async def finish(self, run_id: str, outcome: bytes | None = None) -> None:
        await super().finish(run_id, outcome)
        if self.hub is not None:
            said = None if outcome is None else _text(outcome)
            self.hub.broadcast({"push": "ended", "run": run_id, "outcome": said})


class BusHub:
    """Serves a ``HubBell`` and a ``HubEventBus`` to the processes that connect to ``path``."""

    def __init__(self, path: Path, bell: HubBell, bus: HubEventBus) -> None:
        self.path, self.bell, self.bus = path, bell, bus
        self._clients: dict[asyncio.StreamWriter, dict[str, asyncio.Task[None]]] = {}
        self._ready: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        bell.hub = bus.hub = self
        bus.on_control(self._forward_control)

    async def start(self) -> None:
        self.path.unlink(missing_ok=True)
        self._server = await asyncio.start_unix_server(self._serve, path=str(self.path))
        self.path.chmod(0o600)

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._clients):
            writer.close()
        self.path.unlink(missing_ok=True)

    @property
    def workers_ready(self) -> int:
        """Connected processes that said they are ready (a worker after its prewarm)."""
        return len(self._ready)

    def broadcast(self, frame: Frame) -> None:
        line = json.dumps(frame, separators=(",", ":")).encode() + b"\n"
        for writer in self._clients:
            if not writer.is_closing():
                writer.write(line)

    async def _forward_control(self, run_id: str, action: str) -> None:
        self.broadcast({"push": "control", "run": run_id, "action": action})

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        subscriptions: dict[str, asyncio.Task[None]] = {}
        self._clients[writer] = subscriptions
        try:
            while line := await reader.readline():
                frame = json.loads(line)
                if frame["op"] == "sub":
                    if frame["from_end"] and not frame.get("last"):
                        frame["last"] = self.bus.last_id(frame["run"])  # fixed before any publish
                    subscriptions[frame["sid"]] = asyncio.create_task(
                        self._stream(writer, frame, subscriptions)
                    )
                elif frame["op"] == "unsub":
                    if streaming := subscriptions.get(frame["sid"]):
                        streaming.cancel()
                else:
                    value = await self._call(writer, frame)
                    await _send(writer, {"re": frame["id"], "value": value})
        except (ConnectionError, ValueError, KeyError) as exc:
            log.warning("bus hub: dropping a client: %r", exc)
        finally:
            for task in subscriptions.values():
                task.cancel()
            self._clients.pop(writer, None)
            self._ready.discard(writer)
            writer.close()

    async def _call(self, writer: asyncio.StreamWriter, frame: Frame) -> Any:
        op = frame["op"]
        if op == "publish":
            data, window = _bytes(frame["data"]), bool(frame.get("window"))
            return await self.bus.publish(frame["run"], frame["event"], data, window=window)
        if op == "finish":
            outcome = frame.get("outcome")
            await self.bus.finish(frame["run"], None if outcome is None else _bytes(outcome))
        elif op == "has_stream":
            return await self.bus.has_stream(frame["run"])
        elif op == "control":
            await self.bus.send_control(frame["run"], frame["action"])
        elif op == "ring":
            await self.bell.ring()
        elif op == "ready":
            self._ready.add(writer)
        else:
            raise ValueError(f"unknown op {op!r}")
        return None

    async def _stream(
        self,
        writer: asyncio.StreamWriter,
        frame: Frame,
        subscriptions: dict[str, asyncio.Task[None]],
    ) -> None:
        sid = frame["sid"]
        events = self.bus.subscribe(frame["run"], frame.get("last"), from_end=frame["from_end"])
        try:
            async for item in events:
                push = {"push": "event", "sid": sid, "id": item.id, "event": item.event}
                await _send(writer, push | {"data": _text(item.data)})
            await _send(writer, {"push": "done", "sid": sid})
        except ConnectionError:
            pass
        finally:
            subscriptions.pop(sid, None)


class SocketLink:
    """One connection to a ``BusHub``: calls answered in order of ids, pushes dispatched."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.closed = asyncio.Event()
        self.bell = MemoryBell()
        self.ends = EndWatches()
        self.control_handlers: list[Callable[[str, str], Awaitable[None]]] = []
        self.subscriptions: dict[str, asyncio.Queue[Frame]] = {}
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._handling: set[asyncio.Task[None]] = set()

    async def connect(self) -> None:
        reader, self._writer = await asyncio.open_unix_connection(str(self.path))
        self._reader_task = asyncio.create_task(self._read(reader), name="bus-link")

    async def aclose(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._reader_task is not None:
            self._reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader_task
        self.closed.set()

    async def call(self, op: str, **fields: Any) -> Any:
        if self._writer is None or self.closed.is_set():
            raise ConnectionError("the bus hub is gone")
        call_id = next(self._ids)
        answer = self._waiting[call_id] = asyncio.get_running_loop().create_future()
        try:
            await _send(self._writer, {"op": op, "id": call_id, **fields})
            return await answer
        finally:
            self._waiting.pop(call_id, None)

    async def send(self, frame: Frame) -> None:
        if self._writer is not None and not self.closed.is_set():
            await _send(self._writer, frame)

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while line := await reader.readline():
                self._dispatch(json.loads(line))
        except (ConnectionError, ValueError) as exc:
            log.warning("bus link lost: %r", exc)
        finally:
            self.closed.set()
            for answer in self._waiting.values():
                if not answer.done():
                    answer.set_exception(ConnectionError("the bus hub is gone"))
            for queue in self.subscriptions.values():
                queue.put_nowait({"push": "done"})

    def _dispatch(self, frame: Frame) -> None:
        if "re" in frame:
            answer = self._waiting.get(frame["re"])
            if answer is not None and not answer.done():
                answer.set_result(frame["value"])
            return
        push = frame["push"]
        if push == "ring":
            self.bell.rung()
        elif push == "ended":
            said = frame.get("outcome")
            self.ends.ended(frame["run"], None if said is None else _bytes(said))
        elif push == "control":
            task = asyncio.create_task(self._control(frame["run"], frame["action"]))
            self._handling.add(task)
            task.add_done_callback(self._handling.discard)
        elif (queue := self.subscriptions.get(frame["sid"])) is not None:
            queue.put_nowait(frame)

    async def _control(self, run_id: str, action: str) -> None:
        for handler in list(self.control_handlers):
            try:
                await handler(run_id, action)
            except Exception:
                log.exception("control handler failed for %s (%s)", run_id, action)


class SocketBell:
    def __init__(self, link: SocketLink) -> None:
        self._link = link

    async def ring(self) -> None:
        with contextlib.suppress(ConnectionError):
            await self._link.call("ring")

    async def wait(self, timeout: float) -> bool:
        return await self._link.bell.wait(timeout)


class SocketEventBus:
    def __init__(self, link: SocketLink) -> None:
        self._link = link
        self._sids = itertools.count(1)

    async def publish(self, run_id: str, event: str, data: bytes, *, window: bool = False) -> str:
        sent = _text(data)
        return str(
            await self._link.call("publish", run=run_id, event=event, data=sent, window=window)
        )

    async def finish(self, run_id: str, outcome: bytes | None = None) -> None:
        sent = None if outcome is None else _text(outcome)
        await self._link.call("finish", run=run_id, outcome=sent)

    async def has_stream(self, run_id: str) -> bool:
        return bool(await self._link.call("has_stream", run=run_id))

    async def send_control(self, run_id: str, action: str) -> None:
        await self._link.call("control", run=run_id, action=action)

    def on_control(self, handler: Callable[[str, str], Awaitable[None]]) -> None:
        self._link.control_handlers.append(handler)

    def watch_end(self, run_id: str) -> AbstractContextManager[RunEnd]:
        return self._link.ends.watch(run_id)

    async def ready(self) -> None:
        """Tell the hub this process is ready (the API's /readyz waits for it)."""
        await self._link.call("ready")

    def on_lost(self, callback: Callable[[], object]) -> None:
        """Call ``callback`` once the hub is gone (the API process ended)."""
        waiter = asyncio.create_task(self._link.closed.wait())
        waiter.add_done_callback(lambda _t: callback())

    async def subscribe(
        self, run_id: str, last_event_id: str | None = None, *, from_end: bool = False
    ) -> AsyncIterator[StreamEvent]:
        sid = str(next(self._sids))
        queue: asyncio.Queue[Frame] = asyncio.Queue()
        self._link.subscriptions[sid] = queue
        try:
            await self._link.send(
                {
                    "op": "sub",
                    "sid": sid,
                    "run": run_id,
                    "last": last_event_id,
                    "from_end": from_end,
                }
            )
            while (frame := await queue.get())["push"] == "event":
                yield StreamEvent(frame["id"], frame["event"], _bytes(frame["data"]))
        finally:
            del self._link.subscriptions[sid]
            with contextlib.suppress(ConnectionError):
                await self._link.send({"op": "unsub", "sid": sid})
