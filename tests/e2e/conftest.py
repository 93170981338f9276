"""The live server the SDK end-to-end tests share: the test graphs, on each backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fixtures.app import ROOT, TEST_SECRET
from tests.fixtures.live import LiveServer, running, server_env


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    database_url = request.getfixturevalue("postgres_url") if request.param == "postgres" else ""
    env = server_env(
        ROOT / "tests" / "graphs" / "langgraph.json",
        secret=TEST_SECRET,
        run_in_api=True,
        database_url=database_url,
    )
    yield from running(tmp_path_factory.mktemp(f"live-{request.param}"), env)
