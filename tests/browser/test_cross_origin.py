"""A browser app on another origin calls the API with a bearer token (Agent Inbox, agent-chat-ui,
any SPA): Chromium lets it read the answer when that origin is in ``COUNTERSIGN_CORS_ORIGINS``,
and refuses it otherwise (issue 10)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Browser

from tests.browser.conftest import TIMEOUT_MS
from tests.fixtures.app import ROOT, TEST_SECRET
from tests.fixtures.databases import fresh_database
from tests.fixtures.live import LiveServer, free_port, running, server_env

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

PAGE = """<!doctype html><meta charset="utf-8"><title>app</title><pre id="out">…</pre>
<script>
const {api, token} = JSON.parse(decodeURIComponent(location.hash.slice(1)));
fetch(api + "/threads/search", {
  method: "POST",
  headers: {"Authorization": "Bearer " + token, "Content-Type": "application/json"},
  body: JSON.stringify({limit: 5}),
})
  .then(async (r) => { document.getElementById("out").textContent = "ok " + r.status + " "
    + (r.headers.get("X-Request-Id") ? "id" : "no-id") + " " + (await r.text()); })
  .catch((e) => { document.getElementById("out").textContent = "refused " + e.name; });
</script>"""


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = PAGE.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        return None


@pytest.fixture(scope="module")
def app_port() -> Iterator[int]:
    """The other origin: a page server on 127.0.0.1 (also reachable as localhost)."""
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def api(app_port: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A production-configured server that allows one origin: the app's on 127.0.0.1."""
    with fresh_database() as database_url:
        env = server_env(
            ROOT / "langgraph.json", secret=TEST_SECRET, run_in_api=True, database_url=database_url
        )
        env["COUNTERSIGN_CORS_ORIGINS"] = json.dumps([f"http://127.0.0.1:{app_port}"])
        yield from running(tmp_path_factory.mktemp("cors"), env)


def load(browser: Browser, origin: str, api: LiveServer, token: str) -> str:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        args = json.dumps({"api": api.url, "token": token})
        page.goto(f"{origin}/#{args}")
        out = page.locator("#out")
        out.filter(has_text="ok").or_(out.filter(has_text="refused")).wait_for()
        return out.inner_text()
    finally:
        context.close()


def test_an_allowed_origin_reads_the_api_and_another_is_refused(
    api: LiveServer, app_port: int, browser: Browser
) -> None:
    token = api.mint("cors-tenant", "ada", ("agent",))
    allowed = load(browser, f"http://127.0.0.1:{app_port}", api, token)
    assert allowed.startswith("ok 200 id "), allowed  # the answer and an exposed header
    assert json.loads(allowed.split(" ", 3)[3]) == []
    refused = load(browser, f"http://localhost:{app_port}", api, token)  # another origin
    assert refused == "refused TypeError", refused
