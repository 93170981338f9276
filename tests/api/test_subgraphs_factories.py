"""Subgraphs (their schemas by namespace, their state inside a thread's) and graph factories
(a graph built per run from the run's config), on each backend."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph.checkpoint.memory import InMemorySaver

from service.engine.registry import GraphConfigError, GraphRegistry, check_graphs
from tests.api.helpers import ok, parse_sse
from tests.fixtures.app import Api


async def _wait(client: httpx.AsyncClient, thread_id: str, **body: Any) -> Any:
    return await ok(await client.post(f"/threads/{thread_id}/runs/wait", json=body))


async def _to_subgraph_interrupt(client: httpx.AsyncClient) -> str:
    thread = await ok(await client.post("/threads", json={}))
    out = await _wait(client, thread["thread_id"], assistant_id="nested_review", input={})
    assert out["__interrupt__"][0]["value"]["steps"] == ["begun", "prepared", "stamped"]
    return str(thread["thread_id"])


class TestSubgraphSchemas:
    async def test_direct_and_recursive(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            direct = await ok(await client.get("/assistants/nested_review/subgraphs"))
            deep = await ok(
                await client.get("/assistants/nested_review/subgraphs", params={"recurse": True})
            )
            none = await ok(await client.get("/assistants/refund_agent/subgraphs"))
        assert set(direct) == {"child"}
        assert set(deep) == {"child", "child|grandchild"}
        assert set(direct["child"]["input_schema"]["properties"]) == {"steps", "verdict"}
        assert set(deep["child|grandchild"]["input_schema"]["properties"]) == {"steps"}
        assert "graph_id" not in direct["child"]
        assert none == {}

    async def test_by_namespace(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            child = await ok(await client.get("/assistants/nested_review/subgraphs/child"))
            nested = "/assistants/nested_review/subgraphs/child%7Cgrandchild"
            shallow = await ok(await client.get(nested))
            deep = await ok(await client.get(nested, params={"recurse": True}))
            unknown = await ok(await client.get("/assistants/nested_review/subgraphs/nope"))
        assert set(child) == {"child"}
        assert shallow == {}  # a nested namespace needs recurse, as in LangGraph
        assert set(deep) == {"child|grandchild"}
        assert unknown == {}

    async def test_another_tenants_assistant_is_not_found(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as mine, api.client(tenant + "x") as theirs:
            assistant = await ok(await mine.get("/assistants/nested_review"))
            answer = await theirs.get(f"/assistants/{assistant['assistant_id']}/subgraphs")
            by_ns = await theirs.get(f"/assistants/{assistant['assistant_id']}/subgraphs/child")
        assert answer.status_code == by_ns.status_code == 404
        assert answer.json() == by_ns.json()
        assert answer.json() == {"detail": "Assistant not found.", "code": "not_found"}


class TestSubgraphState:
    async def test_state_with_subgraphs_shows_the_interrupt(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            tid = await _to_subgraph_interrupt(client)
            plain = await ok(await client.get(f"/threads/{tid}/state"))
            state = await ok(await client.get(f"/threads/{tid}/state", params={"subgraphs": True}))
        assert plain["tasks"][0]["state"] is None
        assert plain["tasks"][0]["checkpoint"]["checkpoint_ns"].startswith("child:")
        (task,) = state["tasks"]
        assert task["name"] == "child"
        sub = task["state"]
        assert sub["values"] == {"steps": ["begun", "prepared", "stamped"]}
        assert sub["next"] == ["review"]
        assert sub["checkpoint"]["checkpoint_ns"].startswith("child:")
        assert sub["interrupts"][0]["value"]["question"] == "approve the steps?"
        assert sub["tasks"][0]["name"] == "review"
        assert sub["tasks"][0]["interrupts"] == sub["interrupts"]

    async def test_a_subgraph_checkpoint_and_its_history(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            tid = await _to_subgraph_interrupt(client)
            state = await ok(await client.get(f"/threads/{tid}/state", params={"subgraphs": True}))
            ref = state["tasks"][0]["state"]["checkpoint"]
            at = await ok(
                await client.post(
                    f"/threads/{tid}/state/checkpoint",
                    json={"checkpoint": ref, "subgraphs": True},
                )
            )
            namespace = {"checkpoint_ns": ref["checkpoint_ns"]}
            history = await ok(
                await client.post(f"/threads/{tid}/history", json={"checkpoint": namespace})
            )
            one = await ok(await client.post(f"/threads/{tid}/history", json={"checkpoint": ref}))
            unknown = await client.post(
                f"/threads/{tid}/state/checkpoint",
                json={"checkpoint": {"checkpoint_ns": "nope:1", "checkpoint_id": None}},
            )
        assert at["values"] == {"steps": ["begun", "prepared", "stamped"]}
        assert at["checkpoint"]["checkpoint_id"] == ref["checkpoint_id"]
        assert history[0]["values"] == at["values"]
        assert all(h["checkpoint"]["checkpoint_ns"] == ref["checkpoint_ns"] for h in history)
        assert len(history) >= 3
        assert [h["checkpoint"] for h in one] == [ref]
        assert unknown.status_code == 404, unknown.text
        assert unknown.json()["code"] == "not_found"

    async def test_resume_inside_the_subgraph(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            tid = await _to_subgraph_interrupt(client)
            out = await _wait(client, tid, assistant_id="nested_review", command={"resume": "yes"})
            state = await ok(await client.get(f"/threads/{tid}/state", params={"subgraphs": True}))
        assert out["steps"] == ["begun", "prepared", "stamped", "reviewed:yes"]
        assert out["verdict"] == "yes"
        assert out["done"] is True
        assert state["tasks"] == []
        assert state["next"] == []


class TestFactories:
    async def test_the_run_builds_the_graph_with_its_config(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            assistant = await ok(
                await client.post(
                    "/assistants",
                    json={
                        "graph_id": "greeter_factory",
                        "config": {"configurable": {"greeting": "ahoy"}},
                    },
                )
            )
            tid = (await ok(await client.post("/threads", json={})))["thread_id"]
            default = await _wait(client, tid, assistant_id="greeter_factory", input={"name": "a"})
            configured = await _wait(
                client, tid, assistant_id=assistant["assistant_id"], input={"name": "b"}
            )
            overridden = await _wait(
                client,
                tid,
                assistant_id=assistant["assistant_id"],
                input={"name": "c"},
                config={"configurable": {"greeting": "hey"}},
            )
        assert default["message"] == "hello, a"
        assert configured["message"] == "ahoy, b"
        assert overridden["message"] == "hey, c"

    async def test_runtime_argument(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            out = await ok(
                await client.post(
                    "/runs/wait",
                    json={
                        "assistant_id": "runtime_factory",
                        "input": {},
                        "context": {"user": "ada"},
                    },
                )
            )
        assert out["access"] == "threads.create_run"
        assert out["context"] == {"user": "ada"}

    async def test_a_failing_factory_is_the_runs_error(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            tid = (await ok(await client.post("/threads", json={})))["thread_id"]
            response = await client.post(
                f"/threads/{tid}/runs/stream",
                json={
                    "assistant_id": "greeter_factory",
                    "input": {"name": "x"},
                    "config": {"configurable": {"explode": True}},
                },
            )
            runs = await ok(await client.get(f"/threads/{tid}/runs"))
            thread = await ok(await client.get(f"/threads/{tid}"))
        errors = [data for _, event, data in parse_sse(response.text) if event == "error"]
        assert errors, response.text
        assert "its factory failed: RuntimeError: the factory refused to build" in str(errors[0])
        assert runs[0]["status"] == "error"
        assert thread["status"] == "error"

    async def test_state_of_a_factory_thread(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            tid = (await ok(await client.post("/threads", json={})))["thread_id"]
            await _wait(client, tid, assistant_id="greeter_factory", input={"name": "a"})
            await ok(
                await client.post(
                    f"/threads/{tid}/state", json={"values": {"name": "b"}, "as_node": "greet"}
                )
            )
            state = await ok(await client.get(f"/threads/{tid}/state"))
            history = await ok(await client.post(f"/threads/{tid}/history", json={}))
        assert state["values"] == {"name": "b", "message": "hello, a"}
        assert len(history) >= 3

    async def test_schemas_and_drawing_of_a_factory(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            schemas = await ok(await client.get("/assistants/greeter_factory/schemas"))
            drawn = await ok(await client.get("/assistants/runtime_factory/graph"))
            subgraphs = await ok(await client.get("/assistants/greeter_factory/subgraphs"))
        assert schemas["graph_id"] == "greeter_factory"
        assert {"name", "message"} <= set(schemas["input_schema"]["properties"])
        assert {n["id"] for n in drawn["nodes"]} >= {"report"}
        assert subgraphs == {}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def make(config):\n    return (\n", "syntax error"),
        ("def make(config, extra):\n    return None\n", "parameter 'extra'"),
    ],
)
def test_start_check_reports_broken_factories(tmp_path: Path, source: str, expected: str) -> None:
    (tmp_path / "broken.py").write_text(source)
    (tmp_path / "langgraph.json").write_text('{"graphs": {"broken": "./broken.py:make"}}')
    with pytest.raises(GraphConfigError, match=expected):
        check_graphs(tmp_path / "langgraph.json")


def test_start_check_does_not_call_factories(tmp_path: Path) -> None:
    """A factory is built per use with a real config, never at start with a made-up one."""
    (tmp_path / "lazy.py").write_text(
        "def make(config):\n    raise RuntimeError('needs a real run')\n"
    )
    (tmp_path / "langgraph.json").write_text('{"graphs": {"lazy": "./lazy.py:make"}}')
    check_graphs(tmp_path / "langgraph.json")


def test_a_graphs_file_is_loaded_once(tmp_path: Path) -> None:
    """The start-up check and the runtime share the module, as do two graphs of one file."""
    (tmp_path / "counted.py").write_text(
        "import pathlib\n"
        "from typing_extensions import TypedDict\n"
        "from langgraph.graph import START, StateGraph\n"
        "with open(pathlib.Path(__file__).with_suffix('.log'), 'a') as log:\n"
        "    log.write('loaded\\n')\n"
        "class S(TypedDict):\n"
        "    x: int\n"
        "one = StateGraph(S)\n"
        "one.add_node('n', lambda s: {'x': 1})\n"
        "one.add_edge(START, 'n')\n"
        "def make(config):\n"
        "    return one\n"
    )
    config = tmp_path / "langgraph.json"
    config.write_text('{"graphs": {"one": "./counted.py:one", "made": "./counted.py:make"}}')
    check_graphs(config)
    registry = GraphRegistry.load(config, InMemorySaver())
    assert registry.graph_ids == ["one", "made"]
    assert registry.get("made") is None  # a factory: built per use
    assert (tmp_path / "counted.log").read_text() == "loaded\n"


FACTORY_KINDS = """
import contextlib
from langchain_core.runnables import RunnableConfig
from langgraph.graph import START, StateGraph
from langgraph_sdk.runtime import ServerRuntime
from typing_extensions import TypedDict

