"""Execute runs and read or change thread state with LangGraph.

Knows nothing of HTTP, tenants or SQL: it takes a ``RunSpec`` and returns a
``RunResult``; stream parts go to an ``emit`` callback as ``(event, json_data)``
with the LangGraph Server event names (``values``, ``updates``, ``events``, ``debug``,
``custom``, ``messages``, ``checkpoints``, ``tasks``; ``mode|ns`` for subgraphs).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from typing import Any, Literal, cast, get_args

from langchain_core.messages import BaseMessage, BaseMessageChunk, message_chunk_to_message
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.errors import InvalidUpdateError
from langgraph.pregel import Pregel
from langgraph.types import Command, Send, StateSnapshot
from pydantic import TypeAdapter

from service.domain.runs import InterruptSnapshot, RunResult, RunSpec, RunStatus
from service.engine.checkpointer import (
    FENCE_KEY,
    delete_run_checkpoints,
    forget_attempt,
    send_held_writes,
)
from service.engine.jsonable import jsonable
from service.engine.registry import GraphRegistry
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


def _checkpoint_ref(config: RunnableConfig | None) -> dict[str, Any] | None:
    if not config:
        return None
    conf = config.get("configurable", {})
    if not conf.get("checkpoint_id"):
        return None
    return {
        "thread_id": conf.get("thread_id"),
        "checkpoint_ns": conf.get("checkpoint_ns", ""),
        "checkpoint_id": conf.get("checkpoint_id"),
    }


def _interrupt_json(interrupt: Any) -> dict[str, Any]:
    return {"id": interrupt.id, "value": jsonable(interrupt.value)}


def snapshot_json(snapshot: StateSnapshot) -> dict[str, Any]:
    """A ``StateSnapshot`` in the LangGraph Server ``ThreadState`` shape."""
    checkpoint = _checkpoint_ref(snapshot.config)
    parent = _checkpoint_ref(snapshot.parent_config)
    tasks = []
    for task in snapshot.tasks:
        state = task.state
        tasks.append(
            {
                "id": task.id,
                "name": task.name,
                "path": jsonable(task.path),
                "error": repr(task.error) if task.error else None,
                "interrupts": [_interrupt_json(i) for i in task.interrupts],
                "checkpoint": _checkpoint_ref(state) if isinstance(state, dict) else None,
                "state": snapshot_json(state) if isinstance(state, StateSnapshot) else None,
                "result": jsonable(task.result),
            }
        )
    return {
        "values": jsonable(snapshot.values),
        "next": list(snapshot.next),
        "tasks": tasks,
        "metadata": jsonable(snapshot.metadata or {}),
        "created_at": snapshot.created_at,
        "checkpoint": checkpoint or {"thread_id": None, "checkpoint_ns": "", "checkpoint_id": None},
        "parent_checkpoint": parent,
        "interrupts": [_interrupt_json(i) for i in snapshot.interrupts],
        "checkpoint_id": checkpoint["checkpoint_id"] if checkpoint else None,
        "parent_checkpoint_id": parent["checkpoint_id"] if parent else None,
    }


def pending_interrupts(snapshot: StateSnapshot) -> list[InterruptSnapshot]:
    """The interrupts still waiting for an answer, with the task that raised each."""
    waiting = {i.id for i in snapshot.interrupts}
    found = []
    for task in snapshot.tasks:
        for interrupt in task.interrupts:
            if interrupt.id in waiting:
                waiting.discard(interrupt.id)
                found.append(
                    InterruptSnapshot(
                        interrupt_id=interrupt.id,
                        task_id=task.id,
                        node=task.name,
                        value=jsonable(interrupt.value),
                        response_schema=_json_schema(getattr(interrupt, "response_schema", None)),
                    )
                )
    return found


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


def _json_schema(schema: Any) -> dict[str, Any] | None:
    """An interrupt's ``response_schema`` as JSON schema (a checkpoint already holds it so;
    a Python type, as ``interrupt()`` takes it, is converted)."""
    if schema is None:
        return None
    if isinstance(schema, dict):
        return dict(jsonable(schema))
    try:
        return dict(TypeAdapter(schema).json_schema())
    except Exception:  # not a type pydantic can describe: nothing to enforce
        log.info("response_schema of type %s has no JSON schema", type(schema).__name__)
        return None


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

    def graph(self, graph_id: str) -> Pregel[Any, Any]:
        graph = self.registry.get(graph_id)
        if graph is None:
            raise NotFound(f"Graph {graph_id!r} not found.")
        return graph

    # ---- graph description ------------------------------------------------------

    def schemas(self, graph_id: str) -> dict[str, Any]:
        graph = self.graph(graph_id)

        def safe(fn: Callable[[], Any]) -> Any:
            try:
                return jsonable(fn())
            except Exception:  # a graph without a schema of that kind
                return None

        return {
            "graph_id": graph_id,
            "input_schema": safe(graph.get_input_jsonschema),
            "output_schema": safe(graph.get_output_jsonschema),
            "state_schema": safe(lambda: graph.get_input_jsonschema()),
            "config_schema": None,
            "context_schema": safe(graph.get_context_jsonschema),
        }

    def drawable(self, graph_id: str, *, xray: bool | int = False) -> dict[str, Any]:
        drawn = self.graph(graph_id).get_graph(xray=xray)
        return cast(dict[str, Any], jsonable(drawn.to_json()))

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
        graph = self.graph(spec.graph_id)
        config = self._config(spec)
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

    async def current(self, thread_id: str, graph_id: str, status: RunStatus) -> RunResult:
        """The thread as it stands now, e.g. after a cancelled run or a state update."""
        snapshot = await self.graph(graph_id).aget_state({"configurable": {"thread_id": thread_id}})
        return self._result(status, snapshot)

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
        snapshot = await self.graph(graph_id).aget_state(
            {"configurable": configurable}, subgraphs=subgraphs
        )
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
    ) -> list[dict[str, Any]]:
        configurable: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": ""}
        if checkpoint_id:
            configurable["checkpoint_id"] = checkpoint_id
        before_config = (
            cast(RunnableConfig, {"configurable": {"checkpoint_id": before}}) if before else None
        )
        return [
            snapshot_json(snapshot)
            async for snapshot in self.graph(graph_id).aget_state_history(
                {"configurable": configurable},
                filter=metadata or None,
                before=before_config,
                limit=limit,
            )
        ]

    async def update_state(
        self,
        thread_id: str,
        graph_id: str,
        *,
        values: Any,
        as_node: str | None,
        checkpoint_id: str | None = None,
    ) -> tuple[dict[str, Any], RunResult]:
        graph = self.graph(graph_id)
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
            graph = self.graph(graph_id).copy(update={"checkpointer": InMemorySaver()})
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

    async def rollback(self, thread_id: str, run_id: str) -> None:
        """Forget what one run wrote: the thread returns to its state before the run."""
        await delete_run_checkpoints(self.checkpointer, thread_id, run_id)
