"""The fund pages over HTTP: the dashboard, CSV and JSON agree with each other and with the ledger; bad input
gets a clear message and changes nothing; only fund managers and authority admins get in."""

from __future__ import annotations

import base64
import csv
import io
import re
from decimal import Decimal

from dps.funds import services
from dps.funds.models import Commitment
from dps.identity.models import Role
from dps.money import format_pence
from tests.factories import (
    ACTOR,
    POUND,
    authority,
    category_id,
    icb,
    make_allocation,
    make_authority_user,
    make_fund,
    make_fund_manager,
    make_supplier,
    make_trust,
    make_user,
)
from tests.funds.support import balance, footprint, table_rows
from tests.helpers import count_rows, csrf_token, post_form, sign_in


async def books(db, clock):
    """Two funds, capital and revenue, two ICBs, a lapsed year; commitments, a payment, a refund, a release."""
    htaf = await make_fund(db, clock, name="HTAF")
    sbri = await make_fund(db, clock, name="SBRI", lapses_at_year_end=True)
    ids = {
        "qmf_rev": await make_allocation(db, clock, fund=htaf, ods="QMF", pounds=100_000),
        "qmf_cap": await make_allocation(db, clock, fund=htaf, ods="QMF", pounds=40_000, budget="capital"),
        "qop_rev": await make_allocation(db, clock, fund=htaf, ods="QOP", pounds=60_000),
        "old": await make_allocation(db, clock, fund=sbri, ods="QMF", pounds=10_000, year="2024/25"),
    }
    qmf = (await icb(db, ods="QMF")).id
    first = await services.commit_funds(db, buyer_org_id=qmf, category_id=None,
                                        lines=[(ids["qmf_rev"], 30_000 * POUND), (ids["qmf_cap"], 12_345_67)],
                                        total_pence=30_000 * POUND + 12_345_67, reference="A-1", actor=ACTOR,
                                        now=clock.now())
    await services.record_payment(db, commitment_id=first.id, allocation_id=ids["qmf_rev"], pence=9_000 * POUND,
                                  actor=ACTOR, now=clock.now())
    await services.record_refund(db, commitment_id=first.id, allocation_id=ids["qmf_rev"], pence=1_000 * POUND,
                                 reason="credit note", actor=ACTOR, now=clock.now())
    second = await services.commit_funds(db, buyer_org_id=(await icb(db, ods="QOP")).id, category_id=None,
                                         lines=[(ids["qop_rev"], 5_000 * POUND)], total_pence=5_000 * POUND,
                                         reference="B-1", actor=ACTOR, now=clock.now())
    await services.release_commitment(db, commitment_id=second.id, reason="ended", actor=ACTOR, now=clock.now())
    await db.commit()
    return ids


def pounds_text(value: str) -> int:
    return int(Decimal(value) * 100)


