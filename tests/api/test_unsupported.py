"""LangGraph Server routes Countersign does not offer: a clear 501, after authentication, for
every method the official SDK sends there; never a bare 404 or 405."""

from __future__ import annotations

import pytest

from service.api.routes.unsupported import UNSUPPORTED
from tests.fixtures.app import Api

CALLS = [
    (method, path.replace("{", "x-").replace("}", ""), feature)
    for methods, path, feature in UNSUPPORTED
    for method in methods
]


@pytest.mark.parametrize(("method", "path", "feature"), CALLS)
async def test_an_unsupported_route_says_so(
    api: Api, tenant: str, method: str, path: str, feature: str
) -> None:
    async with api.client(tenant) as client:
        body = None if method in ("GET", "DELETE") else {}
        answer = await client.request(method, path, json=body)
    assert answer.status_code == 501, answer.text
    assert answer.json() == {"detail": f"{feature} is not supported", "code": "not_supported"}


async def test_unsupported_routes_still_need_a_token(api: Api) -> None:
    async with api.anonymous() as client:
        answer = await client.post("/runs/crons/search", json={})
    assert answer.status_code == 401


async def test_the_routes_that_exist_are_not_shadowed(api: Api, tenant: str) -> None:
    """``/threads/prune`` sits beside ``/threads/{thread_id}``: a thread id is still a thread."""
    async with api.client(tenant) as client:
        assert (await client.get("/threads/prune")).status_code == 404
        assert (await client.post("/threads/search", json={})).status_code == 200
