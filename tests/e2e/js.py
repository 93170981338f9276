"""Runs a script of ``tests/js`` (the official JS SDK, ``@langchain/langgraph-sdk``) against a
live server with two tenants' tokens, and answers the checks it passed (``harness.mjs``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid

from tests.fixtures.app import ROOT
from tests.fixtures.live import LiveServer

JS = ROOT / "tests" / "js"


def run_js(
    server: LiveServer, script: str, roles: tuple[str, ...], *, timeout: float = 180
) -> list[str]:
    """Node runs ``script`` as ``ada`` of tenant A (TOKEN_A) and ``bob`` of tenant B (TOKEN_B),
    both fresh; a failed check fails here with the script's report and its stderr."""
    node = shutil.which("node")
    assert node is not None, "Node.js is required (README: Requirements)"
    assert (JS / "node_modules" / "@langchain" / "langgraph-sdk").is_dir(), (
        "tests/js has no node_modules: run `make install`"
    )
    run = uuid.uuid4().hex[:8]
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(
        COUNTERSIGN_URL=server.url,
        TOKEN_A=server.mint(f"js-a-{run}", "ada", roles),
        TOKEN_B=server.mint(f"js-b-{run}", "bob", roles),
    )
    done = subprocess.run(
        [node, script], cwd=JS, env=env, capture_output=True, text=True, timeout=timeout
    )
    lines = done.stdout.strip().splitlines()
    report = json.loads(lines[-1]) if lines else {}
    assert done.returncode == 0, f"{report}\n{done.stderr[-3000:]}"
    checks: list[str] = report["checks"]
    return checks
