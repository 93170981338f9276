"""The thread-centric streaming protocol (``client.threads.stream``): a run's stream parts
as protocol events, subscription filters, and the numbering that lets a client resume.

Pure: no I/O. ``RunTranslator`` turns the events a run published on the bus (LangGraph Server
stream parts: ``values``, ``updates``, ``messages`` as ``(chunk, metadata)`` pairs, ``custom``,
``tasks``, ``checkpoints``; ``mode|ns`` inside subgraphs) into protocol events
(``{"type": "event", "method", "params": {"namespace", "timestamp", "data"}, "seq",
"event_id"}``), the same way on every replay, so a client that resumes ``since`` a ``seq``
gets exactly the events after it.

Numbering: ``seq = base(run) + n``, ``n`` counting the run's protocol events from 1, and
``base`` the milliseconds between the thread's creation and the run's, times ``RUN_SPAN``: a
thread's runs number their events one after another, in the order they were created.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

RUN_SPAN = 1 << 16  # seqs a run may use before the next millisecond's run
CHANNELS = frozenset(
    {"values", "updates", "messages", "tools", "lifecycle", "input", "checkpoints", "tasks"}
)
CUSTOM = "custom"
# the stream modes a session's runs are created with (subgraphs on: events carry namespaces)
SESSION_STREAM_MODES = ["values", "updates", "messages-tuple", "custom", "tasks", "checkpoints"]
_METHOD_CHANNEL = {"input.requested": "input"}
_AI = frozenset({"ai", "AIMessageChunk"})
_ROLES = {"human": "human", "HumanMessageChunk": "human", "system": "system"}


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def run_base(thread_created: datetime, run_created: datetime) -> int:
    """The seq just before the run's first event."""
    millis = (_utc(run_created) - _utc(thread_created)).total_seconds() * 1000
    return max(0, int(millis)) * RUN_SPAN


def valid_channel(channel: str) -> bool:
    return channel in CHANNELS or channel == CUSTOM or channel.startswith(f"{CUSTOM}:")


@dataclass(frozen=True)
class EventFilter:
    """What one event stream asked for (``SubscribeParams``)."""

    channels: frozenset[str]
    namespaces: tuple[tuple[str, ...], ...] | None = None
    depth: int | None = None

    def matches(self, event: Mapping[str, Any]) -> bool:
        channel = channel_of(event)
        if channel is None:
            return False
        if channel not in self.channels and not (
            channel.startswith(f"{CUSTOM}:") and CUSTOM in self.channels
        ):
            return False
        if not self.namespaces:
            return True
        namespace = tuple(event["params"]["namespace"])
        return any(self._under(namespace, prefix) for prefix in self.namespaces)

    def _under(self, namespace: tuple[str, ...], prefix: tuple[str, ...]) -> bool:
        if len(prefix) > len(namespace):
            return False
        for want, got in zip(prefix, namespace, strict=False):
            # a segment without a task id matches any task of that node ("child" ~ "child:1")
            if want != got and (":" in want or got.partition(":")[0] != want):
                return False
        return self.depth is None or len(namespace) - len(prefix) <= self.depth


def channel_of(event: Mapping[str, Any]) -> str | None:
    method = str(event.get("method"))
    if method == CUSTOM:
        data = event["params"].get("data")
        name = data.get("name") if isinstance(data, dict) else None
        return f"{CUSTOM}:{name}" if isinstance(name, str) and name else CUSTOM
    channel = _METHOD_CHANNEL.get(method, method)
    return channel if channel in CHANNELS else None


@dataclass
class _Message:
    role: str
    text: str = ""
    text_open: bool = False
    calls: dict[int, dict[str, Any]] = field(default_factory=dict)  # block index -> call
    node: str | None = None
    usage: Any = None