async def test_dashboard_csv_and_json_agree_with_each_other_and_with_the_ledger(client, db, passwords, clock):
    ids = await books(db, clock)
    await make_fund_manager(db, passwords, clock)
    await sign_in(client, "finn@icb.example.nhs.uk")
    ledger = await services.rebuild_balances(db)
    await db.commit()
    assert ledger[ids["qmf_rev"]].spent == 8_000 * POUND  # paid 9,000, refunded 1,000

    page = await client.get("/buyer/funds?year=&icb=")  # every year and ICB, as the JSON and CSV below
    assert page.status_code == 200
    html_rows = table_rows(page.text, "allocations-table")
    json_rows = {row["allocation_id"]: row for row in (await client.get("/buyer/funds/dashboard.json")).json()["rows"]}
    exported = await client.get("/buyer/funds/dashboard.csv")
    assert exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    csv_rows = {int(row["allocation_id"]): row for row in csv.DictReader(io.StringIO(exported.text))}

    assert set(html_rows) == set(json_rows) == set(csv_rows) == set(ledger) == set(ids.values())
    for allocation_id, expected in ledger.items():
        cells = html_rows[allocation_id]
        assert cells[4:8] == [format_pence(v) for v in (expected.allocated, expected.committed, expected.spent,
                                                          expected.remaining)]
        data = json_rows[allocation_id]
        assert (data["allocated_pence"], data["committed_pence"], data["spent_pence"], data["remaining_pence"]) == (
            expected.allocated, expected.committed, expected.spent, expected.remaining)
        row = csv_rows[allocation_id]
        assert [pounds_text(row[f"{k}_pounds"]) for k in ("allocated", "committed", "spent", "remaining")] == [
            expected.allocated, expected.committed, expected.spent, expected.remaining]
        assert expected == await balance(db, allocation_id)  # and the stored balances agree with the ledger
        assert data["fund"] == row["fund"] and cells[0].strip() == " ".join(
            (data["fund"], data["financial_year"], data["icb_ods_code"], data["budget_type"]))  # a unique link text
        assert data["budget_type"] == row["budget_type"] == cells[3].lower()
    assert json_rows[ids["old"]]["lapsed"] is True and csv_rows[ids["old"]]["lapsed"] == "yes"
    assert "Lapsed" in page.text
    assert "CSV (amounts in pounds" in page.text and "JSON (amounts in pence" in page.text
    assert re.fullmatch(r"-?\d+\.\d\d", next(iter(csv_rows.values()))["allocated_pounds"])  # two decimals
    totals = (await client.get("/buyer/funds/dashboard.json")).json()["totals"]
    assert set(totals) == {"capital", "revenue"}  # never netted into one figure
    assert totals["capital"]["remaining_pence"] == ledger[ids["qmf_cap"]].remaining


async def test_the_dashboard_opens_on_this_financial_year_and_the_managers_own_icb(client, db, passwords, clock):
    ids = await books(db, clock)
    await make_fund_manager(db, passwords, clock)  # of NHS North East London ICB (QMF)
    await sign_in(client, "finn@icb.example.nhs.uk")
    page = await client.get("/buyer/funds")
    assert set(table_rows(page.text, "allocations-table")) == {ids["qmf_rev"], ids["qmf_cap"]}  # 2025/26, QMF
    assert re.search(r'<option value="2025/26" selected', page.text) and re.search(r'value="QMF" selected', page.text)
    assert 'href="/buyer/funds/dashboard.csv?year=2025%2F26&amp;icb=QMF"' in page.text  # the download matches
    everything = await client.get("/buyer/funds?fund=&year=&icb=")  # "All years", "All ICBs" chosen
    assert set(table_rows(everything.text, "allocations-table")) == set(ids.values())
    links = re.findall(r'<a href="/buyer/funds/allocations/\d+">([^<]+)</a>', everything.text)
    assert len(links) == len(set(links)) == len(ids)  # every row's link text is unique
    assert "HTAF 2025/26 QMF revenue" in links


async def test_filters_apply_to_all_three_and_the_chart_is_a_server_drawn_svg_with_a_table(client, db, passwords,
                                                                                            clock):
    ids = await books(db, clock)
    await make_fund_manager(db, passwords, clock)
    await sign_in(client, "finn@icb.example.nhs.uk")
    for query, expected in (("?icb=QOP", {ids["qop_rev"]}), ("?year=2024/25", {ids["old"]}),
                            ("?icb=QMF&year=2025/26", {ids["qmf_rev"], ids["qmf_cap"]}),
                            ("?icb=nonsense&year=20x", set(ids.values()))):
        page = await client.get(f"/buyer/funds{query}")
        data = (await client.get(f"/buyer/funds/dashboard.json{query}")).json()
        exported = (await client.get(f"/buyer/funds/dashboard.csv{query}")).text
        assert set(table_rows(page.text, "allocations-table")) == expected, query
        assert {row["allocation_id"] for row in data["rows"]} == expected, query
        assert {int(row["allocation_id"]) for row in csv.DictReader(io.StringIO(exported))} == expected, query
        if query.startswith("?icb=QOP"):
            assert f'href="/buyer/funds/dashboard.csv{query}"' in page.text  # the export keeps the filters

    # The chart: matplotlib's SVG, and the same month-end figures as a table for screen readers.
    page = await client.get("/buyer/funds?year=2025/26")
    marker = 'src="data:image/svg+xml;base64,'
    assert marker in page.text
    encoded = page.text.split(marker, 1)[1].split('"', 1)[0]
    svg = base64.b64decode(encoded).decode()
    assert "<svg" in svg and "Committed (not yet paid)" in svg and "Spent" in svg
    months = [row for row in page.text.split('id="chart-table"', 1)[1].split("</table>", 1)[0].split("<tr")[2:]]
    assert len(months) == 10  # April 2025 to January 2026 (the clock's month); later months have not started
    expected = [await balance(db, ids[key]) for key in ("qmf_rev", "qmf_cap", "qop_rev")]
    january = months[-1]
    assert "31 January 2026" in january
    assert format_pence(sum(b.committed for b in expected)) in january
    assert format_pence(sum(b.spent for b in expected)) in january
    assert f"{format_pence(0)}</span></td>" in months[0]  # nothing committed in April


