"""The store of the official JS SDK (``client.store`` of ``@langchain/langgraph-sdk``, in
``tests/js``) against a live server on both backends: ``tests/js/store.mjs`` drives it with two
tenants' tokens."""

from __future__ import annotations

import pytest

from tests.e2e.js import run_js
from tests.fixtures.app import ROOT
from tests.fixtures.live import LiveServer

pytestmark = pytest.mark.e2e
JS = ROOT / "tests" / "js"
ROLES = ("tenant_admin", "editor", "agent")
EXPECTED = [
    "store.putItem and getItem",
    "store.searchItems",
    "store.listNamespaces",
    "store.deleteItem",
    "two tenants are isolated",
]


def test_the_js_sdk_store(server: LiveServer) -> None:
    assert run_js(server, "store.mjs", ROLES, timeout=120) == EXPECTED
