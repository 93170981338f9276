"""Every route, every default role, in the right tenant and in another one.

The owner (alice: tenant_admin + editor + agent) starts the refund agent on a thread, which
pauses at a ``refund`` interrupt. Then each caller tries each operation on that thread.
Another tenant's caller always gets 404 (never 403, which would leak existence); inside
the tenant, what the caller may not read is 404 and what it may read but not do is 403.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.api.helpers import REFUND_INPUT, new_thread, ok, run_to_interrupt
from tests.fixtures.app import Api

CALLERS = ["viewer", "reviewer", "editor", "agent", "tenant_admin", "nobody", "outsider"]


@dataclass
class Target:
    thread: str
    run: str
    interrupt: str


Call = Callable[[httpx.AsyncClient, Target], Awaitable[httpx.Response]]

ACCEPT = {"assistant_id": "refund_agent", "command": {"resume": [{"type": "accept", "args": None}]}}
EDIT = {
    "assistant_id": "refund_agent",
    "command": {"resume": [{"type": "edit", "args": {"action": "refund", "args": {"amount": 1}}}]},
}

OPERATIONS: dict[str, tuple[Call, dict[str, int]]] = {
    "read thread": (
        lambda c, t: c.get(f"/threads/{t.thread}"),
        {"viewer": 200, "reviewer": 200, "editor": 200, "agent": 404, "tenant_admin": 200},
    ),
    "read state": (
        lambda c, t: c.get(f"/threads/{t.thread}/state"),
        {"viewer": 200, "reviewer": 200, "editor": 200, "agent": 404, "tenant_admin": 200},
    ),
    "read history": (
        lambda c, t: c.post(f"/threads/{t.thread}/history", json={}),
        {"viewer": 200, "reviewer": 200, "editor": 200, "agent": 404, "tenant_admin": 200},
    ),
    "list runs": (
        lambda c, t: c.get(f"/threads/{t.thread}/runs"),
        {"viewer": 200, "reviewer": 200, "editor": 200, "agent": 404, "tenant_admin": 200},
    ),
    "read run": (
        lambda c, t: c.get(f"/threads/{t.thread}/runs/{t.run}"),
        {"viewer": 200, "reviewer": 200, "editor": 200, "agent": 404, "tenant_admin": 200},
    ),
    "join run": (
        lambda c, t: c.get(f"/threads/{t.thread}/runs/{t.run}/join"),
        {"viewer": 200, "reviewer": 200, "editor": 200, "agent": 404, "tenant_admin": 200},
    ),
    "search threads": (
        lambda c, t: c.post("/threads/search", json={}),
        {
            "viewer": 200,
            "reviewer": 200,
            "editor": 200,
            "agent": 200,
            "tenant_admin": 200,
            "nobody": 403,
            "outsider": 200,
        },
    ),
    "count threads": (
        lambda c, t: c.post("/threads/count", json={}),
        {
            "viewer": 200,
            "reviewer": 200,
            "editor": 200,
            "agent": 200,
            "tenant_admin": 200,
            "nobody": 403,
            "outsider": 200,
        },
    ),
    "create thread": (
        lambda c, t: c.post("/threads", json={}),
        {
            "viewer": 403,
            "reviewer": 403,
            "editor": 403,
            "agent": 200,
            "tenant_admin": 200,
            "nobody": 403,
            "outsider": 200,
        },
    ),
    "patch thread": (
        lambda c, t: c.patch(f"/threads/{t.thread}", json={"metadata": {"x": 1}}),
        {"viewer": 403, "reviewer": 403, "editor": 403, "agent": 404, "tenant_admin": 200},
    ),
    "start run": (
        lambda c, t: c.post(
            f"/threads/{t.thread}/runs",
            json={
                "assistant_id": "refund_agent",
                "input": REFUND_INPUT,
                "multitask_strategy": "enqueue",
            },
        ),
        {"viewer": 403, "reviewer": 403, "editor": 403, "agent": 404, "tenant_admin": 200},
    ),
    "resume: accept": (
        lambda c, t: c.post(f"/threads/{t.thread}/runs", json=ACCEPT),
        {"viewer": 403, "reviewer": 200, "editor": 200, "agent": 404, "tenant_admin": 403},
    ),
    "resume: edit": (
        lambda c, t: c.post(f"/threads/{t.thread}/runs", json=EDIT),
        {"viewer": 403, "reviewer": 403, "editor": 200, "agent": 404, "tenant_admin": 403},
    ),
    "update state": (
        lambda c, t: c.post(
            f"/threads/{t.thread}/state", json={"values": {"outcome": "x"}, "as_node": "review"}
        ),
        {"viewer": 403, "reviewer": 403, "editor": 200, "agent": 404, "tenant_admin": 403},
    ),
    "cancel run": (
        lambda c, t: c.post(f"/threads/{t.thread}/runs/{t.run}/cancel"),
        {"viewer": 403, "reviewer": 403, "editor": 403, "agent": 404, "tenant_admin": 200},
    ),
    "delete run": (
        lambda c, t: c.delete(f"/threads/{t.thread}/runs/{t.run}"),
        {"viewer": 403, "reviewer": 403, "editor": 403, "agent": 404, "tenant_admin": 204},
    ),
    "delete thread": (
        lambda c, t: c.delete(f"/threads/{t.thread}"),
        {"viewer": 403, "reviewer": 403, "editor": 403, "agent": 404, "tenant_admin": 204},
    ),
    "search assistants": (
        lambda c, t: c.post("/assistants/search", json={}),
        {
            "viewer": 200,
            "reviewer": 200,
            "editor": 200,
            "agent": 200,
            "tenant_admin": 200,
            "nobody": 403,
            "outsider": 200,
        },
    ),
    "create assistant": (
        lambda c, t: c.post("/assistants", json={"graph_id": "refund_agent"}),
        {
            "viewer": 403,
            "reviewer": 403,
            "editor": 403,
            "agent": 403,
            "tenant_admin": 200,
            "nobody": 403,
            "outsider": 200,
        },
    ),
    "read policy": (
        lambda c, t: c.get("/policies"),
        {
            "viewer": 403,
            "reviewer": 403,
            "editor": 403,
            "agent": 403,
            "tenant_admin": 200,
            "nobody": 403,
            "outsider": 200,
        },
    ),
    "assign role": (
        lambda c, t: c.post("/policies/members/zed/roles", json={"role": "viewer"}),
        {
            "viewer": 403,
            "reviewer": 403,
            "editor": 403,
            "agent": 403,
            "tenant_admin": 200,
            "nobody": 403,
            "outsider": 200,
        },
    ),
    "read audit": (
        lambda c, t: c.get("/audit"),
        {
            "viewer": 403,
            "reviewer": 403,
            "editor": 403,
            "agent": 403,
            "tenant_admin": 200,
            "nobody": 403,
            "outsider": 200,
        },
    ),
    "who can decide": (
        lambda c, t: c.get(f"/policies/who-can-decide/{t.interrupt}"),
        {
            "viewer": 403,
            "reviewer": 403,
            "editor": 403,
            "agent": 403,
            "tenant_admin": 200,
            "nobody": 403,
            "outsider": 404,
        },
    ),
}


def _expected(table: dict[str, int], caller: str) -> int:
    if caller in table:
        return table[caller]
    return 404  # nobody and outsider cannot see the owner's objects


@pytest.fixture
async def target(api: Api, tenant: str) -> Target:
    async with api.client(tenant, "alice") as owner:
        thread = await new_thread(owner)
        await run_to_interrupt(owner, thread["thread_id"])
        (run,) = await ok(await owner.get(f"/threads/{thread['thread_id']}/runs"))
        state = await ok(await owner.get(f"/threads/{thread['thread_id']}/state"))
        interrupt_id = state["interrupts"][0]["id"]
    return Target(thread["thread_id"], run["run_id"], await _row_id(api, tenant, interrupt_id))


async def _row_id(api: Api, tenant: str, interrupt_id: str) -> str:
    async with api.runtime.transaction() as uow:
        rows = await uow.store.interrupts.pending_for_threads(
            [r.thread_id for r in await uow.store.threads.search(tenant_id=tenant, limit=5)],
            tenant_id=tenant,
        )
    (row,) = [r for r in rows if r.interrupt_id == interrupt_id]
    return row.id


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("operation", list(OPERATIONS))
async def test_route_by_role(
    api: Api, tenant: str, target: Target, operation: str, caller: str
) -> None:
    call, table = OPERATIONS[operation]
    if caller == "outsider":
        client_cm = api.client(tenant + "-other", "eve")
    else:
        roles: tuple[str, ...] = () if caller == "nobody" else (caller,)
        client_cm = api.client(tenant, f"user-{caller}", roles=roles)
    async with client_cm as client:
        response = await call(client, target)
    expected = _expected(table, caller)
    assert response.status_code == expected, f"{operation} as {caller}: {response.text}"
    is_json = response.headers.get("content-type", "").startswith("application/json")
    body: Any = response.json() if is_json and response.content else None
    if expected in (403, 404):
        assert set(body) == {"detail", "code"}
    if caller == "outsider" and operation in ("search threads", "count threads"):
        assert body in ([], 0)  # another tenant sees none of the owner's threads


async def test_agent_works_on_its_own_threads(api: Api, tenant: str) -> None:
    async with api.client(tenant, "bot", roles=("agent",)) as bot:
        thread = await new_thread(bot)
        tid = thread["thread_id"]
        run = await ok(
            await bot.post(
                f"/threads/{tid}/runs", json={"assistant_id": "refund_agent", "input": REFUND_INPUT}
            ),
            200,
        )
        await ok(await bot.get(f"/threads/{tid}/runs/{run['run_id']}/join"))
        assert (await ok(await bot.get(f"/threads/{tid}")))["status"] == "interrupted"
        listed = await ok(await bot.post("/threads/search", json={}))
        assert [t["thread_id"] for t in listed] == [tid]
        decided = await bot.post(f"/threads/{tid}/runs", json=ACCEPT)
        assert decided.status_code == 403  # a machine client never approves
