"""Issue 12: the admin page is a structured policy editor. A permission grid grants and revokes,
removing a member's role asks first, history diffs a version against the current rules and rolls
back, the audit log verifies its chain and filters, webhooks are created and deleted. Every test
leaves a screenshot in test-results/screenshots/."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import Tenant, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

HOOK_URL = "https://93.184.216.34/hooks/countersign"  # a public address: no DNS, SSRF-clean


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def grants(tenant: Tenant, user: str) -> set[tuple[str, str]]:
    """(object, action) pairs the API says ``user`` holds."""
    found = tenant.api("GET", f"/policies/effective/{user}")
    assert found.status_code == 200, found.text
    return {(p["object"], p["action"]) for p in found.json()["permissions"]}


def admin(tenant: Tenant, browser: Browser, tab: str) -> Page:
    page = tenant.page("alice", browser, "admin")
    expect(page.get_by_role("heading", name="Tenant administration")).to_be_visible()
    page.get_by_role("tab", name=tab).click()
    expect(page.get_by_role("tab", name=tab)).to_have_attribute("aria-selected", "true")
    return page


def test_grid_grants_a_permission_that_takes_effect_and_revokes_it_after_confirming(
    tenant: Tenant, browser: Browser
) -> None:
    tenant.member("bob", "viewer")
    assert ("interrupt:refund", "decide") not in grants(tenant, "bob")
    page = admin(tenant, browser, "Permissions")

    grid = page.get_by_test_id("permission-grid")
    expect(grid.get_by_role("columnheader", name="any", exact=True)).to_be_visible()
    column = page.get_by_role("form", name="Add an interrupt type column")
    column.get_by_label("Interrupt type").fill("refund")
    column.get_by_role("button", name="Add column").click()
    box = grid.get_by_role("checkbox", name="viewer may decide refund", exact=True)
    expect(box).not_to_be_checked()
    box.click()
    expect(page.get_by_test_id("admin-notice")).to_contain_text(
        "Granted decide on interrupt:refund to viewer"
    )
    expect(box).to_be_checked()
    assert ("interrupt:refund", "decide") in grants(tenant, "bob")

    # the dry run beside the editor agrees
    dry = page.get_by_role("form", name="Test a request")
    dry.get_by_label("Principal").fill("bob")
    dry.get_by_label("Test object").fill("interrupt:refund")
    dry.get_by_label("Test action").fill("decide")
    dry.get_by_role("button", name="Test").click()
    expect(page.get_by_test_id("dry-run-result")).to_contain_text("allow")
    screenshot(page, "admin-grid-granted")

    # unticking asks first; Cancel keeps the grant, Confirm revokes it
    box.click()
    confirm = page.get_by_test_id("grid-confirm")
    expect(confirm).to_contain_text("Revoke decide on interrupt:refund from viewer?")
    confirm.get_by_role("button", name="Cancel").click()
    expect(confirm).to_have_count(0)
    expect(box).to_be_checked()
    assert ("interrupt:refund", "decide") in grants(tenant, "bob")
    box.click()
    confirm.get_by_role("button", name="Confirm").click()
    expect(box).not_to_be_checked()
    assert ("interrupt:refund", "decide") not in grants(tenant, "bob")


def test_removing_a_members_role_asks_for_confirmation(tenant: Tenant, browser: Browser) -> None:
    tenant.member("bob", "reviewer", "viewer")
    page = admin(tenant, browser, "Members")
    row = page.get_by_test_id("member-bob")
    expect(row).to_contain_text("reviewer")

    remove = row.get_by_role("button", name="Remove role reviewer from bob")
    remove.click()
    question = row.get_by_role("group", name="Remove role reviewer from bob?")
    expect(question).to_be_visible()
    expect(question).to_contain_text("Remove role reviewer from bob?")
    screenshot(page, "admin-member-confirm")
    question.get_by_role("button", name="Cancel").click()
    expect(question).to_have_count(0)
    expect(row.get_by_test_id("member-role-reviewer")).to_be_visible()
    assert "role:reviewer" in tenant.api("GET", "/policies").json()["members"]["bob"]

    remove.click()
    question.get_by_role("button", name="Confirm").click()
    expect(page.get_by_test_id("admin-notice")).to_contain_text("Removed reviewer from bob")
    expect(row.get_by_test_id("member-role-reviewer")).to_have_count(0)
    expect(row.get_by_test_id("member-role-viewer")).to_be_visible()
    assert tenant.api("GET", "/policies").json()["members"]["bob"] == ["role:viewer"]


def test_history_diff_shows_a_change_and_rollback_restores_the_rules(
    tenant: Tenant, browser: Browser
) -> None:
    before = tenant.api("GET", "/policies/export").json()
    page = admin(tenant, browser, "Permissions")
    page.get_by_test_id("permission-grid").get_by_role(
        "checkbox", name="viewer may edit any", exact=True
    ).click()
    expect(page.get_by_test_id("policy-version")).to_contain_text(
        f"version {before['version'] + 1}"
    )
    added = f"p, role:viewer, {tenant.id}, interrupt:any, edit, any"

    page.get_by_role("tab", name="History").click()
    version = page.get_by_test_id(f"version-{before['version']}")
    version.get_by_role("button", name=f"Compare v{before['version']} with current").click()
    diff = page.get_by_test_id("policy-diff")
    expect(diff.get_by_test_id("diff-added")).to_have_text([re.compile(re.escape(added))])
    expect(diff.get_by_test_id("diff-removed")).to_have_count(0)
    screenshot(page, "admin-history-diff")

    version.get_by_role("button", name=f"Roll back to v{before['version']}").click()
    version.get_by_role("button", name="Roll back", exact=True).click()
    expect(page.get_by_test_id("admin-notice")).to_contain_text(
        f"Rolled back to version {before['version']}"
    )
    after = tenant.api("GET", "/policies/export").json()
    assert after["rules"] == before["rules"]
    assert after["version"] == before["version"] + 2
    version.get_by_role("button", name=f"Compare v{before['version']} with current").click()
    expect(diff).to_contain_text("Same rules.")


def test_audit_verifies_the_chain_and_filters_by_action(tenant: Tenant, browser: Browser) -> None:
    tenant.member("bob", "reviewer")
    made = tenant.api("POST", "/webhooks", json={"url": HOOK_URL, "events": ["run.completed"]})
    assert made.status_code == 201, made.text
    events: list[dict[str, Any]] = tenant.api("GET", "/audit", params={"limit": 1000}).json()
    hooks = [e for e in events if e["action"] == "webhook.create"]
    assert len(hooks) == 1
    assert len(events) > 1

    page = tenant.page("alice", browser, "audit")
    rows = page.get_by_test_id("audit-event")
    expect(rows).to_have_count(len(events))
    page.get_by_role("button", name="Verify chain").click()
    expect(page.get_by_test_id("chain-report")).to_have_text(
        re.compile(r"Chain intact: \d+ events checked")
    )
    assert tenant.api("GET", "/audit/verify").json()["ok"] is True

    filters = page.get_by_role("form", name="Filter the audit log")
    filters.get_by_label("Action").fill("webhook.create")
    filters.get_by_role("button", name="Apply filters").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("webhook.create")
    expect(page.get_by_test_id("audit-count")).to_contain_text("1 event shown")
    screenshot(page, "audit-verified-filtered")

    filters.get_by_label("Action").fill("")
    filters.get_by_label("Actor").fill("nobody-such")
    filters.get_by_role("button", name="Apply filters").click()
    expect(rows).to_have_count(0)
    # the actor filter is the server's: every event alice made, not only the loaded ones
    by_alice = [e for e in events if e["actor"] == "alice"]
    assert by_alice
    filters.get_by_label("Actor").fill("alice")
    filters.get_by_role("button", name="Apply filters").click()
    expect(rows).to_have_count(len(by_alice))
    filters.get_by_role("button", name="Clear").click()
    expect(rows).to_have_count(len(events))


def test_webhook_create_shows_the_secret_once_and_delete_asks_first(
    tenant: Tenant, browser: Browser
) -> None:
    page = admin(tenant, browser, "Webhooks")
    form = page.get_by_role("form", name="Add a webhook")
    form.get_by_label("Payload URL").fill(HOOK_URL)
    form.get_by_label("interrupt.resolved").check()
    form.get_by_role("button", name="Add webhook").click()
    row = page.get_by_test_id("webhook-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(HOOK_URL)
    expect(row).to_contain_text("interrupt.resolved")
    expect(page.get_by_test_id("webhook-secret-value")).not_to_be_empty()
    listed = tenant.api("GET", "/webhooks").json()
    assert [(h["url"], sorted(h["events"])) for h in listed] == [
        (HOOK_URL, ["interrupt.created", "interrupt.resolved"])
    ]
    screenshot(page, "admin-webhook-created")

    row.get_by_role("button", name=f"Delete webhook {HOOK_URL}").click()
    row.get_by_role("button", name="Cancel").click()
    expect(row).to_have_count(1)
    row.get_by_role("button", name=f"Delete webhook {HOOK_URL}").click()
    row.get_by_role("button", name="Delete webhook", exact=True).click()
    expect(page.get_by_test_id("webhook-notice")).to_contain_text("Deleted the webhook")
    expect(row).to_have_count(0)
    eventually(lambda: tenant.api("GET", "/webhooks").json() == [])


def test_role_create_and_delete_after_confirming(tenant: Tenant, browser: Browser) -> None:
    page = admin(tenant, browser, "Roles")
    create = page.get_by_role("form", name="Create a role")
    create.get_by_label("Role name").fill("finance_reviewer")
    create.get_by_label("First action").select_option("decide")
    create.get_by_label("Interrupt type").select_option("any")
    create.get_by_role("button", name="Create role").click()
    row = page.get_by_test_id("role-finance_reviewer")
    expect(row).to_contain_text("decide interrupt:any")
    tenant.member("carol", "finance_reviewer")
    page.reload()
    page.get_by_role("tab", name="Roles").click()
    expect(row.get_by_role("cell").nth(2)).to_have_text("1")  # members holding it

    row.get_by_role("button", name="Delete role finance_reviewer").click()
    expect(row).to_contain_text("remove it from 1 member(s)?")
    screenshot(page, "admin-role-delete-confirm")
    row.get_by_role("button", name="Delete role", exact=True).click()
    expect(row).to_have_count(0)
    policy = tenant.api("GET", "/policies").json()
    assert "role:finance_reviewer" not in policy["roles"]
    assert "carol" not in policy["members"]