async def test_anonymous_visitors_are_sent_to_sign_in(client):
    for path in ("/buyer/funds", "/buyer/funds/dashboard.csv", "/buyer/funds/dashboard.json",
                 "/buyer/funds/commitments/new", "/authority/funds"):
        response = await client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?reason=required"), path


async def test_only_fund_managers_see_fund_pages_and_only_authority_admins_define_funds(client, db, passwords, clock):
    supplier = await make_supplier(db, clock)
    await make_user(db, passwords, clock, email="sam@acme.example", organisation=supplier, role=Role.SUPPLIER_ADMIN)
    rx1 = await make_trust(db, clock)
    await make_user(db, passwords, clock, email="bea@trust.example", organisation=rx1, role=Role.BUYER)
    await make_authority_user(db, passwords, clock, email="ada@authority.example", role=Role.AUTHORITY_ADMIN)
    await make_authority_user(db, passwords, clock, email="eve@authority.example", role=Role.EVALUATOR)
    await make_fund_manager(db, passwords, clock)
    expected = {
        "sam@acme.example": {"/buyer/funds": 403, "/buyer/funds/dashboard.json": 403, "/authority/funds": 403},
        "bea@trust.example": {"/buyer/funds": 403, "/buyer/funds/dashboard.json": 403, "/authority/funds": 403},
        "eve@authority.example": {"/buyer/funds": 403, "/buyer/funds/dashboard.json": 403, "/authority/funds": 403},
        "ada@authority.example": {"/buyer/funds": 403, "/buyer/funds/dashboard.json": 403, "/authority/funds": 200},
        "finn@icb.example.nhs.uk": {"/buyer/funds": 200, "/buyer/funds/dashboard.json": 200, "/authority/funds": 403},
    }
    for email, paths in expected.items():
        client.cookies.clear()
        await sign_in(client, email)
        assert {path: (await client.get(path)).status_code for path in paths} == paths, email
    home = await client.get("/buyer")  # still signed in as the fund manager
    assert 'href="/buyer/funds"' in home.text
    client.cookies.clear()
    await sign_in(client, "bea@trust.example")
    assert 'href="/buyer/funds"' not in (await client.get("/buyer")).text
    client.cookies.clear()
    await sign_in(client, "ada@authority.example")
    assert 'href="/authority/funds"' in (await client.get("/authority")).text
    client.cookies.clear()
    await sign_in(client, "sam@acme.example")
    refused = await client.get("/buyer/funds/dashboard.csv")
    assert refused.status_code == 403 and "You do not have permission" in refused.text


