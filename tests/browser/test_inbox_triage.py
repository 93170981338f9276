"""Issue 12: a reviewer triages the inbox in the browser. Rows say what is asked and are links
as a whole; j/k/Enter and ? work from the keyboard; the UI follows a dark system theme, fits a
390 px phone, and signs in from the printed link pasted into a tab already on the sign-in page.
Every test leaves a screenshot in test-results/screenshots/."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import TIMEOUT_MS, Tenant, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

AGO = re.compile(r"^(just now|\d+ s ago|\d+ min ago)$")


def signed_in(tenant: Tenant, browser: Browser, subject: str, **options: Any) -> Page:
    """A page of a new context (en-US, UTC unless told) signed in through the fragment."""
    context = browser.new_context(
        base_url=tenant.stack.url, locale="en-US", timezone_id="UTC", **options
    )
    context.set_default_timeout(TIMEOUT_MS)
    tenant.contexts.append(context)
    page = context.new_page()
    page.goto(f"/ui/#token={tenant.token(subject)}")
    expect(page.get_by_test_id("whoami")).to_have_text(f"{subject} @ {tenant.id}")
    return page


def publish_request(tenant: Tenant) -> dict[str, Any]:
    """Runs the publish workflow (a raw interrupt asking a question) to its pause."""
    return tenant.paused("publish_workflow", {"topic": "pumpkins"})


def row_of(page: Page, item: dict[str, Any]) -> Any:
    return page.locator(f'[data-testid="inbox-item"][data-item-id="{item["id"]}"]')


def saved(page: Page, name: str) -> None:
    screenshot(page, name)


def test_a_row_says_what_is_asked_and_opens_from_anywhere(tenant: Tenant, browser: Browser) -> None:
    tenant.member("rita", "reviewer")
    item = tenant.refund(amount=42)
    raw = publish_request(tenant)
    page = signed_in(tenant, browser, "rita")
    expect(page.get_by_test_id("live-status")).to_have_text("Live")

    row = row_of(page, item)
    expect(row.get_by_role("link")).to_have_text("refund")
    expect(row.get_by_test_id("key-args")).to_have_text(
        "amount: 42 · currency: EUR · order_id: A-1"
    )
    expect(row.get_by_test_id("amount")).to_have_text("€42.00")
    session = item["thread_id"].split(":", 1)[1]
    thread = row.get_by_test_id("thread")
    expect(thread).to_have_text(session[-8:])
    expect(thread).to_have_attribute("title", item["thread_id"])
    created = datetime.fromisoformat(item["created_at"]).astimezone(UTC)
    expect(row.get_by_test_id("created")).to_have_text(
        f"{created.day} {created:%b} {created:%H:%M}"
    )
    expect(row.get_by_test_id("age")).to_have_text(AGO)
    # a raw interrupt shows its question, not "(no description)"
    raw_row = row_of(page, raw)
    expect(raw_row.get_by_role("link")).to_have_text("publish_post")
    expect(raw_row.get_by_test_id("ask")).to_have_text("Publish this post?")
    expect(raw_row).not_to_contain_text("(no description)")
    saved(page, "inbox-rows")

    # a click on the time, far from the link's text, opens the item
    box = row.get_by_test_id("age").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(page.get_by_test_id("item-title")).to_have_text("refund")
    assert page.url.endswith(f"/ui/items/{item['id']}")

    # decided while the inbox is open: the row leaves, and who decided shows
    page.go_back()
    expect(page.get_by_test_id("live-status")).to_have_text("Live")
    tenant.accept(item, "rita")
    expect(row).to_have_count(0)
    done = page.locator(f'[data-testid="decided-item"][data-decided-id="{item["id"]}"]')
    expect(done).to_contain_text("Decided by rita")
    saved(page, "inbox-decided")


def test_keyboard_triage(tenant: Tenant, browser: Browser) -> None:
    tenant.member("rita", "reviewer")
    first = tenant.refund(order_id="K-1")
    second = tenant.refund(order_id="K-2")
    page = signed_in(tenant, browser, "rita")
    expect(page.get_by_test_id("inbox-item")).to_have_count(2)

    page.keyboard.press("j")
    expect(row_of(page, first)).to_have_attribute("aria-current", "true")
    page.keyboard.press("j")
    expect(row_of(page, second)).to_have_attribute("aria-current", "true")
    expect(row_of(page, second).get_by_role("link")).to_be_focused()
    expect(row_of(page, first)).not_to_have_attribute("aria-current", "true")
    page.keyboard.press("k")
    expect(row_of(page, first)).to_have_attribute("aria-current", "true")
    page.keyboard.press("j")
    saved(page, "inbox-keyboard-selection")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("item-title")).to_be_visible()
    assert page.url.endswith(f"/ui/items/{second['id']}")

    page.go_back()  # back in the inbox, the selection is where it was
    expect(row_of(page, second)).to_have_attribute("aria-current", "true")
    help_dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    page.keyboard.press("?")
    expect(help_dialog).to_be_visible()
    for key in ("j", "k", "Enter", "o", "a", "e", "r", "i", "?", "Esc"):
        expect(
            help_dialog.locator("kbd", has_text=re.compile(f"^{re.escape(key)}$"))
        ).to_be_visible()
    expect(help_dialog).to_contain_text("Accept")
    saved(page, "inbox-keyboard-help")
    page.keyboard.press("Escape")
    expect(help_dialog).to_be_hidden()

    # keys typed into a field are not shortcuts; o opens the selection
    page.get_by_label("Order").focus()
    page.keyboard.press("?")
    expect(help_dialog).to_be_hidden()
    page.keyboard.press("k")
    expect(row_of(page, second)).to_have_attribute("aria-current", "true")
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("k")
    expect(row_of(page, first)).to_have_attribute("aria-current", "true")
    page.keyboard.press("o")
    page.wait_for_url(re.compile(f"/ui/items/{first['id']}$"))
    expect(page.get_by_test_id("item-title")).to_be_visible()


def test_dark_mode_follows_the_system(tenant: Tenant, browser: Browser) -> None:
    tenant.member("rita", "reviewer")
    tenant.refund()
    page = signed_in(tenant, browser, "rita", color_scheme="dark")
    expect(page.get_by_test_id("inbox-item")).to_have_count(1)

    def colour(prop: str) -> tuple[int, ...]:
        value = page.evaluate(f"getComputedStyle(document.body).{prop}")
        return tuple(int(n) for n in re.findall(r"\d+", value)[:3])

    background, text = colour("backgroundColor"), colour("color")
    assert max(background) < 60, background
    assert min(text) > 180, text
    saved(page, "inbox-dark")

    page.emulate_media(color_scheme="light")
    assert min(colour("backgroundColor")) > 200


def test_the_inbox_fits_a_phone(tenant: Tenant, browser: Browser) -> None:
    tenant.member("rita", "reviewer")
    tenant.refund(order_id="PHONE-" + "X" * 60, reason="a very long reason " * 20)
    publish_request(tenant)
    page = signed_in(tenant, browser, "rita", viewport={"width": 390, "height": 844})
    expect(page.get_by_test_id("inbox-item")).to_have_count(2)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    saved(page, "inbox-390px")


def test_pasting_the_sign_in_link_into_the_sign_in_tab(tenant: Tenant, browser: Browser) -> None:
    tenant.member("rita", "reviewer")
    context = browser.new_context(base_url=tenant.stack.url)
    context.set_default_timeout(TIMEOUT_MS)
    tenant.contexts.append(context)
    page = context.new_page()
    page.goto("/ui/")
    expect(page.get_by_label("Access token (JWT)")).to_be_visible()
    page.evaluate("window.sameDocument = true")

    page.goto(f"/ui/#token={tenant.token('rita')}")  # as if pasted into the address bar
    expect(page.get_by_test_id("whoami")).to_have_text(f"rita @ {tenant.id}")
    assert "token" not in page.url
    assert page.evaluate("window.sameDocument") is True  # no reload: the hashchange did it
    saved(page, "signed-in-from-pasted-link")

    # the whole link pasted into the token field works too
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("Access token (JWT)").fill(
        f"{tenant.stack.url}/ui/#token={tenant.token('rita')}"
    )
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("whoami")).to_have_text(f"rita @ {tenant.id}")
