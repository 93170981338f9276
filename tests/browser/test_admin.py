"""A tenant admin edits the policy in the browser, tests it, rolls it back, and checks the audit."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import Tenant

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def dry_run(page: Page, user: str, obj: str, action: str) -> None:
    form = page.get_by_role("form", name="Test a request")
    form.get_by_label("Principal").fill(user)
    form.get_by_label("Test object").fill(obj)
    form.get_by_label("Test action").fill(action)
    form.get_by_role("button", name="Test").click()


def test_admin_grants_tests_rolls_back_and_verifies_the_audit(
    tenant: Tenant, browser: Browser
) -> None:
    page = tenant.page("alice", browser, "admin")
    expect(page.get_by_role("heading", name="Tenant administration")).to_be_visible()
    before = tenant.api("GET", "/policies").json()["version"]
    expect(page.get_by_test_id("policy-version")).to_contain_text(f"version {before}")

    # a per-type role: refund_reviewer may decide refund interrupts
    page.get_by_role("tab", name="Roles").click()
    grant = page.get_by_role("form", name="Grant a permission")
    grant.get_by_label("Role").fill("refund_reviewer")
    grant.get_by_label("Object").fill("interrupt:refund")
    grant.get_by_label("Action").fill("decide")
    grant.get_by_role("button", name="Grant permission").click()
    expect(page.get_by_test_id("admin-notice")).to_contain_text(
        "Granted decide on interrupt:refund"
    )
    expect(page.get_by_test_id("role-refund_reviewer")).to_contain_text("decide interrupt:refund")

    page.get_by_role("tab", name="Members").click()
    assign = page.get_by_role("form", name="Assign a role")
    assign.get_by_label("User").fill("bob")
    assign.get_by_label("Role").select_option("refund_reviewer")
    assign.get_by_role("button", name="Assign role").click()
    expect(page.get_by_test_id("member-bob")).to_contain_text("refund_reviewer")
    assert tenant.api("GET", "/policies").json()["members"]["bob"] == ["role:refund_reviewer"]

    dry_run(page, "bob", "interrupt:refund", "decide")
    result = page.get_by_test_id("dry-run-result")
    expect(result).to_contain_text("allow")
    expect(page.get_by_test_id("dry-run-rule")).to_contain_text("role:refund_reviewer")
    dry_run(page, "bob", "interrupt:publish_post", "decide")
    expect(result).to_contain_text("deny")

    page.get_by_role("tab", name="History").click()
    history = page.get_by_test_id("history-table")
    expect(history.get_by_test_id(f"version-{before + 2}")).to_contain_text("alice")
    expect(history.get_by_test_id(f"version-{before + 1}")).to_contain_text("alice")
    history.get_by_test_id(f"version-{before}").get_by_role(
        "button", name=f"Roll back to v{before}"
    ).click()
    history.get_by_test_id(f"version-{before}").get_by_role(
        "button", name="Roll back", exact=True
    ).click()  # the inline confirmation
    expect(page.get_by_test_id("admin-notice")).to_contain_text(f"Rolled back to version {before}")
    page.get_by_role("tab", name="Members").click()
    expect(page.get_by_test_id("members")).to_be_visible()
    expect(page.get_by_test_id("member-bob")).to_have_count(0)
    assert "bob" not in tenant.api("GET", "/policies").json()["members"]

    dry_run(page, "bob", "interrupt:refund", "decide")
    expect(result).to_contain_text("deny")
    page.get_by_role("tab", name="History").click()
    expect(history.get_by_test_id(f"version-{before + 3}")).to_contain_text("rollback")

    page.get_by_role("navigation").get_by_role("link", name="Audit").click()
    expect(page.get_by_test_id("audit-event").first).to_be_visible()
    expect(page.get_by_test_id("audit-table")).to_contain_text("alice")
    page.get_by_role("button", name="Verify chain").click()
    expect(page.get_by_test_id("chain-report")).to_have_text(
        re.compile(r"Chain intact: \d+ events")
    )
    assert tenant.api("GET", "/audit/verify").json()["ok"] is True


def test_admin_explains_who_can_decide_and_effective_permissions(
    tenant: Tenant, browser: Browser
) -> None:
    tenant.member("rita", "reviewer")
    tenant.member("eddie", "editor")
    item = tenant.refund()
    page = tenant.page("alice", browser, "admin")

    who = page.get_by_role("form", name="Who can decide")
    who.get_by_label("Inbox item id").fill(item["id"])
    who.get_by_role("button", name="Ask").click()
    answer = page.get_by_test_id("who-can-decide")
    expect(answer).to_contain_text("rita")
    expect(answer.locator("dd").nth(3)).to_have_text("eddie")  # only the editor may edit

    effective = page.get_by_role("form", name="Effective permissions")
    effective.get_by_label("Effective user").fill("eddie")
    effective.get_by_role("button", name="Show").click()
    expect(page.get_by_test_id("effective")).to_contain_text("edit")
    expect(page.get_by_test_id("effective")).to_contain_text("interrupt:any")
