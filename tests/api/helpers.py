"""Small helpers shared by the API tests."""

from __future__ import annotations

from typing import Any

import httpx

REFUND_INPUT = {
    "request": {"order_id": "A-1", "amount": 42, "customer": "Ada", "reason": "arrived broken"}
}


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


async def new_thread(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    return await ok(await client.post("/threads", json=body))  # type: ignore[no-any-return]


async def run_to_interrupt(client: httpx.AsyncClient, thread_id: str) -> dict[str, Any]:
    """Start the refund agent on a thread and wait until it pauses; returns the join output."""
    run = await ok(
        await client.post(
            f"/threads/{thread_id}/runs",
            json={"assistant_id": "refund_agent", "input": REFUND_INPUT},
        ),
        200,
    )
    return await ok(await client.get(f"/threads/{thread_id}/runs/{run['run_id']}/join"))  # type: ignore[no-any-return]


async def resume_wait(client: httpx.AsyncClient, thread_id: str, resume: Any) -> Any:
    return await ok(
        await client.post(
            f"/threads/{thread_id}/runs/wait",
            json={"assistant_id": "refund_agent", "command": {"resume": resume}},
        )
    )


def parse_sse(text: str) -> list[tuple[str | None, str, Any]]:
    """``(id, event, data)`` of each event in a text/event-stream body (comments skipped)."""
    import json

    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            fields[name] = value[1:] if value.startswith(" ") else value
        if "event" in fields:
            events.append(
                (fields.get("id"), fields["event"], json.loads(fields.get("data", "null")))
            )
    return events


async def wait_for_status(
    client: httpx.AsyncClient, thread_id: str, run_id: str, statuses: set[str], timeout: float = 20
) -> dict[str, Any]:
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    while True:
        run = await ok(await client.get(f"/threads/{thread_id}/runs/{run_id}"))
        if run["status"] in statuses:
            return run  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, f"run stayed {run['status']}"
        await asyncio.sleep(0.05)
