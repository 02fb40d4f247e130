"""OCDS: mapping of an awarded competition, libcoveocds validation, ocdsmerge compiling, the export command."""

from __future__ import annotations

import json

from dps.transparency import services as transparency
from tests.factories import make_bid, make_competition_world, make_published_competition
from tests.transparency.support import assert_valid, awarded_competition, validate_package


async def test_an_awarded_competition_exports_releases_that_libcoveocds_validates(db, passwords, clock, settings):
    _, competition_id = await awarded_competition(db, passwords, clock, prices=(90_000_00, 100_000_00),
                                                  vat=18_000_00)
    releases = await transparency.all_releases(db, settings)
    ocid = f"{settings.ocid_prefix}-{competition_id}"
    assert [r["tag"] for r in releases] == [["tender"], ["award"], ["contract"]]
    assert {r["ocid"] for r in releases} == {ocid}
    package = transparency.package(releases, settings, uri="https://example.org/p", published_at=clock.now())
    assert_valid(package)
    award = releases[1]
    assert award["awards"][0]["value"] == {"amount": 90000, "currency": "GBP"}
    assert award["awards"][0]["suppliers"] == [{"id": "GB-COH-12000001", "name": "Acme Health Ltd"}]
    assert award["tender"]["numberOfTenderers"] == 2
    parties = {p["id"]: p for p in award["parties"]}
    assert parties["GB-NHS-RX1"]["identifier"] == {"scheme": "GB-NHS", "id": "RX1",
                                                  "legalName": "St Elsewhere NHS Foundation Trust"}
    assert parties["GB-COH-12000001"]["identifier"]["scheme"] == "GB-COH"
    assert parties["GB-COH-12000001"]["roles"] == ["supplier"]
    contract = releases[2]["contracts"][0]
    assert contract["value"] == {"amount": 90000, "currency": "GBP"}
    assert contract["milestones"] and all(m["type"] == "payment" for m in contract["milestones"])


async def test_the_validation_catches_a_broken_package(db, passwords, clock, settings):
    """The check itself can fail: a wrong currency and a missing date are reported."""
    await awarded_competition(db, passwords, clock)
    releases = await transparency.all_releases(db, settings)
    releases[1]["awards"][0]["value"]["currency"] = "ZZZ"
    del releases[0]["date"]
    result = validate_package(transparency.package(releases, settings, uri="https://example.org/p",
                                                   published_at=clock.now()))
    assert "'date' is missing but required" in json.dumps(result["validation_errors"])
    closed = result["additional_closed_codelist_values"]
    assert closed["releases/awards/value/currency"]["values"] == ["ZZZ"], closed


async def test_merging_the_releases_gives_the_expected_compiled_release(db, passwords, clock, settings):
    _, competition_id = await awarded_competition(db, passwords, clock, prices=(90_000_00, 100_000_00))
    ocid = f"{settings.ocid_prefix}-{competition_id}"
    record = await transparency.record(db, settings, ocid)
    assert record is not None
    compiled = record["compiledRelease"]
    assert compiled["ocid"] == ocid and compiled["tag"] == ["compiled"]
    # The award from the award release, its status updated by the contract release.
    assert len(compiled["awards"]) == 1
    award = compiled["awards"][0]
    assert award["status"] == "active" and award["value"]["amount"] == 90000
    assert award["suppliers"][0]["name"] == "Acme Health Ltd"
    # The tender: published fields kept, status and tenderer count from the award release.
    assert compiled["tender"]["title"] == "Remote monitoring for 200 virtual ward beds"
    assert compiled["tender"]["status"] == "complete" and compiled["tender"]["numberOfTenderers"] == 2
    assert compiled["tender"]["tenderPeriod"]["endDate"] == "2026-01-16T12:00:00Z"
    # Parties merged by id, roles replaced by the latest release.
    roles = {p["id"]: p["roles"] for p in compiled["parties"]}
    assert roles == {"GB-NHS-RX1": ["buyer", "procuringEntity", "payer"], "GB-COH-12000001": ["supplier", "payee"]}
    assert compiled["contracts"][0]["awardID"] == award["id"]
    assert compiled["date"] == record["releases"][-1]["date"]
    # The compiled release is itself a valid release.
    assert_valid(transparency.package([compiled], settings, uri="https://example.org/p", published_at=clock.now()))
    assert await transparency.record(db, settings, f"{settings.ocid_prefix}-999999") is None
    assert await transparency.record(db, settings, "another-prefix-1") is None


async def test_before_the_deadline_a_competition_shows_its_tender_only_and_nothing_about_bids(db, passwords, clock,
                                                                                              settings):
    world = await make_competition_world(db, passwords, clock)
    competition_id = await make_published_competition(db, clock, world=world)
    await make_bid(db, clock, party=world.bidders[0], competition_id=competition_id, price_pence=80_000_00)
    releases = await transparency.all_releases(db, settings)
    assert [r["tag"] for r in releases] == [["tender"]]
    text = json.dumps(releases)
    for secret in ("Acme", "12000001", "numberOfTenderers", "tenderers", "80000", "award"):
        assert secret not in text.replace("awardCriteria", ""), secret
    assert_valid(transparency.package(releases, settings, uri="https://example.org/p", published_at=clock.now()))
