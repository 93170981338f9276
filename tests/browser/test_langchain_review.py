"""A reviewer reviews a LangChain v1 agent's batched request in the UI (issue 10): every tool
call with its args and the decisions it allows; approve one, edit another (a before/after table
shows the change), reject a third with a reason, answer the fourth; one submit; the agent
finishes with exactly those decisions. A per-call approval is reviewed the same way."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import Tenant, open_item

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

ASK = {"messages": [{"role": "user", "content": "Refund order B-7, 30 EUR: it came broken."}]}
TOOLS = ["lookup_order", "issue_refund", "send_email", "ask_customer"]


def paused(tenant: Tenant, graph: str) -> tuple[str, list[dict[str, Any]]]:
    """A thread of ``graph`` run (as alice) to its review; its inbox items."""
    thread = tenant.api("POST", "/threads", json={"metadata": {"case": uuid.uuid4().hex}})
    tid = thread.json()["thread_id"]
    run = tenant.api(
        "POST", f"/threads/{tid}/runs/wait", json={"assistant_id": graph, "input": ASK}
    )
    assert run.status_code == 200, run.text
    items = tenant.api("GET", "/inbox", params={"limit": 1000}).json()["items"]
    return tid, [i for i in items if i["thread_id"] == tid]


def tool_messages(tenant: Tenant, tid: str, count: int) -> dict[str, str]:
    """The tool results in the thread once the agent has finished its turn."""
    deadline = time.monotonic() + 20
    while True:
        thread = tenant.api("GET", f"/threads/{tid}").json()
        told = {
            m["name"]: m["content"]
            for m in thread["values"].get("messages", [])
            if m.get("type") == "tool"
        }
        if thread["status"] == "idle" and len(told) >= count:
            return told
        assert time.monotonic() < deadline, f"the agent did not finish: {thread['status']}"
        time.sleep(0.2)


def call(page: Page, tool: str) -> Any:
    return page.get_by_role("region", name=f"Tool call {tool}")


def test_a_batched_request_is_reviewed_call_by_call(tenant: Tenant, browser: Browser) -> None:
    tenant.member("eddie", "editor")
    tid, (item,) = paused(tenant, "support_agent")
    page = tenant.page("eddie", browser)
    open_item(page, item["id"])
    submit = page.get_by_role("button", name="Submit decisions")
    expect(submit).to_be_disabled()  # every call needs a decision first
    for tool in TOOLS:
        expect(call(page, tool)).to_be_visible()
    expect(call(page, "issue_refund").get_by_test_id("args")).to_contain_text("30")
    # each call offers only the decisions it allows
    lookup = call(page, "lookup_order").get_by_role("group", name="Decision on lookup_order")
    expect(lookup.get_by_role("button")).to_have_text(["Approve", "Reject"])

    lookup.get_by_role("button", name="Approve").click()
    refund = call(page, "issue_refund")
    refund.get_by_role("button", name="Edit").click()
    refund.get_by_label("amount").fill("25")
    diff = refund.get_by_role("table", name="Changes to issue_refund")
    expect(diff.get_by_role("row", name="amount")).to_contain_text("30")
    expect(diff.get_by_role("row", name="amount")).to_contain_text("25")
    email = call(page, "send_email")
    email.get_by_role("button", name="Reject").click()
    email.get_by_label("Reason for rejecting send_email (optional)").fill("No email today.")
    ask = call(page, "ask_customer")
    ask.get_by_role("button", name="Respond").click()
    expect(submit).to_be_disabled()  # a respond needs its message
    ask.get_by_label("Message for ask_customer").fill("Yes, a replacement please.")
    expect(submit).to_be_enabled()
    submit.click()
    page.get_by_role("button", name="Confirm reject").click()  # a reject is confirmed first
    expect(page.get_by_test_id("outcome")).to_contain_text("Resume run")

    told = tool_messages(tenant, tid, 4)
    assert told["lookup_order"].startswith("Order B-7")
    assert "Refunded 25.00 EUR on B-7." in told["issue_refund"]  # the edited args ran
    assert "No email today." in told["send_email"]  # rejected with the reason
    assert told["ask_customer"] == "Yes, a replacement please."
    assert tenant.item(item["id"])["status"] == "resolved"


def test_a_per_call_approval_and_an_editor_only_button(tenant: Tenant, browser: Browser) -> None:
    tenant.member("rita", "reviewer")
    _, items = paused(tenant, "support_agent_per_call")
    (refund,) = [i for i in items if i["actions"][0]["name"] == "issue_refund"]
    page = tenant.page("rita", browser)
    open_item(page, refund["id"])
    group = call(page, "issue_refund").get_by_role("group", name="Decision on issue_refund")
    expect(group.get_by_role("button")).to_have_text(["Approve", "Reject"])  # no edit right
    group.get_by_role("button", name="Approve").click()
    page.get_by_role("button", name="Submit decisions").click()
    expect(page.get_by_test_id("outcome")).to_contain_text("Resume run")
    assert tenant.item(refund["id"])["status"] == "resolved"
