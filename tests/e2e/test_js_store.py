"""The store of the official JS SDK (``client.store`` of ``@langchain/langgraph-sdk``, in
``tests/js``) against a live server on both backends: ``tests/js/store.mjs`` drives it with two
tenants' tokens."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid

import pytest

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
    node = shutil.which("node")
    assert node is not None, "Node.js is required (README: Requirements)"
    assert (JS / "node_modules" / "@langchain" / "langgraph-sdk").is_dir(), (
        "tests/js has no node_modules: run `make install`"
    )
    run = uuid.uuid4().hex[:8]
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("LANGGRAPH_API_KEY", "LANGSMITH_API_KEY", "LANGCHAIN_API_KEY")
    }
    env.update(
        COUNTERSIGN_URL=server.url,
        TOKEN_A=server.mint(f"js-store-a-{run}", "ada", ROLES),
        TOKEN_B=server.mint(f"js-store-b-{run}", "bob", ROLES),
    )
    done = subprocess.run(
        [node, "store.mjs"], cwd=JS, env=env, capture_output=True, text=True, timeout=120
    )
    lines = done.stdout.strip().splitlines()
    report = json.loads(lines[-1]) if lines else {}
    assert done.returncode == 0, f"{report}\n{done.stderr[-3000:]}"
    assert report["checks"] == EXPECTED
