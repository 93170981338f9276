"""``threads.copy`` and ``threads.prune`` through the official Python SDK against a live
server, on both backends."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import NotFoundError

from tests.fixtures.live import LiveServer

pytestmark = pytest.mark.e2e
RUN = uuid.uuid4().hex[:8]
ROLES = ("tenant_admin", "editor", "agent")
STEP = {"steps": 2, "seconds": 0}
COMPARED = ("values", "next", "tasks", "metadata", "checkpoint_id", "parent_checkpoint_id")


def sdk(server: LiveServer, tenant: str) -> LangGraphClient:
    token = server.mint(f"{tenant}-{RUN}", "ada", ROLES)
    return get_client(url=server.url, headers={"Authorization": f"Bearer {token}"}, api_key=None)


def _same(a: Any, b: Any) -> None:
    for key in COMPARED:
        assert a[key] == b[key], key


async def _ran(client: LangGraphClient, times: int) -> str:
    thread_id: str = (await client.threads.create(metadata={"kind": "copied"}))["thread_id"]
    for _ in range(times):
        await client.runs.wait(thread_id, "slow", input=STEP)
    return thread_id


async def test_copy_is_equal_then_independent(server: LiveServer) -> None:
    async with sdk(server, "copy") as client:
        source = await _ran(client, times=2)
        copied: Any = await client.threads.copy(source)
        target = copied["thread_id"]
        assert target != source
        assert copied["metadata"]["kind"] == "copied"

        _same(await client.threads.get_state(source), await client.threads.get_state(target))
        history_a = await client.threads.get_history(source, limit=100)
        history_b = await client.threads.get_history(target, limit=100)
        assert len(history_a) == len(history_b) > 2
        for a, b in zip(history_a, history_b, strict=True):
            _same(a, b)

        await client.runs.wait(target, "slow", input=STEP)
        state_a = await client.threads.get_state(source)
        state_b = await client.threads.get_state(target)
        assert isinstance(state_a["values"], dict)
        assert isinstance(state_b["values"], dict)
        assert len(state_b["values"]["done"]) == len(state_a["values"]["done"]) + 1
        assert len(await client.threads.get_history(source, limit=100)) == len(history_a)


async def test_prune_keep_latest_and_delete(server: LiveServer) -> None:
    async with sdk(server, "prune") as client:
        kept = await _ran(client, times=2)
        latest = await client.threads.get_state(kept)
        assert len(await client.threads.get_history(kept, limit=100)) > 1
        result = await client.threads.prune([kept], strategy="keep_latest")
        assert result == {"pruned_count": 1}
        (only,) = await client.threads.get_history(kept, limit=100)
        assert only["checkpoint_id"] == latest["checkpoint_id"]
        assert only["values"] == latest["values"]

        doomed = await _ran(client, times=1)
        assert await client.threads.prune([doomed, "not-a-thread"]) == {"pruned_count": 1}
        with pytest.raises(NotFoundError):
            await client.threads.get(doomed)


async def test_another_tenant_cannot_copy_or_prune(server: LiveServer) -> None:
    async with sdk(server, "holder") as mine, sdk(server, "other") as theirs:
        thread_id = await _ran(mine, times=1)
        with pytest.raises(NotFoundError):
            await theirs.threads.copy(thread_id)
        assert await theirs.threads.prune([thread_id]) == {"pruned_count": 0}
        assert await theirs.threads.prune([thread_id], strategy="keep_latest") == {
            "pruned_count": 0
        }
        assert (await mine.threads.get(thread_id))["thread_id"] == thread_id
        assert len(await mine.threads.get_history(thread_id, limit=100)) > 1


async def test_thread_ttl_through_the_sdk(server: LiveServer) -> None:
    """``ttl`` as the SDK sends it (minutes, or ``{ttl, strategy}``), read back with
    ``include=["ttl"]``; an update sets another; a copy takes its source's."""
    async with sdk(server, "ttl") as client:
        plain = await client.threads.create(ttl=90)
        kept = await client.threads.create(ttl={"ttl": 30, "strategy": "keep_latest"})
        read = await client.threads.get(plain["thread_id"], include=["ttl"])
        assert read["ttl"]["strategy"] == "delete"  # type: ignore[typeddict-item]
        assert read["ttl"]["ttl_minutes"] == 90  # type: ignore[typeddict-item]
        assert read["ttl"]["expires_at"]  # type: ignore[typeddict-item]
        updated = await client.threads.update(plain["thread_id"], metadata={}, ttl=5)
        assert updated["ttl"]["ttl_minutes"] == 5  # type: ignore[typeddict-item]
        await client.runs.wait(kept["thread_id"], "slow", input=STEP)
        copied = await client.threads.copy(kept["thread_id"])
        assert copied["ttl"]["strategy"] == "keep_latest"  # type: ignore[typeddict-item]
        assert copied["ttl"]["ttl_minutes"] == 30  # type: ignore[typeddict-item]
