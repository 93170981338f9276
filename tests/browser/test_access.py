"""What the UI shows people who may not do something: other tenants, viewers, non-admins."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import Tenant

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def test_a_reviewer_of_another_tenant_sees_nothing_of_it(
    make_tenant: Callable[[], Tenant], browser: Browser
) -> None:
    a, b = make_tenant(), make_tenant()
    a.member("rita", "reviewer")
    b.member("bert", "reviewer")
    item = a.refund()

    page = b.page("bert", browser)
    expect(page.get_by_test_id("live-status")).to_have_text("Live")
    expect(page.get_by_test_id("inbox-empty")).to_be_visible()
    expect(page.get_by_test_id("count-total")).to_have_text("0 pending")
    a.refund(order_id="A-2")  # live events of tenant A never reach B either
    page.wait_for_timeout(500)
    expect(page.get_by_test_id("inbox-item")).to_have_count(0)

    page.goto(f"/ui/items/{item['id']}")
    expect(page.get_by_test_id("item-error")).to_contain_text("Not found")
    expect(page.get_by_role("button", name="Accept")).to_have_count(0)
    # tenant A's reviewer does see it
    own = a.page("rita", browser, f"items/{item['id']}")
    expect(own.get_by_role("button", name="Accept")).to_be_visible()


def test_a_viewer_sees_no_decision_buttons(tenant: Tenant, browser: Browser) -> None:
    tenant.member("vic", "viewer")
    item = tenant.refund()
    page = tenant.page("vic", browser)
    row = page.locator(f'[data-item-id="{item["id"]}"]')
    expect(row).to_contain_text("view only")
    row.get_by_role("link").click()
    expect(page.get_by_test_id("item-title")).to_have_text("refund")
    expect(page.get_by_test_id("cannot-decide")).to_be_visible()
    for name in ("Accept", "Edit", "Respond", "Ignore"):
        expect(page.get_by_role("button", name=name, exact=True)).to_have_count(0)
    assert tenant.item(item["id"])["status"] == "pending"


def test_a_non_admin_is_refused_the_admin_and_audit_pages(tenant: Tenant, browser: Browser) -> None:
    tenant.member("rita", "reviewer")
    page = tenant.page("rita", browser, "admin")
    expect(page.get_by_test_id("admin-error")).to_contain_text("Not allowed")
    expect(page.get_by_role("heading", name="Members")).to_have_count(0)
    page.get_by_role("navigation").get_by_role("link", name="Audit").click()
    expect(page.get_by_test_id("audit-error")).to_contain_text("Not allowed")


def test_a_bad_token_goes_back_to_sign_in(tenant: Tenant, browser: Browser) -> None:
    page = tenant.page("rita", browser)
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("Access token (JWT)").fill("not-a-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not a JWT")
    header, payload, _ = tenant.token("rita").split(".")
    page.get_by_label("Access token (JWT)").fill(f"{header}.{payload}.forged")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("signin-reason")).to_contain_text("Your token was refused")