@dataclass
class RunTranslator:
    """One run's bus events -> protocol events, numbered from ``base``."""

    run_id: str
    base: int
    graph_id: str
    n: int = 0
    started: bool = False
    error: str | None = None
    interrupt_ids: set[str] = field(default_factory=set)
    tool_calls: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> {name, args}
    tools_done: set[str] = field(default_factory=set)
    open_messages: dict[tuple[tuple[str, ...], str], _Message] = field(default_factory=dict)

    def feed(self, name: str, raw: bytes) -> list[dict[str, Any]]:
        mode, *ns = name.split("|")
        namespace = tuple(ns)
        data = orjson.loads(raw) if raw else None
        out = self._start()
        if mode == "values":
            out.append(self._event("values", namespace, data))
        elif mode == "updates" and isinstance(data, dict):
            out.extend(self._updates(namespace, data))
        elif mode == "messages" and isinstance(data, list) and len(data) == 2:
            out.extend(self._message(namespace, data[0], data[1]))
        elif mode == CUSTOM:
            payload: dict[str, Any] = {"payload": data}
            if isinstance(data, dict) and isinstance(data.get("name"), str):
                payload["name"] = data["name"]
            out.append(self._event(CUSTOM, namespace, payload))
        elif mode == "tasks":
            out.append(self._event("tasks", namespace, data))
        elif mode == "checkpoints" and isinstance(data, dict):
            out.append(self._event("checkpoints", namespace, _checkpoint(data)))
        elif mode == "error":
            detail = data if isinstance(data, dict) else {}
            self.error = ": ".join(
                str(v) for v in (detail.get("error"), detail.get("message")) if v
            )
        return out

    def finish(self, status: str, interrupted: bool, error: Any = None) -> list[dict[str, Any]]:
        """The run ended with ``status`` (the ledger's); ``interrupted``: it stopped at
        interrupts it still waits on. Closes open messages, then the run's lifecycle."""
        out = self._start()
        for key in list(self.open_messages):
            out.extend(self._close_message(key))
        data: dict[str, Any] = {"event": "completed", "graph_name": self.graph_id}
        if status == "success" and interrupted:
            data["event"] = "interrupted"
        elif status != "success":
            data["event"] = "failed"
            data["error"] = self.error or _error_text(error) or f"Run ended {status}."
        out.append(self._event("lifecycle", (), data))
        return out

    # ---- events ------------------------------------------------------------------

    def _event(self, method: str, namespace: tuple[str, ...], data: Any) -> dict[str, Any]:
        self.n += 1
        return {
            "type": "event",
            "event_id": f"{self.run_id}.{self.n}",
            "seq": self.base + self.n,
            "method": method,
            "params": {
                "namespace": list(namespace),
                "timestamp": int(time.time() * 1000),
                "data": data,
            },
        }

    def _start(self) -> list[dict[str, Any]]:
        if self.started:
            return []
        self.started = True
        return [self._event("lifecycle", (), {"event": "started", "graph_name": self.graph_id})]

    def _updates(self, namespace: tuple[str, ...], data: dict[str, Any]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for node, values in data.items():
            if node == "__interrupt__":
                out.extend(self._interrupts(namespace, values))
                continue
            for key, message in list(self.open_messages.items()):
                if key[0] == namespace and message.node == node:  # the node is done
                    out.extend(self._close_message(key))
            out.append(self._event("updates", namespace, {"node": node, "values": values or {}}))
        return out

    def _interrupts(self, namespace: tuple[str, ...], found: Any) -> list[dict[str, Any]]:
        out = []
        for item in found if isinstance(found, list) else []:
            interrupt_id = item.get("id") if isinstance(item, dict) else None
            if not isinstance(interrupt_id, str) or interrupt_id in self.interrupt_ids:
                continue
            self.interrupt_ids.add(interrupt_id)
            value = item.get("value")
            data = {"interrupt_id": interrupt_id, "payload": value, "value": value}
            out.append(self._event("input.requested", namespace, data))
        return out

    # ---- messages and tool calls ---------------------------------------------------

    def _message(self, namespace: tuple[str, ...], message: Any, meta: Any) -> list[dict[str, Any]]:
        if not isinstance(message, dict):
            return []
        kind = str(message.get("type"))
        if kind == "tool":
            return self._tool_result(namespace, message)
        role = "ai" if kind in _AI else _ROLES.get(kind)
        message_id = message.get("id")
        if role is None or not isinstance(message_id, str):
            return []
        key = (namespace, message_id)
        out: list[dict[str, Any]] = []
        current = self.open_messages.get(key)
        if current is None:
            node = meta.get("langgraph_node") if isinstance(meta, dict) else None
            current = _Message(role=role, node=node if isinstance(node, str) else None)
            self.open_messages[key] = current
            start: dict[str, Any] = {"event": "message-start", "role": role, "id": message_id}
            if current.node:
                start["metadata"] = {"langgraph_node": current.node}
            out.append(self._event("messages", namespace, start))
        out.extend(self._text(namespace, current, _text_of(message.get("content"))))
        out.extend(self._calls(namespace, current, message))
        if message.get("usage_metadata"):
            current.usage = message["usage_metadata"]
        for call in message.get("tool_calls") or []:
            if isinstance(call, dict) and isinstance(call.get("id"), str):
                self.tool_calls[call["id"]] = {"name": call.get("name"), "args": call.get("args")}
        if kind != "AIMessageChunk" or message.get("chunk_position") == "last":
            out.extend(self._close_message(key))
        return out

    def _text(
        self, namespace: tuple[str, ...], current: _Message, text: str
    ) -> list[dict[str, Any]]:
        if not text:
            return []
        out = []
        if not current.text_open:
            current.text_open = True
            start = {
                "event": "content-block-start",
                "index": 0,
                "content": {"type": "text", "text": ""},
            }
            out.append(self._event("messages", namespace, start))
        current.text += text
        delta = {
            "event": "content-block-delta",
            "index": 0,
            "delta": {"type": "text-delta", "text": text},
        }
        out.append(self._event("messages", namespace, delta))
        return out

    def _calls(
        self, namespace: tuple[str, ...], current: _Message, message: dict[str, Any]
    ) -> list[dict[str, Any]]:
        chunks = message.get("tool_call_chunks") or []
        if not chunks and message.get("type") == "ai":  # a whole message: its calls at once
            chunks = [
                {**call, "args": orjson.dumps(call.get("args") or {}).decode(), "index": i}
                for i, call in enumerate(message.get("tool_calls") or [])
                if isinstance(call, dict)
            ]
        out = []
        for position, chunk in enumerate(chunks):
            if not isinstance(chunk, dict):
                continue
            raw_index = chunk.get("index")
            index = 1 + (raw_index if isinstance(raw_index, int) else position)
            args = chunk.get("args") if isinstance(chunk.get("args"), str) else ""
            call = current.calls.get(index)
            if call is None:
                call = {"id": chunk.get("id"), "name": chunk.get("name"), "args": ""}
                current.calls[index] = call
                block = {"type": "tool_call_chunk", **call, "index": index - 1}
                start = {"event": "content-block-start", "index": index, "content": block}
                out.append(self._event("messages", namespace, start))
            call["id"] = call["id"] or chunk.get("id")
            call["name"] = call["name"] or chunk.get("name")
            if args:
                call["args"] += args
                delta = {
                    "event": "content-block-delta",
                    "index": index,
                    "delta": {"type": "tool-call-delta", "args": args},
                }
                out.append(self._event("messages", namespace, delta))
        return out

    def _close_message(self, key: tuple[tuple[str, ...], str]) -> list[dict[str, Any]]:
        current = self.open_messages.pop(key, None)
        if current is None:
            return []
        namespace = key[0]
        out = []
        if current.text_open:
            block = {"type": "text", "text": current.text}
            done = {"event": "content-block-finish", "index": 0, "content": block}
            out.append(self._event("messages", namespace, done))
        for index, call in sorted(current.calls.items()):
            args = _json_object(call["args"])
            block = {"type": "tool_call", "id": call["id"], "name": call["name"], "args": args}
            done = {"event": "content-block-finish", "index": index, "content": block}
            out.append(self._event("messages", namespace, done))
            if isinstance(call["id"], str):
                self.tool_calls[call["id"]] = {"name": call["name"], "args": args}
        finish: dict[str, Any] = {"event": "message-finish"}
        if isinstance(current.usage, dict):
            finish["usage"] = current.usage
        out.append(self._event("messages", namespace, finish))
        return out

    def _tool_result(
        self, namespace: tuple[str, ...], message: dict[str, Any]
    ) -> list[dict[str, Any]]:
        call_id = message.get("tool_call_id")
        if not isinstance(call_id, str) or call_id in self.tools_done:
            return []
        self.tools_done.add(call_id)
        call = self.tool_calls.get(call_id, {})
        name = message.get("name") or call.get("name") or ""
        started = {"event": "tool-started", "tool_call_id": call_id, "tool_name": name}
        if call.get("args") is not None:
            started["input"] = call["args"]
        if message.get("status") == "error":
            text = _text_of(message.get("content"))
            end: dict[str, Any] = {"event": "tool-error", "tool_call_id": call_id, "message": text}
        else:
            end = {
                "event": "tool-finished",
                "tool_call_id": call_id,
                "output": message.get("content"),
            }
        return [self._event("tools", namespace, started), self._event("tools", namespace, end)]


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: Iterable[Any] = content
        return "".join(
            p if isinstance(p, str) else str(p.get("text", ""))
            for p in parts
            if isinstance(p, str) or (isinstance(p, dict) and p.get("type") == "text")
        )
    return ""


def _json_object(raw: str) -> Any:
    try:
        return orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError:
        return {}


def _error_text(error: Any) -> str | None:
    if isinstance(error, dict):
        return ": ".join(str(v) for v in (error.get("error"), error.get("message")) if v) or None
    return str(error) if error else None


def _checkpoint(data: dict[str, Any]) -> dict[str, Any]:
    """LangGraph's checkpoint part as the protocol's ``Checkpoint``: id, parent, step, source."""
    config = data.get("config") or {}
    parent = data.get("parent_config") or {}
    metadata = data.get("metadata") or {}
    out: dict[str, Any] = {
        "id": (config.get("configurable") or {}).get("checkpoint_id"),
        "step": metadata.get("step"),
        "source": metadata.get("source"),
    }
    parent_id = (parent.get("configurable") or {}).get("checkpoint_id")
    if parent_id:
        out["parent_id"] = parent_id
    return out
