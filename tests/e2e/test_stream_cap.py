"""A tenant keeps at most ``COUNTERSIGN_MAX_STREAMS_PER_TENANT`` event streams open per API
process (S: a flood of one tenant's streams must not take the server from the others)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.fixtures.app import ROOT, TEST_SECRET
from tests.fixtures.live import LiveServer, running, server_env

pytestmark = pytest.mark.e2e

SLOW = {"assistant_id": "slow", "input": {"steps": 40, "seconds": 0.1}}
QUICK = {"assistant_id": "slow", "input": {"steps": 1, "seconds": 0}}
ROLES = ("tenant_admin", "editor", "agent")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    env = server_env(
        ROOT / "tests" / "graphs" / "langgraph.json", secret=TEST_SECRET, run_in_api=True
    )
    env["COUNTERSIGN_MAX_STREAMS_PER_TENANT"] = "2"
    yield from running(tmp_path_factory.mktemp("stream-cap"), env)


def client(server: LiveServer, tenant: str) -> httpx.Client:
    token = server.mint(tenant, "ada", ROLES)
    return httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def test_past_the_cap_a_stream_is_429_and_starts_nothing(server: LiveServer) -> None:
    run = uuid.uuid4().hex[:8]
    with client(server, f"acme-{run}") as mine, client(server, f"globex-{run}") as theirs:
        tids = [mine.post("/threads", json={}).json()["thread_id"] for _ in range(3)]
        with (
            mine.stream("POST", f"/threads/{tids[0]}/runs/stream", json=SLOW) as first,
            mine.stream("POST", f"/threads/{tids[1]}/runs/stream", json=SLOW) as second,
        ):
            assert (first.status_code, second.status_code) == (200, 200)
            refused = mine.post(f"/threads/{tids[2]}/runs/stream", json=SLOW)
            assert refused.status_code == 429, refused.text
            assert refused.headers["retry-after"]
            assert refused.json()["code"] == "too_many_requests"
            assert mine.get(f"/threads/{tids[2]}/runs").json() == []  # nothing started
            assert mine.get("/inbox/stream").status_code == 429
            other = theirs.post("/threads", json={}).json()["thread_id"]
            assert theirs.post(f"/threads/{other}/runs/stream", json=QUICK).status_code == 200
        deadline = time.monotonic() + 10  # closed streams give their places back
        while (
            answer := mine.post(f"/threads/{tids[2]}/runs/stream", json=QUICK)
        ).status_code == 429:
            assert time.monotonic() < deadline, "the places of closed streams never came back"
            time.sleep(0.2)
        assert answer.status_code == 200


def test_a_stream_that_fails_to_start_gives_its_place_back(server: LiveServer) -> None:
    with client(server, f"initech-{uuid.uuid4().hex[:8]}") as mine:
        for _ in range(4):  # more than the cap: each 404 released its place
            assert mine.get("/threads/nope-1/runs/nope/stream").status_code == 404
        tid = mine.post("/threads", json={}).json()["thread_id"]
        assert mine.post(f"/threads/{tid}/runs/stream", json=QUICK).status_code == 200


@pytest.fixture(scope="module")
def default_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    env = server_env(
        ROOT / "tests" / "graphs" / "langgraph.json", secret=TEST_SECRET, run_in_api=True
    )
    yield from running(tmp_path_factory.mktemp("stream-cap-default"), env)


async def test_two_hundred_streams_meet_the_default_cap_of_fifty(
    default_server: LiveServer,
) -> None:
    """S8 at the catalogue's size: one tenant opens 200 inbox streams at once; 50 are served,
    150 get 429 with Retry-After, none a 5xx, and another tenant still gets its stream."""
    run = uuid.uuid4().hex[:8]
    flood = default_server.mint(f"flood-{run}", "bot", ROLES)
    calm = default_server.mint(f"calm-{run}", "ada", ROLES)
    limits = httpx.Limits(max_connections=260, max_keepalive_connections=0)
    async with contextlib.AsyncExitStack() as stack:
        http = await stack.enter_async_context(
            httpx.AsyncClient(base_url=default_server.url, timeout=30, limits=limits)
        )

        async def open_stream(token: str) -> httpx.Response:
            request = http.build_request(
                "GET", "/inbox/stream", headers={"Authorization": f"Bearer {token}"}
            )
            return await stack.enter_async_context(_sent(http, request))

        answers = await asyncio.gather(*(open_stream(flood) for _ in range(200)))
        codes = Counter(answer.status_code for answer in answers)
        assert codes == {200: 50, 429: 150}, codes
        assert all(a.headers.get("retry-after") for a in answers if a.status_code == 429)
        assert (await open_stream(calm)).status_code == 200


@contextlib.asynccontextmanager
async def _sent(http: httpx.AsyncClient, request: httpx.Request) -> AsyncIterator[httpx.Response]:
    response = await http.send(request, stream=True)
    try:
        yield response
    finally:
        await response.aclose()
