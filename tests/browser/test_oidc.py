"""Sign-in with the organisation's identity provider (OIDC, authorization code + PKCE), in
Chromium, against a small provider this module starts on 127.0.0.1
(``tests/fixtures/oidc_provider.py``) and a live server configured for it: the provider's
tokens are trusted through ``COUNTERSIGN_JWT_ISSUERS`` like any other issuer's."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import TIMEOUT_MS, screenshot
from tests.fixtures.app import ROOT, TEST_SECRET
from tests.fixtures.live import LiveServer, server_env, start_server, stop_server
from tests.fixtures.oidc_provider import Provider, running_provider

CLIENT_ID = "countersign-ui"
TENANT = "acme-oidc"
TOKEN_SECONDS = 66  # renewed a minute before expiry: 6 s after sign-in


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    with running_provider(client_id=CLIENT_ID, tenant=TENANT, token_seconds=TOKEN_SECONDS) as op:
        yield op


@pytest.fixture(scope="module")
def server(provider: Provider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("oidc")
    issuers = [
        {
            "issuer": provider.url,
            "jwks": provider.write_jwks(tmp / "jwks.json"),
            "algorithms": ["RS256"],
            "audience": CLIENT_ID,
            "tenants": [TENANT],
        }
    ]
    env = {
        **server_env(ROOT / "langgraph.json", secret=TEST_SECRET, run_in_api=True),
        "COUNTERSIGN_JWT_ISSUERS": json.dumps(issuers),
        "COUNTERSIGN_OIDC_ISSUER": provider.url,
        "COUNTERSIGN_OIDC_CLIENT_ID": CLIENT_ID,
        "COUNTERSIGN_OIDC_NAME": "Test IdP",
    }
    live = start_server(tmp, env)
    try:
        yield live
    finally:
        stop_server(live)


def sign_in(page: Page, server: LiveServer, user: str, path: str = "") -> None:
    page.goto(f"{server.url}/ui/{path}")
    page.get_by_test_id("oidc-signin").click()
    expect(page.get_by_role("heading", name="Test identity provider")).to_be_visible()
    page.get_by_label("User name").fill(user)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_test_id("whoami")).to_have_text(f"{user} @ {TENANT}")


def test_sign_in_through_the_identity_provider(
    browser: Browser, server: LiveServer, provider: Provider
) -> None:
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        sign_in(page, server, "ada", path="audit")
        # back where the reviewer started, the code gone from the address bar
        expect(page).to_have_url(f"{server.url}/ui/audit")
        token = page.evaluate("sessionStorage.getItem('countersign.token')")
        assert token.count(".") == 2  # the provider's JWT, kept for this tab only
        claims = provider.issued[-1]
        assert claims["sub"] == "ada"
        assert claims["aud"] == CLIENT_ID
        assert claims["nonce"]  # the UI sent one and checked it came back
        # the API accepts it: the audit page loads for the provider's user
        expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
        screenshot(page, "oidc-signed-in")
    finally:
        context.close()


def test_the_token_is_renewed_before_it_expires(
    browser: Browser, server: LiveServer, provider: Provider
) -> None:
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        sign_in(page, server, "bo")
        first = page.evaluate("sessionStorage.getItem('countersign.token')")
        issued = len(provider.issued)
        deadline = time.monotonic() + 20
        while len(provider.issued) == issued:
            assert time.monotonic() < deadline, "the token was not renewed"
            time.sleep(0.2)
        expect(page.get_by_test_id("whoami")).to_have_text(f"bo @ {TENANT}")
        page.wait_for_function("t => sessionStorage.getItem('countersign.token') !== t", arg=first)
        screenshot(page, "oidc-renewed")
    finally:
        context.close()


def test_a_code_is_used_once_and_a_forged_callback_is_refused(
    browser: Browser, server: LiveServer
) -> None:
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        page.goto(f"{server.url}/ui/callback?code=stolen&state=guess")
        expect(page.get_by_role("alert")).to_contain_text("not started here")
        expect(page.get_by_test_id("oidc-signin")).to_be_visible()
        assert page.evaluate("sessionStorage.getItem('countersign.token')") is None
        screenshot(page, "oidc-refused")
    finally:
        context.close()


def test_the_ui_is_told_about_the_provider(server: LiveServer, provider: Provider) -> None:
    config = httpx.get(f"{server.url}/ui/config.json", timeout=5).json()
    assert config["oidc"]["issuer"] == provider.url
    assert config["oidc"]["client_id"] == CLIENT_ID
    assert config["dev_sign_in"] is True  # not production: the paste sign-in stays
    assert "secret" not in json.dumps(config).lower()
    # the UI may connect to its own origin and the provider's, nothing else
    policy = httpx.get(f"{server.url}/ui/", timeout=5).headers["content-security-policy"]
    assert f"connect-src 'self' {provider.url};" in policy
