"""Subgraphs and graph factories through the official ``langgraph-sdk``, against a live server on
each backend; a broken factory stops a start with one line."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient

from tests.e2e.test_cli_startup import LIMIT_SECONDS, countersign
from tests.fixtures.app import ROOT, TEST_SECRET
from tests.fixtures.live import LiveServer, free_port

pytestmark = pytest.mark.e2e
RUN = uuid.uuid4().hex[:8]


def sdk(server: LiveServer, tenant: str) -> LangGraphClient:
    token = server.mint(f"{tenant}-{RUN}", "ada", ("tenant_admin", "editor", "agent"))
    return get_client(url=server.url, headers={"Authorization": f"Bearer {token}"}, api_key=None)


async def test_subgraph_schemas(server: LiveServer) -> None:
    async with sdk(server, "subs") as client:
        direct = await client.assistants.get_subgraphs("nested_review")
        deep = await client.assistants.get_subgraphs("nested_review", recurse=True)
        one = await client.assistants.get_subgraphs("nested_review", namespace="child")
        nested = await client.assistants.get_subgraphs(
            "nested_review", namespace="child|grandchild", recurse=True
        )
        unknown = await client.assistants.get_subgraphs("nested_review", namespace="nope")
        schemas = await client.assistants.get_schemas("nested_review")
    assert list(direct) == ["child"]
    assert set(deep) == {"child", "child|grandchild"}
    assert one == {"child": direct["child"]}
    assert nested == {"child|grandchild": deep["child|grandchild"]}
    assert unknown == {}
    assert set(direct["child"]["input_schema"]["properties"]) == {"steps", "verdict"}
    assert set(schemas["input_schema"]["properties"]) == {"steps", "verdict", "done"}


async def test_interrupt_inside_a_subgraph_and_resume(server: LiveServer) -> None:
    async with sdk(server, "subs") as client:
        thread = await client.threads.create()
        tid = thread["thread_id"]
        out = await client.runs.wait(tid, "nested_review", input={})
        (pending,) = out["__interrupt__"]  # type: ignore[call-overload]

        state = await client.threads.get_state(tid, subgraphs=True)
        (task,) = state["tasks"]
        sub = task["state"]
        assert sub is not None
        assert sub["values"] == {"steps": ["begun", "prepared", "stamped"]}
        assert sub["next"] == ["review"]
        assert [i["id"] for i in sub["interrupts"]] == [pending["id"]]
        assert sub["interrupts"][0]["value"]["question"] == "approve the steps?"
        assert sub["checkpoint"]["checkpoint_ns"].startswith("child:")

        at = await client.threads.get_state(tid, checkpoint=sub["checkpoint"], subgraphs=True)
        assert at["values"] == sub["values"]
        history = await client.threads.get_history(
            tid, checkpoint={"checkpoint_ns": sub["checkpoint"]["checkpoint_ns"]}
        )
        assert history[0]["checkpoint"] == sub["checkpoint"]

        thread = await client.threads.get(tid)
        assert thread["status"] == "interrupted"
        done = await client.runs.wait(tid, "nested_review", command={"resume": "ok"})
        assert done["steps"] == ["begun", "prepared", "stamped", "reviewed:ok"]  # type: ignore[call-overload]
        assert done["done"] is True  # type: ignore[call-overload]
        after = await client.threads.get_state(tid, subgraphs=True)
        assert after["tasks"] == []
        assert (await client.threads.get(tid))["status"] == "idle"


async def test_a_factory_builds_the_graph_per_run(server: LiveServer) -> None:
    async with sdk(server, "factory") as client:
        assistant = await client.assistants.create(
            "greeter_factory", config={"configurable": {"greeting": "bonjour"}}
        )
        thread = await client.threads.create()
        tid = thread["thread_id"]
        by_default = await client.runs.wait(tid, "greeter_factory", input={"name": "Ada"})
        by_assistant = await client.runs.wait(tid, assistant["assistant_id"], input={"name": "Ada"})
        by_run = await client.runs.wait(
            None,
            assistant["assistant_id"],
            input={"name": "Grace"},
            config={"configurable": {"greeting": "salut"}},
        )
        runtime = await client.runs.wait(None, "runtime_factory", input={}, context={"k": 1})
        schemas = await client.assistants.get_schemas(assistant["assistant_id"])
    assert by_default["message"] == "hello, Ada"  # type: ignore[call-overload]
    assert by_assistant["message"] == "bonjour, Ada"  # type: ignore[call-overload]
    assert by_run["message"] == "salut, Grace"  # type: ignore[call-overload]
    assert runtime == {"access": "threads.create_run", "context": {"k": 1}}
    assert "message" in schemas["output_schema"]["properties"]


async def test_a_factory_that_raises_is_the_runs_error(server: LiveServer) -> None:
    async with sdk(server, "factory") as client:
        thread = await client.threads.create()
        tid = thread["thread_id"]
        parts = [
            part
            async for part in client.runs.stream(
                tid,
                "greeter_factory",
                input={"name": "x"},
                config={"configurable": {"explode": True}},
            )
        ]
        (run,) = await client.runs.list(tid)
        after = await client.runs.wait(tid, "greeter_factory", input={"name": "y"})
    errors = [p.data for p in parts if p.event == "error"]
    assert errors, parts
    assert errors[0]["error"] == "GraphConfigError"
    assert "factory failed: RuntimeError: the factory refused to build" in errors[0]["message"]
    assert run["status"] == "error"
    assert after["message"] == "hello, y"  # type: ignore[call-overload]


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("def make(config):\n    return (\n", ("graph 'agent'", "syntax error", "factory.py")),
        ("def make(config, extra):\n    return None\n", ("graph 'agent'", "'extra'")),
    ],
)
def test_a_broken_factory_stops_the_start(tmp_path: Path, source: str, words: tuple[str]) -> None:
    (tmp_path / "factory.py").write_text(source)
    config = tmp_path / "langgraph.json"
    config.write_text(json.dumps({"graphs": {"agent": "./factory.py:make"}}))
    env = {
        "COUNTERSIGN_ENV": "test",
        "COUNTERSIGN_JWT_SECRET": TEST_SECRET,
        "COUNTERSIGN_DATA_DIR": str(tmp_path / "data"),
        "COUNTERSIGN_PORT": str(free_port()),
        "COUNTERSIGN_WORKER_HEALTH_PORT": str(free_port()),
        "COUNTERSIGN_GRAPHS_CONFIG": str(config),
        "COUNTERSIGN_DATABASE_URL": "",
        "COUNTERSIGN_REDIS_URL": "",
    }
    code, output, seconds = countersign("serve", env=env, cwd=ROOT)
    assert code != 0, output
    assert seconds < LIMIT_SECONDS * 2, output
    (line,) = output.strip().splitlines()
    assert line.startswith("countersign: "), line
    assert "Traceback" not in line
    for word in words:
        assert word in line, line
