"""The API reference in a real browser: served by the app with no internet (every other host fails to resolve) and
under the app's strict Content-Security-Policy, it lists the /api/v1 operations. Both pages pass axe."""

from __future__ import annotations

from playwright.async_api import expect

from tests.browser.support import check_accessibility, visit


async def test_the_api_reference_lists_the_operations_offline_under_the_csp(live_server, page):
    blocked: list[str] = []
    page.on("console", lambda message: blocked.append(message.text)
            if "Content Security Policy" in message.text else None)
    await visit(page, "/api/docs", axe=False)  # checked below, once the reference has rendered
    operations = page.locator(".opblock-summary-path")
    await expect(operations.first).to_be_visible(timeout=15_000)
    paths = set(await operations.all_inner_texts())
    assert {"/api/v1/innovations", "/api/v1/changes", "/api/v1/ocds/releases"} <= {p.replace("\u200b", "")
                                                                                 for p in paths}, paths
    assert blocked == [], blocked
    await check_accessibility(page)
    await visit(page, "/api/guide")
    await expect(page.get_by_role("heading", name="Your first request")).to_be_visible()