EVENTS = []

class S(TypedDict, total=False):
    said: str

def graph_saying(word):
    builder = StateGraph(S)
    builder.add_node("say", lambda s: {"said": word})
    builder.add_edge(START, "say")
    return builder

async def no_arguments():
    return graph_saying("async")

def positional(cfg: RunnableConfig, /):
    return graph_saying(cfg["configurable"]["word"]).compile()

@contextlib.contextmanager
def sync_managed(config):
    EVENTS.append("enter")
    yield graph_saying("sync-managed")
    EVENTS.append("exit")

@contextlib.asynccontextmanager
async def async_managed(rt: ServerRuntime, config):
    EVENTS.append(rt.access_context)
    yield graph_saying(config["configurable"]["word"])
    EVENTS.append("aexit")
"""


async def test_factory_kinds(tmp_path: Path) -> None:
    """Sync and async, config and runtime, by annotation or name, returning a graph or a
    context manager that stays open while the graph is used."""
    (tmp_path / "kinds.py").write_text(FACTORY_KINDS)
    names = ("no_arguments", "positional", "sync_managed", "async_managed")
    (tmp_path / "langgraph.json").write_text(
        json.dumps({"graphs": {n: f"./kinds.py:{n}" for n in names}})
    )
    registry = GraphRegistry.load(tmp_path / "langgraph.json", InMemorySaver())
    said = {}
    for name in names:
        config: Any = {"configurable": {"thread_id": name, "word": f"word-{name}"}}
        async with registry.build(name, config, access="threads.create_run") as graph:
            assert graph is not None
            said[name] = (await graph.ainvoke({}, config))["said"]
    assert said == {
        "no_arguments": "async",
        "positional": "word-positional",
        "sync_managed": "sync-managed",
        "async_managed": "word-async_managed",
    }
    module = sys.modules[next(m for m in sys.modules if m.endswith("_kinds"))]
    assert module.EVENTS == ["enter", "exit", "threads.create_run", "aexit"]