async def test_adjusting_below_committed_plus_spent_is_refused_with_a_clear_message(client, db, passwords, clock):
    ids = await books(db, clock)
    await make_fund_manager(db, passwords, clock)
    await sign_in(client, "finn@icb.example.nhs.uk")
    path = f"/buyer/funds/allocations/{ids['qmf_rev']}"
    before = await footprint(db)

    response = await post_form(client, f"{path}/adjust", {"direction": "decrease", "amount": "70,000.01",
                                                          "reason": "Reprofiled"}, form_page=path)
    assert response.status_code == 400
    assert "There is a problem" in response.text
    assert "cannot go below what is committed and spent (£30,000.00)" in response.text
    assert "(£0.01 short)" in response.text
    assert 'href="#amount"' in response.text and 'value="70,000.01"' in response.text
    missing = await post_form(client, f"{path}/adjust", {"direction": "decrease", "amount": "10"}, form_page=path)
    assert missing.status_code == 400 and "Enter the reason for the adjustment" in missing.text
    no_token = await client.post(f"{path}/adjust", data={"direction": "increase", "amount": "5", "reason": "x"})
    assert no_token.status_code == 403
    assert await footprint(db) == before

    done = await post_form(client, f"{path}/adjust", {"direction": "decrease", "amount": "70,000.00",
                                                      "reason": "Reprofiled"}, form_page=path)
    assert done.status_code == 303
    assert (await balance(db, ids["qmf_rev"])).remaining == 0
    page = await client.get(path)
    assert "Reprofiled" in page.text and "-£70,000.00" in page.text  # the ledger shows the adjustment


async def test_a_fund_manager_changes_only_the_allocations_they_manage(client, db, passwords, clock):
    ids = await books(db, clock)
    await make_fund_manager(db, passwords, clock)  # QMF's fund manager
    await sign_in(client, "finn@icb.example.nhs.uk")
    before = await footprint(db)
    path = f"/buyer/funds/allocations/{ids['qop_rev']}"
    page = await client.get(path)
    assert page.status_code == 200 and "Adjust the allocation" not in page.text
    response = await post_form(client, f"{path}/adjust", {"direction": "increase", "amount": "5", "reason": "x"},
                               form_page=path)
    assert response.status_code == 403
    form = {"reference": "X-1", "buyer_organisation_id": str((await icb(db, ods="QOP")).id), "total": "10",
            "line-1-allocation": str(ids["qop_rev"]), "line-1-amount": "10"}
    assert (await commitment_form(client, form)).status_code == 403
    assert await footprint(db) == before


async def commitment_form(client, data):
    return await post_form(client, "/buyer/funds/commitments", data, form_page="/buyer/funds/commitments/new")


