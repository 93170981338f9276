"""S10: an interrupt whose payload carries markup is shown as text: no script of it runs, in the
inbox or on the item page."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import Tenant, open_item

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

MARKUP = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'


def test_a_payload_with_markup_is_text_and_runs_nothing(tenant: Tenant, browser: Browser) -> None:
    tenant.member("rita", "reviewer")
    item = tenant.refund(customer=MARKUP, reason=MARKUP, order_id=MARKUP)
    page = tenant.page("rita", browser)
    open_item(page, item["id"])
    expect(page.get_by_test_id("item-description")).to_contain_text(MARKUP)  # as text
    expect(page.get_by_test_id("args")).to_contain_text(MARKUP)
    page.wait_for_timeout(500)  # an image error handler would have fired by now
    assert page.evaluate("window.__pwned") is None
    assert page.locator("img[src='x']").count() == 0
