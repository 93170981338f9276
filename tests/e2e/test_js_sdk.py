"""The official JS SDK (``@langchain/langgraph-sdk``, in ``tests/js``) against a live server on
both backends: ``tests/js/sdk_conformance.mjs`` drives it with two tenants' tokens."""

from __future__ import annotations

import pytest

from tests.e2e.js import run_js
from tests.fixtures.app import ROOT
from tests.fixtures.live import LiveServer

pytestmark = pytest.mark.e2e
JS = ROOT / "tests" / "js"
ROLES = ("tenant_admin", "editor", "agent")
EXPECTED = [
    "threads.create",
    "runs.create returns the run",
    "runs.join",
    "threads.getState",
    "threads.search and count",
    "runs.wait with command.resume",
    "threads.getHistory",
    "threads.updateState",
    "runs.stream values + updates",
    "runs.stream messages (LangChain agent tokens)",
    "runs.cancel",
    "threads.joinStream",
    "two tenants are isolated",
]


def test_the_js_sdk_works_unmodified(server: LiveServer) -> None:
    assert run_js(server, "sdk_conformance.mjs", ROLES) == EXPECTED