async def test_off_platform_commitments_refuse_bad_splits_ineligible_buyers_and_awards_over_the_cap(
        client, db, passwords, clock):
    ai = await category_id(db, "ai-diagnostics")
    open_fund = await make_fund(db, clock, name="Open Fund")
    aidf = await make_fund(db, clock, name="AI Diagnostic Fund", eligible_buyer_types=frozenset({"trust"}),
                           per_award_cap_pence=1_000 * POUND)
    open_id = await make_allocation(db, clock, fund=open_fund, ods="QMF", pounds=10_000)
    aidf_id = await make_allocation(db, clock, fund=aidf, ods="QMF", pounds=10_000, budget="capital")
    rj1 = (await make_trust(db, clock, name="Guy's and St Thomas' NHS Foundation Trust", ods="RJ1")).id  # QKK
    barts = (await make_trust(db, clock, name="Barts Health NHS Trust", ods="R1H")).id  # in north east London
    qmf = (await icb(db, ods="QMF")).id
    await make_fund_manager(db, passwords, clock)
    await sign_in(client, "finn@icb.example.nhs.uk")
    form_page = await client.get("/buyer/funds/commitments/new")
    assert "Open Fund 2025/26" in form_page.text and "(£10,000.00 remaining)" in form_page.text
    before = await footprint(db)

    short = await commitment_form(client, {
        "reference": "PO-1", "buyer_organisation_id": str(qmf), "total": "1,500", "line-1-allocation": str(open_id),
        "line-1-amount": "1,000", "line-2-allocation": str(aidf_id), "line-2-amount": "400"})
    assert short.status_code == 400
    assert "adds up to £1,400.00, £100.00 short of £1,500.00" in short.text
    assert 'value="PO-1"' in short.text  # what was typed is kept

    wrong_buyer = await commitment_form(client, {
        "reference": "PO-1", "buyer_organisation_id": str(qmf), "total": "500", "line-1-allocation": str(aidf_id),
        "line-1-amount": "500"})
    assert wrong_buyer.status_code == 400
    assert "Fund rule: AI Diagnostic Fund is open to NHS trusts only" in wrong_buyer.text

    foreign = await commitment_form(client, {
        "reference": "PO-1", "buyer_organisation_id": str(rj1), "category_id": str(ai), "total": "500",
        "line-1-allocation": str(aidf_id), "line-1-amount": "500"})
    assert foreign.status_code == 400
    assert ("Fund rule: money stays in its ICB. Guy&#39;s and St Thomas&#39; NHS Foundation Trust cannot draw on "
            "AI Diagnostic Fund 2025/26, NHS North East London Integrated Care Board (QMF), capital: it belongs to "
            "NHS South East London Integrated Care Board (QKK) and can draw only on that ICB&#39;s allocations or on "
            "national funds" in foreign.text)

    over_cap = await commitment_form(client, {
        "reference": "PO-1", "buyer_organisation_id": str(barts), "category_id": str(ai), "total": "1,200",
        "line-1-allocation": str(aidf_id), "line-1-amount": "1,200"})
    assert over_cap.status_code == 400
    assert "caps one award at £1,000.00: this split draws £1,200.00 from it, £200.00 over the cap" in over_cap.text

    too_much = await commitment_form(client, {
        "reference": "PO-1", "buyer_organisation_id": str(qmf), "total": "10,000.01",
        "line-1-allocation": str(open_id), "line-1-amount": "10,000.01"})
    assert too_much.status_code == 400 and "(£0.01 short)" in too_much.text

    half_row = await commitment_form(client, {"reference": "PO-1", "buyer_organisation_id": str(qmf), "total": "5",
                                              "line-1-allocation": str(open_id)})
    assert half_row.status_code == 400 and "Enter the amount for line 1 of the split" in half_row.text
    assert await footprint(db) == before
    assert await count_rows(db, Commitment) == 0

    made = await commitment_form(client, {
        "reference": "PO-1", "buyer_organisation_id": str(barts), "category_id": str(ai), "total": "1,500",
        "line-1-allocation": str(open_id), "line-1-amount": "600", "line-2-allocation": str(aidf_id),
        "line-2-amount": "900", "description": "AI chest X-ray"})
    assert made.status_code == 303
    page = await client.get(made.headers["location"])
    assert "Commitment PO-1" in page.text and "£1,500.00" in page.text
    assert (await balance(db, open_id)).committed == 600 * POUND
    assert (await balance(db, aidf_id)).committed == 900 * POUND


async def test_payments_refunds_and_release_through_the_commitment_page(client, db, passwords, clock):
    fund = await make_fund(db, clock)
    allocation = await make_allocation(db, clock, fund=fund, ods="QMF", pounds=10_000)
    await make_fund_manager(db, passwords, clock)
    await sign_in(client, "finn@icb.example.nhs.uk")
    made = await commitment_form(client, {"reference": "PO-9", "buyer_organisation_id": str((await icb(db)).id),
                                          "total": "2,000", "line-1-allocation": str(allocation),
                                          "line-1-amount": "2,000"})
    page = made.headers["location"]
    base = f"{page}/lines/{allocation}"

    too_much = await post_form(client, f"{base}/pay", {"amount": "2,000.01"}, form_page=page)
    assert too_much.status_code == 400 and "a payment of £2,000.01 is £0.01 too much" in too_much.text
    assert 'href="#pay-' in too_much.text
    paid = await post_form(client, f"{base}/pay", {"amount": "1,500", "reason": "Milestone 1"}, page)
    assert paid.status_code == 303
    refunded = await post_form(client, f"{base}/refund", {"amount": "200", "reason": "Credit note"}, page)
    assert refunded.status_code == 303
    no_reason = await post_form(client, f"{page}/release", {"reason": ""}, form_page=page)
    assert no_reason.status_code == 400 and "Enter why the commitment is being released" in no_reason.text
    assert (await post_form(client, f"{page}/release", {"reason": "Under budget"}, page)).status_code == 303

    assert await balance(db, allocation) == services.Balance(10_000 * POUND, 0, 1_300 * POUND)
    shown = await client.get(page)
    assert "Released" in shown.text and "Release the commitment" not in shown.text
    assert await services.check_books(db) == []
    await db.commit()


