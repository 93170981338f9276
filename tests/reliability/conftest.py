"""Fixtures of the fault tests: one cluster per test module, a driver per test.

Nothing here skips: without Postgres or ``redis-server`` the tests fail and say why.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.reliability.harness import Cluster, Driver, log


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "reliability: fault test against a live cluster (RELIABILITY.md R-tests)"
    )
    config.addinivalue_line("markers", "slow: takes more than a few seconds")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    try:
        running = Cluster(tmp_path_factory.mktemp("cluster"))
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        running.start()
    except BaseException as exc:
        running.close()
        pytest.fail(f"could not start the reliability cluster: {exc}", pytrace=False)
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
async def driver(cluster: Cluster, request: pytest.FixtureRequest) -> AsyncIterator[Driver]:
    cluster.ensure_workers()
    cluster.sink.fail_until = 0.0
    client = Driver(cluster)
    try:
        yield client
    finally:
        await client.aclose()
        failed = getattr(request.node, "rep_call", None)
        if failed is not None and failed.failed:
            for proc in cluster.workers:
                log(
                    f"--- {proc.name} (pid {proc.pid}, alive {proc.alive()}) ---\n"
                    f"{proc.log_tail(30)}"
                )
            for server in cluster.apis:
                log(f"--- api {server.url} ---\n{server.log()[-3000:]}")
        cluster.ensure_workers()
