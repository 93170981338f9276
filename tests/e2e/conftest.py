"""The live server the SDK end-to-end tests share: the test graphs, on each backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fixtures.app import ROOT, TEST_SECRET
from tests.fixtures.live import LiveServer, running, server_env


def on_backend(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    **env: str,
) -> Iterator[LiveServer]:
    """A live server of the test graphs on the backend ``request.param`` names (``sqlite`` or
    ``postgres``), with ``env`` added: for module fixtures parametrized over both."""
    database_url = request.getfixturevalue("postgres_url") if request.param == "postgres" else ""
    server = server_env(
        ROOT / "tests" / "graphs" / "langgraph.json",
        secret=TEST_SECRET,
        run_in_api=True,
        database_url=database_url,
    )
    yield from running(tmp_path_factory.mktemp(f"{name}-{request.param}"), {**server, **env})


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    yield from on_backend(request, tmp_path_factory, "live")
