"""The thread-streaming protocol mapping: a run's stream parts as protocol events, their
numbering, and the filters of event streams."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from service.services.session_protocol import RUN_SPAN, EventFilter, RunTranslator, run_base

META = {"langgraph_node": "model"}


def chunk(text: str, **extra: Any) -> bytes:
    message = {"type": "AIMessageChunk", "id": "m1", "content": text, **extra}
    return orjson.dumps([message, META])


def translate(parts: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    translator = RunTranslator(run_id="r1", base=1000, graph_id="agent")
    out = []
    for name, data in parts:
        raw = data if isinstance(data, bytes) else orjson.dumps(data)
        out.extend(translator.feed(name, raw))
    out.extend(translator.finish("success", interrupted=bool(translator.interrupt_ids)))
    return out


def data_of(events: list[dict[str, Any]], method: str) -> list[Any]:
    return [e["params"]["data"] for e in events if e["method"] == method]


def test_a_streamed_message_and_its_tool_call() -> None:
    call = {"name": "lookup", "args": '{"id": 1}', "id": "c1", "index": 0}
    events = translate(
        [
            ("metadata", {"run_id": "r1"}),
            ("messages", chunk("Hel")),
            ("messages", chunk("lo")),
            ("messages", chunk("", tool_call_chunks=[call], chunk_position="last")),
            ("updates", {"model": {"messages": []}}),
            (
                "messages",
                [{"type": "tool", "tool_call_id": "c1", "name": "lookup", "content": "ok"}, {}],
            ),
        ]
    )
    messages = data_of(events, "messages")
    assert [m["event"] for m in messages] == [
        "message-start",
        "content-block-start",
        "content-block-delta",
        "content-block-delta",
        "content-block-start",
        "content-block-delta",
        "content-block-finish",
        "content-block-finish",
        "message-finish",
    ]
    assert messages[0] == {
        "event": "message-start",
        "role": "ai",
        "id": "m1",
        "metadata": {"langgraph_node": "model"},
    }
    assert messages[6]["content"] == {"type": "text", "text": "Hello"}
    assert messages[7]["content"] == {
        "type": "tool_call",
        "id": "c1",
        "name": "lookup",
        "args": {"id": 1},
    }
    tools = data_of(events, "tools")
    assert tools[0] == {
        "event": "tool-started",
        "tool_call_id": "c1",
        "tool_name": "lookup",
        "input": {"id": 1},
    }
    assert tools[1] == {"event": "tool-finished", "tool_call_id": "c1", "output": "ok"}
    lifecycle = data_of(events, "lifecycle")
    assert [e["event"] for e in lifecycle] == ["started", "completed"]
    assert [e["seq"] for e in events] == list(range(1001, 1001 + len(events)))
    assert len({e["event_id"] for e in events}) == len(events)


def test_a_message_left_open_is_finished_before_the_run_ends() -> None:
    events = translate([("messages", chunk("partial"))])
    kinds = [(e["method"], e["params"]["data"]["event"]) for e in events]
    assert kinds[-3:] == [
        ("messages", "content-block-finish"),
        ("messages", "message-finish"),
        ("lifecycle", "completed"),
    ]


def test_interrupts_are_input_requests_once_each_and_the_run_is_interrupted() -> None:
    found = {"__interrupt__": [{"id": "i1", "value": {"q": "ok?"}}]}
    events = translate([("updates", found), ("updates|child:1", found), ("values", {"a": 1})])
    (request,) = [e for e in events if e["method"] == "input.requested"]
    assert request["params"]["data"] == {
        "interrupt_id": "i1",
        "payload": {"q": "ok?"},
        "value": {"q": "ok?"},
    }
    assert data_of(events, "lifecycle")[-1]["event"] == "interrupted"
    assert data_of(events, "values") == [{"a": 1}]


def test_a_failed_run_says_why() -> None:
    translator = RunTranslator(run_id="r1", base=0, graph_id="g")
    translator.feed("error", orjson.dumps({"error": "ValueError", "message": "boom"}))
    (end,) = translator.finish("error", interrupted=False)
    assert end["params"]["data"] == {
        "event": "failed",
        "graph_name": "g",
        "error": "ValueError: boom",
    }


def test_the_same_parts_give_the_same_events() -> None:
    parts: list[tuple[str, Any]] = [("values", {"a": 1}), ("custom", {"name": "progress", "n": 1})]
    first, second = translate(parts), translate(parts)
    strip = [{k: v for k, v in e.items() if k != "params"} for e in first]
    assert strip == [{k: v for k, v in e.items() if k != "params"} for e in second]
    (custom,) = [e for e in first if e["method"] == "custom"]
    assert custom["params"]["data"] == {"payload": {"name": "progress", "n": 1}, "name": "progress"}


def test_runs_number_their_events_in_the_order_they_were_created() -> None:
    created = datetime(2026, 1, 1, tzinfo=UTC)
    first = run_base(created, created + timedelta(milliseconds=5))
    second = run_base(created, created + timedelta(milliseconds=6))
    assert first + RUN_SPAN <= second
    assert run_base(created, created.replace(tzinfo=None)) == 0  # SQLite's naive datetimes
    assert second < 2**53  # a JavaScript number


def event(method: str, namespace: list[str], data: Any = None) -> dict[str, Any]:
    return {"method": method, "params": {"namespace": namespace, "data": data or {}}}


def test_filters_by_channel_namespace_and_depth() -> None:
    everything = EventFilter(frozenset({"values", "custom", "input"}))
    assert everything.matches(event("values", ["a:1", "b"]))
    assert everything.matches(event("custom", [], {"name": "x"}))
    assert everything.matches(event("input.requested", []))
    assert not everything.matches(event("updates", []))
    assert not everything.matches(event("made-up", []))
    named = EventFilter(frozenset({"custom:x"}))
    assert named.matches(event("custom", [], {"name": "x"}))
    assert not named.matches(event("custom", [], {"name": "y"}))
    root = EventFilter(frozenset({"values"}), ((),), 0)
    assert root.matches(event("values", []))
    assert not root.matches(event("values", ["child:1"]))
    child = EventFilter(frozenset({"values"}), (("child",),), 1)
    assert child.matches(event("values", ["child:1"]))
    assert child.matches(event("values", ["child:1", "grandchild:2"]))
    assert not child.matches(event("values", ["child:1", "g:2", "h:3"]))
    assert not child.matches(event("values", ["other:1"]))
    exact = EventFilter(frozenset({"values"}), (("child:1",),))
    assert not exact.matches(event("values", ["child:2"]))