async def test_authority_admins_define_funds_allocate_and_adjust(client, db, passwords, clock):
    await make_authority_user(db, passwords, clock, email="ada@authority.example", role=Role.AUTHORITY_ADMIN)
    await sign_in(client, "ada@authority.example")
    owner = str((await authority(db)).id)
    ai = str(await category_id(db, "ai-diagnostics"))

    missing = await post_form(client, "/authority/funds", {"name": "", "owner_organisation_id": owner,
                                                           "lapses_at_year_end": "yes", "national": "no"},
                             "/authority/funds/new")
    assert missing.status_code == 400 and "Enter the fund&#39;s name" in missing.text
    bad_share = await post_form(client, "/authority/funds", {"name": "AIDF", "owner_organisation_id": owner,
                                                             "match_funding": "150", "lapses_at_year_end": "yes",
                                                             "national": "no"},
                                "/authority/funds/new")
    assert bad_share.status_code == 400 and "match-funding share" in bad_share.text

    token = await csrf_token(client, "/authority/funds/new")
    wards = str(await category_id(db, "imaging"))
    created = await client.post("/authority/funds", data={
        "_csrf_token": token, "name": "AI Diagnostic Fund", "description": "£21m for trusts",
        "owner_organisation_id": owner, "eligible_category_ids": [ai, wards], "eligible_buyer_types": ["trust"],
        "match_funding": "12.5", "per_award_cap": "3,000,000", "lapses_at_year_end": "no"})
    assert created.status_code == 400 and "Choose whether this is a national fund" in created.text
    created = await client.post("/authority/funds", data={
        "_csrf_token": token, "name": "AI Diagnostic Fund", "description": "£21m for trusts",
        "owner_organisation_id": owner, "eligible_category_ids": [ai, wards], "eligible_buyer_types": ["trust"],
        "match_funding": "12.5", "per_award_cap": "3,000,000", "lapses_at_year_end": "no", "national": "yes"})
    assert created.status_code == 303
    fund_page = created.headers["location"]
    shown = await client.get(fund_page)
    assert "AI Diagnostic Fund" in shown.text and "NHS trusts" in shown.text and "12.5%" in shown.text
    assert "£3,000,000.00" in shown.text and "Carries on" in shown.text
    assert "Any NHS buyer: a national fund" in shown.text
    assert "AI diagnostics and decision support" in shown.text and "Digital and 3D imaging" in shown.text

    qkk = str((await icb(db, ods="QKK")).id)
    allocation = {"financial_year": "2025/26", "icb_organisation_id": qkk, "budget_type": "capital",
                  "amount": "1,260,000"}
    assert (await post_form(client, f"{fund_page}/allocations", allocation, fund_page)).status_code == 303
    again = await post_form(client, f"{fund_page}/allocations", allocation, fund_page)
    assert again.status_code == 400 and "already has a capital allocation" in again.text
    bad_year = await post_form(client, f"{fund_page}/allocations", {**allocation, "financial_year": "2025"}, fund_page)
    assert bad_year.status_code == 400 and "Enter a financial year like 2025/26" in bad_year.text

    shown = await client.get(fund_page)
    allocation_path = shown.text.split('href="/authority/funds/allocations/', 1)[1].split('"', 1)[0]
    path = f"/authority/funds/allocations/{allocation_path}"
    adjusted = await post_form(client, f"{path}/adjust", {"direction": "increase", "amount": "40,000",
                                                          "reason": "Second tranche"}, path)
    assert adjusted.status_code == 303
    assert (await balance(db, int(allocation_path))).allocated == 1_300_000 * POUND
    assert await services.check_books(db) == []
    await db.commit()
