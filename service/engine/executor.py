"""Execute runs and read or change thread state with LangGraph.

Knows nothing of HTTP, tenants or SQL: it takes a ``RunSpec`` and returns a
``RunResult``; stream parts go to an ``emit`` callback as ``(event, json_data)``
with the LangGraph Server event names (``values``, ``updates``, ``events``, ``debug``,
``custom``, ``messages``, ``checkpoints``, ``tasks``; ``mode|ns`` for subgraphs).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from contextlib import aclosing, asynccontextmanager
from typing import Any, Literal, cast, get_args

from langchain_core.messages import BaseMessage, BaseMessageChunk, message_chunk_to_message
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.errors import InvalidUpdateError
from langgraph.pregel import Pregel
from langgraph.types import Command, Send, StateSnapshot

from service.domain.runs import RunResult, RunSpec, RunStatus
from service.engine import describe, subgraph_state, thread_copy
from service.engine.checkpointer import (
    FENCE_KEY,
    delete_run_checkpoints,
    forget_attempt,
    send_held_writes,
)
from service.engine.factories import Access, GraphConfigError
from service.engine.jsonable import jsonable
from service.engine.registry import GraphRegistry
from service.engine.snapshots import checkpoint_ref as _checkpoint_ref
from service.engine.snapshots import pending_interrupts, snapshot_json
from service.errors import FencedWrite, InvalidInput, NotFound, Unavailable

log = logging.getLogger(__name__)

Emit = Callable[[str, Any], Awaitable[None]]
STEP_DONE = "__step__"  # internal marker: a node of the root graph finished

StreamModeName = Literal[
    "values",
    "updates",
    "events",
    "debug",
    "custom",
    "messages",
    "messages-tuple",
    "checkpoints",
    "tasks",
]
SUPPORTED_MODES = frozenset(get_args(StreamModeName))


def _accumulated(data: Any, seen: dict[str, BaseMessage]) -> list[tuple[str, Any]]:
    """LangGraph Server's ``messages`` mode: a message's metadata when it first appears, then
    the message so far (``messages/partial``) or whole (``messages/complete``)."""
    message, metadata = data
    if not isinstance(message, BaseMessage):
        return []
    events: list[tuple[str, Any]] = []
    key = message.id or ""
    previous = seen.get(key)
    if isinstance(previous, BaseMessageChunk) and isinstance(message, BaseMessageChunk):
        seen[key] = previous + message  # chunks add up
    elif previous is not None:
        seen[key] = message  # a whole message replaces what streamed before it
    else:
        seen[key] = message
        events.append(("messages/metadata", {key: {"metadata": jsonable(metadata)}}))
    kind = "messages/partial" if isinstance(message, BaseMessageChunk) else "messages/complete"
    events.append((kind, [jsonable(message_chunk_to_message(seen[key]))]))
    return events


def _command(raw: dict[str, Any]) -> Command[Any]:
    goto = raw.get("goto")
    if isinstance(goto, dict):
        goto = Send(goto["node"], goto.get("input"))
    elif isinstance(goto, list):
        goto = [Send(g["node"], g.get("input")) if isinstance(g, dict) else g for g in goto]
    update = raw.get("update")
    if isinstance(update, list):
        update = [tuple(item) for item in update]
    return Command(
        resume=raw.get("resume"),
        update=update,
        goto=goto if goto is not None else (),
    )


class GraphEngine:
    def __init__(self, registry: GraphRegistry, checkpointer: BaseCheckpointSaver[Any]) -> None:
        self.registry = registry
        self.checkpointer = checkpointer

    @property
    def graph_ids(self) -> list[str]:
        return self.registry.graph_ids

    @asynccontextmanager
    async def graph(
        self,
        graph_id: str,
        config: Any = None,
        access: Access = "threads.read",
        context: Any = None,
    ) -> AsyncIterator[Pregel[Any, Any]]:
        """The graph for one use (a factory's is built for ``config``: ``registry.build``)."""
        async with self.registry.build(graph_id, config, access=access, context=context) as graph:
            if graph is None:
                raise NotFound(f"Graph {graph_id!r} not found.")
            yield graph

    # ---- graph description (a factory's graph built with the assistant's config) --------

    async def schemas(self, graph_id: str, config: Any = None) -> dict[str, Any]:
        async with self.graph(graph_id, config, "assistants.read") as graph:
            return {"graph_id": graph_id, **describe.graph_schemas(graph)}

    async def drawable(
        self, graph_id: str, *, xray: bool | int = False, config: Any = None
    ) -> dict[str, Any]:
        async with self.graph(graph_id, config, "assistants.read") as graph:
            return describe.drawable(graph, xray)

    async def subgraphs(
        self, graph_id: str, *, namespace: str | None, recurse: bool, config: Any = None
    ) -> dict[str, Any]:
        async with self.graph(graph_id, config, "assistants.read") as graph:
            return await describe.subgraph_schemas(graph, namespace=namespace, recurse=recurse)

    # ---- execution -----------------------------------------------------------------

    def _config(self, spec: RunSpec) -> RunnableConfig:
        base = dict(spec.config or {})
        configurable = dict(base.get("configurable") or {})
        configurable.update(
            {
                "thread_id": spec.thread_id,
                "run_id": spec.run_id,
                "graph_id": spec.graph_id,
                "assistant_id": spec.assistant_id,
                "run_attempt": spec.attempt,
                FENCE_KEY: (spec.run_id, spec.fence),
            }
        )
        if spec.checkpoint_id:
            configurable["checkpoint_id"] = spec.checkpoint_id
        metadata = {**(base.get("metadata") or {}), **spec.metadata, "run_id": spec.run_id}
        config: dict[str, Any] = {
            **base,
            "configurable": configurable,
            "metadata": metadata,
            "run_id": spec.run_id,
        }
        return cast(RunnableConfig, config)

    async def execute(
        self, spec: RunSpec, emit: Emit, on_step: Callable[[], None] | None = None
    ) -> RunResult:
        """Run the graph to its end or next interrupt; ``on_step`` is told of each node done."""
        config = self._config(spec)
        try:
            async with self.graph(spec.graph_id, config, "threads.create_run", spec.context) as g:
                return await self._execute(g, spec, config, emit, on_step)
        except GraphConfigError as exc:  # its factory failed: the run's error, not a retry
            error = {"error": type(exc).__name__, "message": str(exc)}
            await emit("error", error)
            try:
                return await self.current(spec.thread_id, spec.graph_id, RunStatus.error, error)
            except GraphConfigError:  # it cannot build a graph to read the state with either
                return RunResult(status=RunStatus.error, error=error)

    async def _execute(
        self,
        graph: Pregel[Any, Any],
        spec: RunSpec,
        config: RunnableConfig,
        emit: Emit,
        on_step: Callable[[], None] | None,
    ) -> RunResult:
        fence = (spec.run_id, spec.fence)
        requested = set(spec.stream_mode) & SUPPORTED_MODES
        modes = {"messages" if m == "messages-tuple" else m for m in requested} - {"events"}
        # "messages-tuple": LangGraph's (chunk, metadata) pairs as they come; "messages": the
        # Server's accumulated form (messages/metadata, messages/partial, messages/complete)
        modes.add("updates")  # interrupts always reach the client, as the Server does
        graph_input: Any = _command(spec.command) if spec.command else spec.input
        kwargs: dict[str, Any] = {
            "stream_mode": sorted(modes),
            "subgraphs": spec.stream_subgraphs,
            "interrupt_before": spec.interrupt_before,
            "interrupt_after": spec.interrupt_after,
        }
        if spec.durability:
            kwargs["durability"] = spec.durability
        if spec.context is not None:
            kwargs["context"] = spec.context
        error: dict[str, Any] | None = None
        try:
            try:
                async for event, data in self._stream(
                    graph, graph_input, config, kwargs, requested
                ):
                    if event == STEP_DONE:
                        if on_step is not None:
                            on_step()
                        continue
                    await emit(event, data)
            except (asyncio.CancelledError, FencedWrite, Unavailable):
                # cancelled, this attempt lost its lease, or the checkpoint store failed under
                # it: the attempt stops without reporting, and the run is retried if it should
                await send_held_writes(self.checkpointer, fence, quietly=True)
                raise
            except Exception as exc:
                log.info("run %s failed: %s", spec.run_id, type(exc).__name__)
                error = {"error": type(exc).__name__, "message": str(exc)}
                await emit("error", error)
            await send_held_writes(self.checkpointer, fence)  # e.g. the writes of an interrupt
            # the newest checkpoint is the one this attempt wrote last: read from the saver's
            # memory of it when it has one (``last_checkpoint``)
            snapshot = await graph.aget_state(
                {"configurable": {"thread_id": spec.thread_id, FENCE_KEY: fence}}
            )
        finally:
            forget_attempt(self.checkpointer, fence)
        return self._result(RunStatus.error if error else RunStatus.success, snapshot, error)

    async def _stream(
        self,
        graph: Pregel[Any, Any],
        graph_input: Any,
        config: RunnableConfig,
        kwargs: dict[str, Any],
        requested: set[str],
    ) -> AsyncIterator[tuple[str, Any]]:
        subgraphs = kwargs["subgraphs"]
        seen: dict[str, BaseMessage] = {}  # message id -> chunks so far ("messages" mode)
        if "events" in requested:
            run_id = config.get("run_id")
            events = cast(
                AsyncGenerator[dict[str, Any], None],
                graph.astream_events(graph_input, config, version="v2", **kwargs),
            )
            async with aclosing(events):
                async for event in events:
                    if "langsmith:hidden" in (event.get("tags") or []):
                        continue
                    if event["event"] == "on_chain_stream" and event.get("run_id") == str(run_id):
                        chunk = event["data"]["chunk"]
                        parts = chunk if subgraphs else (None, *chunk)
                        for item in self._forward(*parts, requested=requested, seen=seen):
                            yield item
                    else:
                        yield "events", jsonable(event)
            return
        stream = cast(AsyncGenerator[Any, None], graph.astream(graph_input, config, **kwargs))
        async with aclosing(stream):
            async for chunk in stream:
                parts = chunk if subgraphs else (None, *chunk)
                for item in self._forward(*parts, requested=requested, seen=seen):
                    yield item

    @staticmethod
    def _forward(
        ns: Any, mode: str, data: Any, *, requested: set[str], seen: dict[str, BaseMessage]
    ) -> list[tuple[str, Any]]:
        """The client events of one chunk, after an internal step marker for node updates."""
        out: list[tuple[str, Any]] = [(STEP_DONE, None)] if mode == "updates" and not ns else []
        suffix = f"|{'|'.join(ns)}" if ns else ""
        if mode == "messages":
            if "messages-tuple" in requested:
                out.append((f"messages{suffix}", jsonable(data)))
            if "messages" in requested:
                out.extend(_accumulated(data, seen))
        elif mode in requested:
            out.append((f"{mode}{suffix}", jsonable(data)))
        elif mode == "updates" and isinstance(data, dict) and data.get("__interrupt__"):
            out.append((f"values{suffix}", jsonable(data)))
        return out

    def _result(
        self, status: RunStatus, snapshot: StateSnapshot, error: dict[str, Any] | None = None
    ) -> RunResult:
        view = snapshot_json(snapshot)
        return RunResult(
            status=status,
            values=view.pop("values"),
            interrupts=pending_interrupts(snapshot),
            error=error,
            checkpoint_id=view["checkpoint_id"],
            view=view,
        )

    async def current(
        self, thread_id: str, graph_id: str, status: RunStatus, error: Any = None
    ) -> RunResult:
        """The thread as it stands now, e.g. after a cancelled run or a state update."""
        config: RunnableConfig = {"configurable": {"thread_id": thread_id}}
        async with self.graph(graph_id, config) as graph:
            snapshot = await graph.aget_state(config)
        return self._result(status, snapshot, error)

    # ---- thread state --------------------------------------------------------------

    async def get_state(
        self,
        thread_id: str,
        graph_id: str,
        *,
        checkpoint_id: str | None = None,
        checkpoint_ns: str = "",
        subgraphs: bool = False,
    ) -> dict[str, Any]:
        configurable: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": checkpoint_ns}
        if checkpoint_id:
            configurable["checkpoint_id"] = checkpoint_id
        async with self.graph(graph_id, {"configurable": configurable}) as graph:
            snapshot = await subgraph_state.read(graph, configurable, subgraphs=subgraphs)
        if checkpoint_id and snapshot.created_at is None:
            raise NotFound("Checkpoint not found.")
        return snapshot_json(snapshot)

    async def has_checkpoint(self, thread_id: str, checkpoint_id: str) -> bool:
        """Whether ``checkpoint_id`` is one of this thread's checkpoints."""
        config: RunnableConfig = {
            "configurable": {
                "thread_id": thread_id,
                "checkpoint_ns": "",
                "checkpoint_id": checkpoint_id,
            }
        }
        return await self.checkpointer.aget_tuple(config) is not None

    async def history(
        self,
        thread_id: str,
        graph_id: str,
        *,
        limit: int,
        before: str | None = None,
        metadata: dict[str, Any] | None = None,
        checkpoint_id: str | None = None,
        checkpoint_ns: str = "",
    ) -> list[dict[str, Any]]:
        configurable: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": checkpoint_ns}
        if checkpoint_id:
            configurable["checkpoint_id"] = checkpoint_id
        before_config = (
            cast(RunnableConfig, {"configurable": {"checkpoint_id": before}}) if before else None
        )
        async with self.graph(graph_id, {"configurable": configurable}) as graph:
            return await subgraph_state.history(
                graph, configurable, filter=metadata or None, before=before_config, limit=limit
            )

    async def update_state(
        self,
        thread_id: str,
        graph_id: str,
        *,
        values: Any,
        as_node: str | None,
        checkpoint_id: str | None = None,
    ) -> tuple[dict[str, Any], RunResult]:
        async with self.graph(graph_id, None, "threads.update") as graph:
            return await self._update_state(graph, thread_id, values, as_node, checkpoint_id)

    async def _update_state(
        self,
        graph: Pregel[Any, Any],
        thread_id: str,
        values: Any,
        as_node: str | None,
        checkpoint_id: str | None,
    ) -> tuple[dict[str, Any], RunResult]:
        configurable: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": ""}
        if checkpoint_id:
            configurable["checkpoint_id"] = checkpoint_id
        if (
            as_node is not None
            and as_node not in graph.nodes
            and as_node
            not in (
                "__start__",
                "__end__",
                "__input__",
                "__copy__",
            )
        ):
            raise InvalidInput(f"Unknown node {as_node!r} for as_node.")
        try:
            new_config = await graph.aupdate_state(
                {"configurable": configurable}, values, as_node=as_node
            )
        except (ValueError, KeyError, TypeError, InvalidUpdateError) as exc:
            # e.g. a list or a string for a StateGraph (an @entrypoint takes any value)
            reason = str(exc).split("\n", 1)[0]
            raise InvalidInput(f"Cannot update state: {reason}") from exc
        ref = _checkpoint_ref(new_config) or {}
        snapshot = await graph.aget_state({"configurable": {"thread_id": thread_id}})
        return ref, self._result(RunStatus.success, snapshot)

    async def prewarm(self) -> None:
        """Run every graph once on an in-memory checkpointer, so the first real run is warm."""
        for graph_id in self.graph_ids:
            compiled = self.registry.get(graph_id)
            if compiled is None:  # a factory: built per run, nothing to warm
                continue
            graph = compiled.copy(update={"checkpointer": InMemorySaver()})
            config: RunnableConfig = {"configurable": {"thread_id": f"prewarm-{graph_id}"}}
            try:
                await asyncio.wait_for(graph.ainvoke({}, config), timeout=10)
            except Exception as exc:  # a graph that needs real input still got imported and built
                log.info("prewarm of %s stopped early: %s", graph_id, type(exc).__name__)
        await self.checkpointer.aget_tuple(
            {"configurable": {"thread_id": "prewarm", "checkpoint_ns": ""}}
        )

    async def delete_thread(self, thread_id: str) -> None:
        await self.checkpointer.adelete_thread(thread_id)

    async def copy_thread(self, source: str, target: str) -> None:
        await thread_copy.copy_thread(self.checkpointer, source, target)

    async def keep_latest(self, thread_ids: Sequence[str]) -> None:
        await thread_copy.keep_latest(self.checkpointer, thread_ids)

    async def rollback(self, thread_id: str, run_id: str) -> None:
        """Forget what one run wrote: the thread returns to its state before the run."""
        await delete_run_checkpoints(self.checkpointer, thread_id, run_id)
