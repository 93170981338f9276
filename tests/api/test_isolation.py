"""Tenants never see each other's data, not even whether an id exists.

Every route with an object id in its path is called by tenant B with tenant A's ids and
with unknown ids: both must give the same 404 body, byte for byte.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.helpers import REFUND_INPUT, new_thread, ok, run_to_interrupt
from tests.fixtures.app import Api

ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/threads/{thread}", None),
    ("PATCH", "/threads/{thread}", {"metadata": {"x": 1}}),
    ("DELETE", "/threads/{thread}", None),
    ("GET", "/threads/{thread}/state", None),
    ("GET", "/threads/{thread}/state/{checkpoint}", None),
    (
        "POST",
        "/threads/{thread}/state/checkpoint",
        {"checkpoint": {"checkpoint_id": "{checkpoint}"}},
    ),
    ("POST", "/threads/{thread}/state", {"values": {"outcome": "hijacked"}, "as_node": "act"}),
    ("POST", "/threads/{thread}/history", {}),
    ("GET", "/threads/{thread}/history", None),
    ("POST", "/threads/{thread}/runs", {"assistant_id": "refund_agent", "input": REFUND_INPUT}),
    (
        "POST",
        "/threads/{thread}/runs/wait",
        {"assistant_id": "refund_agent", "command": {"resume": {"type": "accept"}}},
    ),
    (
        "POST",
        "/threads/{thread}/runs/stream",
        {"assistant_id": "refund_agent", "input": REFUND_INPUT},
    ),
    ("GET", "/threads/{thread}/runs", None),
    ("GET", "/threads/{thread}/runs/{run}", None),
    ("DELETE", "/threads/{thread}/runs/{run}", None),
    ("POST", "/threads/{thread}/runs/{run}/cancel", None),
    ("GET", "/threads/{thread}/runs/{run}/join", None),
    ("GET", "/threads/{thread}/runs/{run}/stream", None),
    ("GET", "/assistants/{assistant}", None),
    ("PATCH", "/assistants/{assistant}", {"name": "stolen"}),
    ("DELETE", "/assistants/{assistant}", None),
    ("GET", "/assistants/{assistant}/graph", None),
    ("GET", "/assistants/{assistant}/schemas", None),
    ("GET", "/assistants/{assistant}/subgraphs", None),
    ("POST", "/assistants/{assistant}/versions", {}),
    ("POST", "/assistants/{assistant}/latest", {"version": 1}),
    ("DELETE", "/assistants/{assistant}?delete_threads=true", None),
    ("POST", "/threads/{thread}/copy", None),
]


def _fill(template: Any, ids: dict[str, str]) -> Any:
    if isinstance(template, str):
        for key, value in ids.items():
            template = template.replace("{" + key + "}", value)
        return template
    if isinstance(template, dict):
        return {k: _fill(v, ids) for k, v in template.items()}
    return template


@pytest.fixture
async def victim(api: Api, tenant: str) -> dict[str, str]:
    async with api.client(tenant, "victim") as client:
        thread = await new_thread(client, metadata={"secret": "canary-123"})
        await run_to_interrupt(client, thread["thread_id"])
        (run,) = await ok(await client.get(f"/threads/{thread['thread_id']}/runs"))
        state = await ok(await client.get(f"/threads/{thread['thread_id']}/state"))
        assistant = await ok(
            await client.post("/assistants", json={"graph_id": "refund_agent", "name": "private"})
        )
    return {
        "thread": thread["thread_id"],
        "run": run["run_id"],
        "checkpoint": state["checkpoint_id"],
        "assistant": assistant["assistant_id"],
    }


def _unknown(victim: dict[str, str], attacker: str) -> dict[str, str]:
    return {
        "thread": f"{attacker}:00000000-0000-7000-8000-000000000000",
        "run": "00000000-0000-7000-8000-000000000001",
        "checkpoint": victim["checkpoint"],
        "assistant": "00000000-0000-7000-8000-000000000002",
    }


@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
async def test_foreign_ids_answer_exactly_like_unknown_ids(
    api: Api,
    tenant: str,
    victim: dict[str, str],
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    attacker = tenant + "-b"
    async with api.client(attacker, "mallory") as client:
        foreign = await client.request(method, _fill(path, victim), json=_fill(body, victim))
        unknown = await client.request(
            method,
            _fill(path, _unknown(victim, attacker)),
            json=_fill(body, _unknown(victim, attacker)),
        )
        bare = victim["thread"].split(":", 1)[1]  # the victim's session id without prefix
        bare_ids = {**victim, "thread": bare}
        bare_probe = await client.request(method, _fill(path, bare_ids), json=_fill(body, bare_ids))
    assert foreign.status_code == 404, foreign.text
    assert foreign.content == unknown.content
    assert bare_probe.status_code == 404
    assert bare_probe.content == unknown.content
    assert "canary" not in foreign.text


async def test_victim_data_is_untouched(api: Api, tenant: str, victim: dict[str, str]) -> None:
    attacker = tenant + "-b"
    async with api.client(attacker, "mallory") as client:
        for method, path, body in ROUTES:
            await client.request(method, _fill(path, victim), json=_fill(body, victim))
        assert await ok(await client.post("/threads/count", json={})) == 0
        assert (
            await ok(
                await client.post("/threads/search", json={"metadata": {"secret": "canary-123"}})
            )
            == []
        )
    async with api.client(tenant, "victim") as client:
        thread = await ok(await client.get(f"/threads/{victim['thread']}"))
        assert thread["status"] == "interrupted"
        assert thread["metadata"].get("x") is None
        assert len(await ok(await client.get(f"/threads/{victim['thread']}/runs"))) == 1
        assistant = await ok(await client.get(f"/assistants/{victim['assistant']}"))
        assert assistant["name"] == "private"
