"""A reviewer decides interrupts of the demo refund agent in the browser; the API confirms it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.conftest import Tenant, open_item

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def decide_button(page: Page, name: str) -> Locator:
    return page.get_by_role("group", name="Decisions").get_by_role("button", name=name, exact=True)


def test_reviewer_signs_in_and_accepts(tenant: Tenant, browser: Browser) -> None:
    token = tenant.member("rita", "reviewer")
    item = tenant.refund(amount=42)

    context = browser.new_context(base_url=tenant.stack.url)
    tenant.contexts.append(context)
    page = context.new_page()
    page.goto("/ui/")
    page.get_by_label("Access token (JWT)").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("whoami")).to_have_text(f"rita @ {tenant.id}")
    expect(page.get_by_test_id("count-total")).to_have_text("1 pending")

    open_item(page, item["id"])
    expect(page.get_by_test_id("item-title")).to_have_text("refund")
    expect(page.get_by_test_id("item-description")).to_contain_text(
        "Customer Ada asks for a refund"
    )
    args = page.get_by_test_id("args")
    expect(args.get_by_role("row", name=re.compile("order_id"))).to_contain_text("A-1")
    expect(args.get_by_role("row", name=re.compile("amount"))).to_contain_text("42")
    # a reviewer may accept, respond and ignore, but editing needs the editor role
    for name in ("Accept", "Respond", "Ignore"):
        expect(decide_button(page, name)).to_be_visible()
    expect(decide_button(page, "Edit")).to_have_count(0)

    decide_button(page, "Accept").click()
    expect(page.get_by_test_id("outcome")).to_contain_text("Resume run")
    page.get_by_test_id("back-to-inbox").click()
    expect(page.get_by_test_id("flash")).to_contain_text("Resume run")
    expect(page.get_by_test_id("inbox-empty")).to_be_visible()
    expect(page.locator(f'[data-item-id="{item["id"]}"]')).to_have_count(0)

    thread = tenant.finished(item["thread_id"])
    assert thread["values"]["decision"]["type"] == "accept"
    assert thread["values"]["refunds"] == [{"order_id": "A-1", "amount": 42.0, "currency": "EUR"}]
    decided = tenant.item(item["id"])
    assert decided["status"] == "resolved"
    assert decided["resolution"]["resolved_by"] == "rita"


def test_editor_edits_the_args_and_the_graph_applies_them(tenant: Tenant, browser: Browser) -> None:
    tenant.member("eddie", "editor")
    item = tenant.refund(amount=80)
    page = tenant.page("eddie", browser)
    # the token came in the fragment and left the address bar
    expect(page.get_by_test_id("whoami")).to_have_text(f"eddie @ {tenant.id}")
    assert "token" not in page.url

    open_item(page, item["id"])
    decide_button(page, "Edit").click()
    form = page.get_by_role("form", name="Edit the arguments")
    form.get_by_role("button", name="Edit as JSON").click()
    form.get_by_label("Args (JSON)").fill('{"order_id": "A-1", "amount": 30,')
    form.get_by_role("button", name="Send edited args").click()
    expect(page.get_by_test_id("edit-invalid")).to_contain_text("Invalid JSON")
    assert tenant.item(item["id"])["status"] == "pending"  # nothing was sent

    form.get_by_label("Args (JSON)").fill('{"order_id": "A-1", "amount": 30, "currency": "EUR"}')
    form.get_by_role("button", name="Edit as form").click()
    expect(form.get_by_label("amount")).to_have_value("30")
    form.get_by_label("amount").fill("25.5")
    form.get_by_role("button", name="Send edited args").click()
    expect(page.get_by_test_id("outcome")).to_contain_text("Resume run")

    thread = tenant.finished(item["thread_id"])
    assert thread["values"]["decision"]["type"] == "edit"
    assert thread["values"]["refunds"] == [{"order_id": "A-1", "amount": 25.5, "currency": "EUR"}]


def test_respond_and_ignore(tenant: Tenant, browser: Browser) -> None:
    tenant.member("rita", "reviewer")
    first = tenant.refund(order_id="R-1")
    second = tenant.refund(order_id="R-2")
    page = tenant.page("rita", browser)
    expect(page.get_by_test_id("count-total")).to_have_text("2 pending")

    open_item(page, first["id"])
    decide_button(page, "Respond").click()
    page.get_by_label("Response to the agent").fill("Please send a photo of the damage.")
    page.get_by_role("button", name="Send response").click()
    page.get_by_test_id("back-to-inbox").click()
    expect(page.get_by_test_id("flash")).to_be_visible()

    open_item(page, second["id"])
    decide_button(page, "Ignore").click()
    page.get_by_role("button", name="Confirm ignore").click()
    page.get_by_test_id("back-to-inbox").click()
    expect(page.get_by_test_id("flash")).to_be_visible()
    expect(page.get_by_test_id("inbox-empty")).to_be_visible()

    responded = tenant.finished(first["thread_id"])["values"]
    assert responded["outcome"] == "declined with note"
    assert responded["decision"] == {
        "type": "response",
        "args": "Please send a photo of the damage.",
    }
    assert responded.get("refunds", []) == []
    ignored = tenant.finished(second["thread_id"])["values"]
    assert ignored["outcome"] == "ignored"
    assert ignored.get("refunds", []) == []


def test_live_inbox_shows_new_items_and_drops_decided_ones(
    tenant: Tenant, browser: Browser
) -> None:
    tenant.member("rita", "reviewer")
    page = tenant.page("rita", browser)
    expect(page.get_by_test_id("inbox-empty")).to_be_visible()
    expect(page.get_by_test_id("live-status")).to_have_text("Live")

    item = tenant.refund(order_id="L-1")  # created through the API while the inbox is open
    row = page.locator(f'[data-testid="inbox-item"][data-item-id="{item["id"]}"]')
    expect(row).to_be_visible()
    expect(row).to_contain_text("Customer Ada asks for a refund")
    expect(page.get_by_test_id("count-total")).to_have_text("1 pending")

    tenant.accept(item, "rita")
    expect(row).to_have_count(0)
    expect(page.get_by_test_id("count-total")).to_have_text("0 pending")


def test_second_reviewer_gets_a_conflict_and_nothing_resumes_twice(
    tenant: Tenant, browser: Browser
) -> None:
    tenant.member("rita", "reviewer")
    tenant.member("ravi", "reviewer")
    item = tenant.refund(order_id="C-1")
    first = tenant.page("rita", browser, f"items/{item['id']}")
    # ravi's page gets no live updates (they would show rita's decision before ravi's click)
    context = browser.new_context(base_url=tenant.stack.url)
    tenant.contexts.append(context)
    context.route("**/inbox/stream", lambda route: route.abort())
    second = context.new_page()
    second.goto(f"/ui/items/{item['id']}#token={tenant.token('ravi')}")
    expect(decide_button(first, "Accept")).to_be_visible()
    expect(decide_button(second, "Accept")).to_be_visible()

    decide_button(first, "Accept").click()
    expect(first.get_by_test_id("outcome")).to_be_visible()
    decide_button(second, "Accept").click()
    expect(second.get_by_test_id("conflict")).to_have_text(
        re.compile("Someone else decided this first")
    )
    # the page refreshed: the item shows who decided, and offers no buttons any more
    expect(second.get_by_test_id("item-status")).to_have_text("resolved")
    expect(second.get_by_test_id("resolution")).to_contain_text("rita")
    expect(second.get_by_role("group", name="Decisions")).to_have_count(0)

    thread = tenant.finished(item["thread_id"])
    assert len(thread["values"]["refunds"]) == 1
    runs = tenant.api("GET", f"/threads/{item['thread_id']}/runs").json()
    assert len(runs) == 2  # the first run, and exactly one resume
