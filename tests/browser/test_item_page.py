"""The item page a reviewer triages on (issue 12): it follows the live inbox, keeps the engine's
internals behind "Details", shows the resumed run's outcome, diffs edited args, confirms an
ignore, and takes one-letter keys."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.conftest import Tenant, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def shot(page: Page, name: str) -> None:
    screenshot(page, f"item-page-{name}")


def decide_button(page: Page, name: str) -> Locator:
    return page.get_by_role("group", name="Decisions").get_by_role("button", name=name, exact=True)


def open_page(tenant: Tenant, browser: Browser, subject: str, item: dict[str, object]) -> Page:
    page = tenant.page(subject, browser, f"items/{item['id']}")
    expect(page.get_by_test_id("item-title")).to_have_text("refund")
    return page


def test_a_decision_made_elsewhere_shows_at_once(tenant: Tenant, browser: Browser) -> None:
    tenant.member("rita", "reviewer")
    tenant.member("ravi", "reviewer")
    item = tenant.refund(order_id="LIVE-1")
    page = open_page(tenant, browser, "rita", item)
    expect(decide_button(page, "Accept")).to_be_enabled()
    expect(page.get_by_test_id("item-live")).to_have_text("Live")
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads

    tenant.accept(item, "ravi")

    notice = page.get_by_test_id("live-decided")
    expect(notice).to_contain_text("Decided by ravi", timeout=5_000)
    expect(notice).to_contain_text("accepted")
    expect(page.get_by_test_id("item-status")).to_have_text("resolved")
    expect(page.get_by_test_id("resolution")).to_contain_text("ravi")
    expect(page.get_by_role("button", name="Accept", exact=True)).to_have_count(0)
    assert page.evaluate("window.__sameDocument") is True
    shot(page, "live")


def test_engine_details_are_hidden_until_opened(tenant: Tenant, browser: Browser) -> None:
    tenant.member("rita", "reviewer")
    item = tenant.refund(order_id="DET-1")
    page = open_page(tenant, browser, "rita", item)
    # what is asked, in plain words
    expect(page.get_by_test_id("item-description")).to_contain_text(
        "Customer Ada asks for a refund"
    )
    expect(page.get_by_test_id("args").first).to_contain_text("DET-1")
    # the engine's words are in the page, but not shown
    details = page.get_by_test_id("details")
    expect(details).not_to_have_attribute("open", "")
    expect(page.get_by_text("__start__").first).to_be_attached()
    expect(page.get_by_text("__start__").filter(visible=True)).to_have_count(0)
    expect(page.get_by_label("Thread state")).to_be_hidden()
    shot(page, "details-closed")

    details.locator("summary").click()
    expect(details.get_by_text("__start__").first).to_be_visible()
    expect(page.get_by_label("Thread state")).to_be_visible()
    shot(page, "details-open")


def test_accept_shows_the_run_outcome_and_next_item(tenant: Tenant, browser: Browser) -> None:
    tenant.member("rita", "reviewer")
    item = tenant.refund(order_id="OUT-1")
    later = tenant.refund(order_id="OUT-2")
    page = open_page(tenant, browser, "rita", item)

    decide_button(page, "Accept").click()
    outcome = page.get_by_test_id("outcome")
    expect(outcome).to_contain_text("Resume run")
    expect(outcome.get_by_test_id("run-status")).to_have_text("success", timeout=15_000)
    expect(outcome.get_by_test_id("outcome-value")).to_have_text("refunded")
    expect(page.get_by_test_id("item-status")).to_have_text("resolved")
    expect(page.get_by_test_id("live-decided")).to_have_count(0)  # our own decision is no news
    shot(page, "outcome")
    assert tenant.finished(item["thread_id"])["values"]["outcome"] == "refunded"

    outcome.get_by_role("button", name="Next item").click()
    expect(page).to_have_url(f"{tenant.stack.url}/ui/items/{later['id']}")
    expect(page.get_by_test_id("args").first).to_contain_text("OUT-2")
    expect(decide_button(page, "Accept")).to_be_enabled()


def test_edited_args_show_before_and_after(tenant: Tenant, browser: Browser) -> None:
    tenant.member("eddie", "editor")
    item = tenant.refund(order_id="DIFF-1", amount=80)
    page = open_page(tenant, browser, "eddie", item)

    decide_button(page, "Edit").click()
    form = page.get_by_role("form", name="Edit the arguments")
    expect(form.get_by_test_id("diff-summary")).to_have_text("No change yet.")
    form.get_by_label("amount").fill("30")
    diff = form.get_by_role("table", name="Changes to refund")
    changed = diff.get_by_test_id("diff-changed")
    expect(changed).to_have_count(1)  # only the edited field is highlighted
    expect(changed.get_by_role("rowheader")).to_have_text("amount")
    old, new = changed.locator("del"), changed.locator("ins")
    expect(old).to_have_text("80")
    expect(old).to_have_css("text-decoration-line", "line-through")
    expect(new).to_have_text("30")
    expect(diff.get_by_role("row", name="order_id")).to_contain_text("unchanged")
    shot(page, "diff")
    assert tenant.item(item["id"])["status"] == "pending"  # nothing sent yet

    form.get_by_role("button", name="Send edited args").click()
    expect(page.get_by_test_id("outcome")).to_be_visible()
    thread = tenant.finished(item["thread_id"])
    assert thread["values"]["refunds"] == [
        {"order_id": "DIFF-1", "amount": 30.0, "currency": "EUR"}
    ]


def test_ignore_waits_for_a_confirmation(tenant: Tenant, browser: Browser) -> None:
    tenant.member("rita", "reviewer")
    item = tenant.refund(order_id="IGN-1")
    page = open_page(tenant, browser, "rita", item)

    decide_button(page, "Ignore").click()
    confirm = page.get_by_test_id("confirm")
    expect(confirm.get_by_role("button", name="Confirm ignore")).to_be_focused()
    shot(page, "confirm")
    page.wait_for_timeout(300)
    assert tenant.item(item["id"])["status"] == "pending"  # nothing sent before the confirmation

    confirm.get_by_role("button", name="Cancel").click()
    expect(confirm).to_have_count(0)
    page.wait_for_timeout(300)
    assert tenant.item(item["id"])["status"] == "pending"
    expect(decide_button(page, "Accept")).to_be_enabled()

    decide_button(page, "Ignore").click()
    page.get_by_role("button", name="Confirm ignore").click()
    expect(page.get_by_test_id("outcome")).to_be_visible()
    assert tenant.finished(item["thread_id"])["values"]["outcome"] == "ignored"


def test_keyboard_triage(tenant: Tenant, browser: Browser) -> None:
    tenant.member("rita", "reviewer")
    item = tenant.refund(order_id="KEY-1")
    page = open_page(tenant, browser, "rita", item)
    expect(decide_button(page, "Accept").locator("kbd")).to_have_text("a")
    expect(decide_button(page, "Ignore").locator("kbd")).to_have_text("i")

    # i asks for the confirmation; Escape cancels it and stays on the page
    page.keyboard.press("i")
    expect(page.get_by_test_id("confirm")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("confirm")).to_have_count(0)
    expect(page.get_by_test_id("item-title")).to_be_visible()

    # r opens the response; letters typed there are text, not keys
    page.keyboard.press("r")
    answer = page.get_by_label("Response to the agent")
    expect(answer).to_be_focused()
    page.keyboard.type("ai")
    expect(answer).to_have_value("ai")
    expect(page.get_by_test_id("confirm")).to_have_count(0)
    assert tenant.item(item["id"])["status"] == "pending"

    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("a")
    expect(page.get_by_test_id("outcome")).to_be_visible()
    shot(page, "keyboard")
    thread = tenant.finished(item["thread_id"])
    assert thread["values"]["decision"]["type"] == "accept"

    page.keyboard.press("Escape")  # back to the inbox, which says what was sent
    expect(page.get_by_test_id("flash")).to_contain_text("Resume run")


def test_a_raw_interrupt_is_answered_only_with_what_was_typed(
    tenant: Tenant, browser: Browser
) -> None:
    tenant.member("rita", "reviewer")
    item = tenant.paused("publish_workflow", {"topic": "raw"})
    page = tenant.page("rita", browser, f"items/{item['id']}")

    expect(page.get_by_test_id("item-question")).to_have_text("Publish this post?")
    answer = page.get_by_label("Resume value (JSON)")
    expect(answer).to_have_value("")  # nothing is pre-filled
    send = page.get_by_role("button", name="Send answer")
    expect(send).to_be_disabled()
    answer.fill("false")
    shot(page, "raw")
    send.click()
    expect(page.get_by_test_id("run-status")).to_have_text("success", timeout=15_000)
    assert tenant.item(item["id"])["resolution"]["decision"] is False
