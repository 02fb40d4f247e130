"""The open data publication policy in a real browser: reached from the footer, it passes axe and fits a phone
(375 px) without scrolling sideways, long addresses included."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.browser.support import check_accessibility, visit

PHONE = {"width": 375, "height": 812}
OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


async def test_the_publication_policy_is_reached_from_the_footer_and_fits_a_phone(live_server, new_page, backend):
    if backend != "sqlite":
        pytest.skip("the page is the same markup on either database")
    page = await new_page(viewport=PHONE)
    await visit(page, "/contracts-register")
    await page.locator("footer").get_by_role("link", name="Open data publication policy").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Open data publication policy")
    await check_accessibility(page)
    assert await page.evaluate(OVERFLOW) <= 0
    registry = page.locator("#registry ~ dl")
    await expect(registry).to_contain_text(live_server.settings.ocid_prefix)
    await expect(registry).to_contain_text(f"{live_server.settings.base_url}/api/v1/ocds/bulk")
