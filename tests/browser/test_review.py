"""A reviewer decides interrupts of the demo refund agent in the browser; the API confirms it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import Tenant

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def open_item(page: Page, item_id: str) -> None:
    row = page.locator(f'[data-testid="inbox-item"][data-item-id="{item_id}"]')
    expect(row).to_be_visible()
    row.get_by_role("link").click()
    expect(page.get_by_test_id("item-title")).to_be_visible()


def decide_button(page: Page, name: str):  # type: ignore[no-untyped-def]
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
    expect(page.get_by_test_id("item-description")).to_contain_text("Customer Ada asks for a refund")
    args = page.get_by_test_id("args")
    expect(args.get_by_role("row", name=re.compile("order_id"))).to_contain_text("A-1")
    expect(args.get_by_role("row", name=re.compile("amount"))).to_contain_text("42")
    # a reviewer may accept, respond and ignore, but editing needs the editor role
    for name in ("Accept", "Respond", "Ignore"):
        expect(decide_button(page, name)).to_be_visible()
    expect(decide_button(page, "Edit")).to_have_count(0)

    decide_button(page, "Accept").click()
    expect(page.get_by_test_id("flash")).to_contain_text("Resume run")
    expect(page.get_by_test_id("inbox-empty")).to_be_visible()
    expect(page.locator(f'[data-item-id="{item["id"]}"]')).to_have_count(0)

    thread = tenant.finished(item["thread_id"])
    assert thread["values"]["decision"]["type"] == "accept"
    assert thread["values"]["refunds"] == [{"order_id": "A-1", "amount": 42.0, "currency": "EUR"}]
    decided = tenant.item(item["id"])
    assert decided["status"] == "resolved"
    assert decided["resolution"]["resolved_by"] == "rita"
