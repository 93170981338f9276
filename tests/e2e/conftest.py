"""The live server the SDK end-to-end tests share: the test graphs, on each backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fixtures.app import ROOT, TEST_SECRET
from tests.fixtures.databases import fresh_database
from tests.fixtures.live import LiveServer, running, server_env


def on_backend(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    **env: str,
) -> Iterator[LiveServer]:
    """A live server of the test graphs on the backend ``request.param`` names (``sqlite`` or
    ``postgres``, a database of its own), with ``env`` added: for module fixtures
    parametrized over both."""
    tmp = tmp_path_factory.mktemp(f"{name}-{request.param}")
    graphs = ROOT / "tests" / "graphs" / "langgraph.json"
    if request.param != "postgres":
        server = server_env(graphs, secret=TEST_SECRET, run_in_api=True, database_url="")
        yield from running(tmp, {**server, **env})
        return
    with fresh_database() as database_url:
        server = server_env(graphs, secret=TEST_SECRET, run_in_api=True, database_url=database_url)
        yield from running(tmp, {**server, **env})


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    yield from on_backend(request, tmp_path_factory, "live")
