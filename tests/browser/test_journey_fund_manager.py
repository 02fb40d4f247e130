"""Journey 3 in a real browser: a fund manager signs in, filters the fund dashboard by fund, year and ICB, and
downloads the CSV, which holds exactly the rows (and the amounts) the filtered page shows. Every page passes axe."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from playwright.async_api import expect

from dps.funds import services
from tests.browser.support import MouseDriver
from tests.factories import ACTOR, POUND, icb, make_allocation, make_fund, make_fund_manager
from tests.helpers import PASSWORD

FUND_MANAGER = "finn@icb.example.nhs.uk"


async def books(db, clock) -> dict[str, int]:
    """Two funds, two ICBs, two years, revenue and capital; a commitment partly paid."""
    htaf = await make_fund(db, clock, name="HTAF")
    sbri = await make_fund(db, clock, name="SBRI", lapses_at_year_end=True)
    ids = {
        "qmf_rev": await make_allocation(db, clock, fund=htaf, ods="QMF", pounds=100_000),
        "qmf_cap": await make_allocation(db, clock, fund=htaf, ods="QMF", pounds=40_000, budget="capital"),
        "qop_rev": await make_allocation(db, clock, fund=htaf, ods="QOP", pounds=60_000),
        "qmf_old": await make_allocation(db, clock, fund=htaf, ods="QMF", pounds=10_000, year="2024/25"),
        "sbri_qmf": await make_allocation(db, clock, fund=sbri, ods="QMF", pounds=25_000),
    }
    qmf = (await icb(db, ods="QMF")).id
    commitment = await services.commit_funds(
        db, buyer_org_id=qmf, category_id=None, lines=[(ids["qmf_rev"], 30_000 * POUND), (ids["qmf_cap"], 12_345_67)],
        total_pence=30_000 * POUND + 12_345_67, reference="A-1", actor=ACTOR, now=clock.now())
    await services.record_payment(db, commitment_id=commitment.id, allocation_id=ids["qmf_rev"],
                                  pence=9_000 * POUND, actor=ACTOR, now=clock.now())
    await db.commit()
    return ids


def pence(text: str) -> int:
    return int(Decimal(text.replace("£", "").replace(",", "").strip()) * 100)


async def shown_rows(page) -> dict[int, list[str]]:
    rows = {}
    for row in await page.locator("#allocations-table tbody tr").all():
        # each cell's value, without the column heading a responsive table shows in it on a small screen
        cells = [text.strip() for text in await row.locator("td > span:not(.nhsuk-table__heading)").all_inner_texts()]
        rows[int(await row.get_attribute("data-allocation-id") or 0)] = cells
    return rows


async def test_a_fund_manager_filters_the_dashboard_and_downloads_the_csv(live_server, new_page, db, passwords,
                                                                          clock):
    ids = await books(db, clock)
    await make_fund_manager(db, passwords, clock, email=FUND_MANAGER)
    manager = MouseDriver(await new_page())

    await manager.open("/")
    # The NHS.UK stylesheet applies under the strict CSP (axe's colour checks would mean nothing without it).
    header_colour = await manager.page.locator("header.nhsuk-header").evaluate(
        "el => getComputedStyle(el).backgroundColor")
    assert header_colour == "rgb(0, 94, 184)"
    await manager.follow("Sign in", exact=True)
    await manager.fill_form({"email": FUND_MANAGER, "password": PASSWORD})
    await manager.press("Sign in", exact=True)
    await manager.follow("Buyer portal", exact=True)
    await manager.follow("Fund budgets")
    page = manager.page
    # It opens on this financial year and the manager's own ICB, not every allocation nationally.
    assert set(await shown_rows(page)) == {ids["qmf_rev"], ids["qmf_cap"], ids["sbri_qmf"]}
    await manager.select(manager.field("year"), "All years")
    await manager.select(manager.field("icb"), "All ICBs")
    await manager.press("Show allocations")
    assert set(await shown_rows(page)) == set(ids.values())  # everything, before filtering

    await manager.select(manager.field("fund"), "HTAF")
    await manager.select(manager.field("year"), "2025/26")
    await manager.select(manager.field("icb"), "NHS North East London Integrated Care Board (QMF)")
    await manager.press("Show allocations")
    assert "fund=" in page.url and "year=2025%2F26" in page.url and "icb=QMF" in page.url
    shown = await shown_rows(page)
    assert set(shown) == {ids["qmf_rev"], ids["qmf_cap"]}
    await expect(page.locator("#fund option:checked")).to_have_text("HTAF")  # the filter stays chosen

    async with page.expect_download() as started:
        await page.get_by_role("link", name="CSV (amounts in pounds", exact=False).click()
    download = await started.value
    assert download.suggested_filename == "fund-allocations.csv"
    text = (await download.path()).read_text(encoding="utf-8")
    exported = {int(row["allocation_id"]): row for row in csv.DictReader(io.StringIO(text))}
    assert set(exported) == set(shown)
    for allocation_id, cells in shown.items():
        row = exported[allocation_id]
        fund, year, icb, budget, allocated, committed, spent, remaining = cells
        assert (row["fund"], row["financial_year"], row["budget_type"]) == (fund.split()[0], year, budget.lower())
        assert f"({row['icb_ods_code']})" in icb
        assert [pence(row[f"{key}_pounds"]) for key in ("allocated", "committed", "spent", "remaining")] == \
            [pence(allocated), pence(committed), pence(spent), pence(remaining)]
    revenue = exported[ids["qmf_rev"]]
    assert [pence(revenue[f"{key}_pounds"]) for key in ("allocated", "committed", "spent", "remaining")] == \
        [100_000 * POUND, 21_000 * POUND, 9_000 * POUND, 70_000 * POUND]
