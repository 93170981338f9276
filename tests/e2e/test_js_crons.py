"""Crons through the official JS SDK (``client.crons`` of ``@langchain/langgraph-sdk``, in
``tests/js``) against a live server on both backends: ``tests/js/crons.mjs`` drives it with two
tenants' tokens."""

from __future__ import annotations

import pytest

from tests.e2e.js import run_js
from tests.fixtures.app import ROOT
from tests.fixtures.live import LiveServer

pytestmark = pytest.mark.e2e
JS = ROOT / "tests" / "js"
ROLES = ("tenant_admin", "agent")
EXPECTED = [
    "crons.createForThread",
    "crons.create (stateless)",
    "crons.search and count",
    "crons.update",
    "a cron fires until its end",
    "crons.delete",
    "invalid schedule is 422",
    "two tenants are isolated",
]


def test_js_sdk_crons(server: LiveServer) -> None:
    assert run_js(server, "crons.mjs", ROLES) == EXPECTED
