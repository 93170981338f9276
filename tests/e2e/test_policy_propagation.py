"""A policy change on one API process is enforced by another within 5 seconds."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.fixtures.app import ROOT, TEST_SECRET
from tests.fixtures.live import LiveServer, server_env, start_server, stop_server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def two_apis(
    postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LiveServer, LiveServer]]:
    env = server_env(
        ROOT / "tests" / "graphs" / "langgraph.json",
        secret=TEST_SECRET,
        run_in_api=False,
        database_url=postgres_url,
    )
    tmp = tmp_path_factory.mktemp("two-apis")
    first = start_server(tmp / "one", env, command=("api",))
    try:
        second = start_server(tmp / "two", env, command=("api",))
    except BaseException:
        stop_server(first)
        raise
    try:
        yield first, second
    finally:
        stop_server(second)
        stop_server(first)


def test_revoked_role_is_denied_by_the_other_process_within_5s(
    two_apis: tuple[LiveServer, LiveServer],
) -> None:
    one, two = two_apis
    tenant = f"prop-{uuid.uuid4().hex[:8]}"
    admin = {"Authorization": f"Bearer {one.mint(tenant, 'alice', ('tenant_admin',))}"}
    viewer = {"Authorization": f"Bearer {one.mint(tenant, 'vic', ('viewer',))}"}

    assert httpx.post(f"{two.url}/threads/search", json={}, headers=viewer).status_code == 200
    assert httpx.post(f"{one.url}/threads/search", json={}, headers=viewer).status_code == 200

    revoked = httpx.delete(f"{one.url}/policies/members/vic/roles/viewer", headers=admin)
    assert revoked.status_code == 200, revoked.text
    started = time.monotonic()
    assert httpx.post(f"{one.url}/threads/search", json={}, headers=viewer).status_code == 403
    while httpx.post(f"{two.url}/threads/search", json={}, headers=viewer).status_code != 403:
        assert time.monotonic() - started < 5.0, "the other process still allows after 5 s"
        time.sleep(0.05)
    elapsed = time.monotonic() - started
    print(f"revocation enforced by the other process after {elapsed:.2f} s")
    assert elapsed < 5.0

    granted = httpx.post(
        f"{one.url}/policies/members/vic/roles", json={"role": "viewer"}, headers=admin
    )
    assert granted.status_code == 200
    started = time.monotonic()
    while httpx.post(f"{two.url}/threads/search", json={}, headers=viewer).status_code != 200:
        assert time.monotonic() - started < 5.0, "the grant did not reach the other process"
        time.sleep(0.05)
