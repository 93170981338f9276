"""Browser tests: the built UI in Debian's Chromium (Playwright), against a live server.

One live server (Postgres, API + worker in one process, the demo graphs of ``langgraph.json``)
and one Chromium serve the whole module set; every test gets a fresh tenant, so tests are
independent. Chromium comes from ``scripts/browser.sh`` (``make test`` runs it); when it or the
UI build is missing, the tests fail and say so — they never skip.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

from service.auth.jwt import mint_token
from service.settings import Settings
from tests.fixtures.app import ROOT, TEST_SECRET
from tests.fixtures.databases import fresh_database
from tests.fixtures.live import LiveServer, server_env, start_server, stop_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
UI_INDEX = ROOT / "frontend" / "dist" / "index.html"
PLATFORM_TENANT = "ops"
PLATFORM_ADMIN = "root"
TIMEOUT_MS = 10_000


def open_item(page: Page, item_id: str) -> None:
    """From the inbox, open the item's page through its row's link."""
    row = page.locator(f'[data-testid="inbox-item"][data-item-id="{item_id}"]')
    expect(row).to_be_visible()
    row.get_by_role("link").click()
    expect(page.get_by_test_id("item-title")).to_be_visible()


SCREENSHOTS = ROOT / "test-results" / "screenshots"


def screenshot(page: Page, name: str) -> Path:
    """Saves a full-page screenshot as ``test-results/screenshots/<name>.png`` (CI keeps the
    folder); returns its path, after checking the file was written."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 0, path
    return path


REFUND = {"order_id": "A-1", "amount": 42, "customer": "Ada", "reason": "broken on arrival"}
ACCEPT = {"type": "accept", "args": None}


@dataclass
class Stack:
    server: LiveServer
    settings: Settings
    root_headers: dict[str, str]

    @property
    def url(self) -> str:
        return self.server.url

    def token(self, tenant: str, subject: str) -> str:
        return mint_token(self.settings, tenant=tenant, subject=subject)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not UI_INDEX.is_file():
        pytest.fail(
            f"The web UI is not built ({UI_INDEX} is missing): run `make install` "
            "(or `cd frontend && npm ci && npm run build`)."
        )
    with fresh_database() as database_url:  # its own: it lives the whole session
        env = server_env(
            ROOT / "langgraph.json", secret=TEST_SECRET, run_in_api=True, database_url=database_url
        )
        server = start_server(tmp_path_factory.mktemp("browser"), env)
        try:
            server.cli(
                "policy", "platform-admin", "--tenant", PLATFORM_TENANT, "--sub", PLATFORM_ADMIN
            )
            settings = Settings(env="test", jwt_secret=TEST_SECRET)
            root = mint_token(settings, tenant=PLATFORM_TENANT, subject=PLATFORM_ADMIN)
            yield Stack(server, settings, {"Authorization": f"Bearer {root}"})
        finally:
            stop_server(server)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    # Module scope, not session: while Playwright's sync API is open its event loop counts as
    # running in this thread, and the async tests of later directories could not start theirs.
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is missing at {CHROMIUM}: run `sh scripts/browser.sh` as root "
            "(`make test` does) to install Debian's chromium package."
        )
    browser = playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


@dataclass
class Tenant:
    """A fresh tenant with a tenant admin ``alice``; other members are granted through the API."""

    id: str
    stack: Stack
    client: httpx.Client
    contexts: list[BrowserContext] = field(default_factory=list)

    def token(self, subject: str) -> str:
        return self.stack.token(self.id, subject)

    def headers(self, subject: str = "alice") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(subject)}"}

    def api(self, method: str, path: str, subject: str = "alice", **kwargs: Any) -> httpx.Response:
        return self.client.request(method, path, headers=self.headers(subject), **kwargs)

    def member(self, subject: str, *roles: str) -> str:
        """Gives ``subject`` the roles (as alice, the tenant admin) and returns its token."""
        for role in roles:
            done = self.api("POST", f"/policies/members/{subject}/roles", json={"role": role})
            assert done.status_code == 200, done.text
        return self.token(subject)

    def refund(self, **overrides: Any) -> dict[str, Any]:
        """Runs the demo refund agent as alice up to its interrupt; returns the inbox item."""
        return self.paused("refund_agent", {"request": {**REFUND, **overrides}})

    def paused(self, assistant_id: str, graph_input: dict[str, Any]) -> dict[str, Any]:
        """Runs a demo graph as alice up to its interrupt; returns the inbox item."""
        thread = self.api("POST", "/threads", json={"metadata": {"case": uuid.uuid4().hex}})
        assert thread.status_code == 200, thread.text
        tid = thread.json()["thread_id"]
        run = self.api(
            "POST",
            f"/threads/{tid}/runs/wait",
            json={"assistant_id": assistant_id, "input": graph_input},
        )
        assert run.status_code == 200, run.text
        items = self.api("GET", "/inbox", params={"limit": 1000}).json()["items"]
        (item,) = [i for i in items if i["thread_id"] == tid]
        return dict(item)

    def accept(self, item: dict[str, Any], subject: str) -> None:
        """``subject`` accepts the inbox item through the API, as another reviewer would."""
        decided = self.api(
            "POST",
            f"/inbox/{item['id']}/decision",
            subject=subject,
            json={"decision": ACCEPT, "payload_hash": item["payload_hash"]},
        )
        assert decided.status_code == 202, decided.text

    def item(self, item_id: str) -> dict[str, Any]:
        found = self.api("GET", f"/inbox/{item_id}")
        assert found.status_code == 200, found.text
        return dict(found.json())

    def finished(self, thread_id: str, timeout: float = 15.0) -> dict[str, Any]:
        """The thread once its resume run has finished (idle, with an outcome)."""
        deadline = time.monotonic() + timeout
        while True:
            thread = self.api("GET", f"/threads/{thread_id}").json()
            if thread["status"] == "idle" and thread["values"].get("outcome"):
                return dict(thread)
            assert time.monotonic() < deadline, f"thread not finished: {json.dumps(thread)}"
            time.sleep(0.1)

    def page(self, subject: str, browser: Browser, path: str = "") -> Page:
        """A new browser context signed in as ``subject`` through the ``#token=`` fragment."""
        context = browser.new_context(base_url=self.stack.url)
        context.set_default_timeout(TIMEOUT_MS)
        self.contexts.append(context)
        page = context.new_page()
        page.goto(f"/ui/{path}#token={self.token(subject)}")
        return page


@pytest.fixture
def make_tenant(stack: Stack) -> Iterator[Callable[[], Tenant]]:
    made: list[Tenant] = []

    def make() -> Tenant:
        tenant_id = f"ui-{uuid.uuid4().hex[:10]}"
        created = httpx.post(
            f"{stack.url}/platform/tenants",
            json={"tenant_id": tenant_id, "admins": ["alice"]},
            headers=stack.root_headers,
        )
        assert created.status_code == 201, created.text
        tenant = Tenant(tenant_id, stack, httpx.Client(base_url=stack.url, timeout=30))
        made.append(tenant)
        return tenant

    yield make
    for tenant in made:
        for context in tenant.contexts:
            context.close()
        tenant.client.close()


@pytest.fixture
def tenant(make_tenant: Callable[[], Tenant]) -> Tenant:
    return make_tenant()
