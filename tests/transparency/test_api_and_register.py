"""The OCDS API endpoints (API key, pagination, records, the sealed-bid rule) and the public contracts register."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from dps.api_keys.services import create_api_key
from dps.audit.services import Actor
from tests.factories import make_bid, make_competition_world, make_published_competition, make_supplier, make_trust
from tests.transparency.support import assert_valid, awarded_competition


async def api_key(db, clock) -> dict[str, str]:
    _, secret = await create_api_key(db, name="transparency tests", actor=Actor.system("test"), now=clock.now(),
                                     rate_limit_per_minute=1000)
    await db.commit()
    return {"Authorization": f"Bearer {secret}"}


async def test_the_ocds_api_is_open_without_a_key_and_serves_valid_packages_and_records(client, db, passwords, clock,
                                                                                        settings):
    _, competition_id = await awarded_competition(db, passwords, clock, vat=18_000_00)
    ocid = f"{settings.ocid_prefix}-{competition_id}"
    for path in ("/api/v1/ocds/releases", f"/api/v1/ocds/records/{ocid}", "/api/v1/contracts-register"):
        anonymous = await client.get(path)
        assert anonymous.status_code == 200 and int(anonymous.headers["ratelimit-remaining"]) >= 0
        revoked = await client.get(path, headers={"Authorization": "Bearer dpsk_not-a-real-key"})
        assert revoked.status_code == 401 and revoked.headers["content-type"].startswith("application/problem+json")
    headers = await api_key(db, clock)
    response = await client.get("/api/v1/ocds/releases", headers=headers)
    assert response.status_code == 200, response.text
    package = response.json()
    assert [r["tag"] for r in package["releases"]] == [["tender"], ["award"], ["contract"]]
    assert "next" not in package.get("links", {})
    package.pop("links", None)
    assert_valid(package)
    # `since` keeps the releases dated at or after it.
    since = package["releases"][1]["date"]
    later = (await client.get("/api/v1/ocds/releases", params={"since": since}, headers=headers)).json()
    assert [r["tag"] for r in later["releases"]] == [["award"], ["contract"]]
    bad = await client.get("/api/v1/ocds/releases", params={"since": "last tuesday"}, headers=headers)
    assert bad.status_code == 400 and "since" in bad.json()["detail"]
    record = await client.get(f"/api/v1/ocds/records/{ocid}", headers=headers)
    assert record.status_code == 200
    compiled = record.json()["records"][0]["compiledRelease"]
    assert compiled["awards"][0]["status"] == "active" and compiled["contracts"][0]["status"] == "active"
    missing = await client.get(f"/api/v1/ocds/records/{settings.ocid_prefix}-424242", headers=headers)
    assert missing.status_code == 404 and missing.json()["type"].endswith("not-found")


async def test_releases_are_paged_with_next_links(client, db, passwords, clock, settings, monkeypatch):
    from dps.transparency import services as transparency

    world = await make_competition_world(db, passwords, clock)
    for n in range(3):
        await make_published_competition(db, clock, world=world, title=f"Competition {n}")
        clock.advance(timedelta(minutes=1))
    monkeypatch.setattr(transparency, "PAGE_SIZE", 2)
    monkeypatch.setattr(transparency.releases_page, "__kwdefaults__", {"page_size": 2})
    headers = await api_key(db, clock)
    first = (await client.get("/api/v1/ocds/releases", headers=headers)).json()
    assert len(first["releases"]) == 2 and first["links"]["next"].endswith("/api/v1/ocds/releases?page=2")
    second = (await client.get("/api/v1/ocds/releases", params={"page": "2"}, headers=headers)).json()
    assert len(second["releases"]) == 1 and "next" not in second["links"]
    assert second["links"]["prev"].endswith("page=1")
    titles = [r["tender"]["title"] for r in first["releases"] + second["releases"]]
    assert titles == ["Competition 0", "Competition 1", "Competition 2"]


async def test_nothing_about_bids_on_the_ocds_endpoints_before_the_deadline(client, db, passwords, clock, settings):
    world = await make_competition_world(db, passwords, clock)
    competition_id = await make_published_competition(db, clock, world=world)
    await make_bid(db, clock, party=world.bidders[0], competition_id=competition_id, price_pence=77_777_00)
    await make_bid(db, clock, party=world.bidders[1], competition_id=competition_id, price_pence=88_888_00)
    headers = await api_key(db, clock)
    ocid = f"{settings.ocid_prefix}-{competition_id}"
    for path in ("/api/v1/ocds/releases", f"/api/v1/ocds/records/{ocid}"):
        response = await client.get(path, headers=headers)
        assert response.status_code == 200
        text = response.text
        for secret in ("Acme", "Brightwell", "12000001", "numberOfTenderers", "tenderers", "77777", "88888",
                       '"awards"', "supplier"):
            assert secret not in text, (path, secret)
    compiled = (await client.get(f"/api/v1/ocds/records/{ocid}", headers=headers)).json()["records"][0][
        "compiledRelease"]
    assert compiled["tender"]["status"] == "active"


async def test_the_register_lists_awards_of_30000_or_more_and_not_smaller_ones(client, db, passwords, clock,
                                                                               settings):
    world, big = await awarded_competition(db, passwords, clock, prices=(25_000_00, 40_000_00), vat=5_000_00,
                                           title="Remote monitoring, big enough")
    # £24,999.99 + £0 VAT: under the threshold, so not in the register.
    clock.set(clock.now() + timedelta(days=1))
    form = {"title": "Small remote monitoring pilot", "tender_deadline-month": "2", "tender_deadline-day": "16",
            "clarification_deadline-month": "2", "clarification_deadline-day": "10"}
    _, small = await awarded_competition(db, passwords, clock, prices=(24_999_99, 40_000_00), world=world,
                                         deadline=datetime(2026, 2, 16, 12, 0, tzinfo=UTC), **form)
    # An award still in standstill is not a contract yet.
    page = await client.get("/contracts-register")
    assert page.status_code == 200
    assert "Remote monitoring, big enough" in page.text and "Small remote monitoring pilot" not in page.text
    assert "£30,000.00 including VAT" in page.text and "Acme Health Ltd" in page.text
    for hidden in ("Brightwell", "Highest total score", "40,000"):
        assert hidden not in page.text
    headers = await api_key(db, clock)
    data = (await client.get("/api/v1/contracts-register", headers=headers)).json()
    assert [row["title"] for row in data["data"]] == ["Remote monitoring, big enough"]
    row = data["data"][0]
    assert (row["value_incl_vat_pence"], row["buyer_ods_code"], row["supplier_companies_house_number"]) == \
        (30_000_00, "RX1", "12000001")
    download = await client.get("/contracts-register.csv")
    assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert [(r["title"], r["value_incl_vat_pounds"]) for r in rows] == [("Remote monitoring, big enough", "30000.00")]
    assert f"{settings.ocid_prefix}-{big}" == rows[0]["ocid"] and small != big


async def test_register_filters(client, db, passwords, clock, settings):
    await awarded_competition(db, passwords, clock, prices=(50_000_00, 60_000_00))
    await make_trust(db, clock, name="Unrelated NHS Trust", ods="RZ9")
    await make_supplier(db, clock, name="Nobody Ltd", number="99999999")
    await db.commit()
    assert "Acme Health Ltd" in (await client.get("/contracts-register?buyer=RX1&category=virtual-wards")).text
    for query in ("buyer=RZ9", "category=imaging", "q=nothing-like-this", "awarded_to=2026-01-01",
                  "fund=12345"):
        response = await client.get(f"/contracts-register?{query}")
        assert response.status_code == 200 and "Acme Health Ltd" not in response.text, query
        assert (await client.get(f"/contracts-register.csv?{query}")).text.count("\n") == 1, query
    assert "Acme Health Ltd" in (await client.get("/contracts-register?q=remote&awarded_from=2026-01-01")).text
    bad = await client.get("/contracts-register?awarded_from=yesterday")
    assert bad.status_code == 400 and "awarded_from" in bad.text
    # The page asks for the dates with the NHS.UK date input, and keeps what was typed.
    page = await client.get("/contracts-register")
    assert 'name="awarded_from-day"' in page.text and 'type="date"' not in page.text
    typed = "awarded_from-day=1&awarded_from-month=1&awarded_from-year=2026"
    shown = await client.get(f"/contracts-register?{typed}")
    assert "Acme Health Ltd" in shown.text and 'name="awarded_from-year" type="text" value="2026"' in " ".join(
        shown.text.split()).replace('inputmode="numeric" ', "")
    assert "Acme Health Ltd" not in (await client.get(
        "/contracts-register?awarded_to-day=1&awarded_to-month=1&awarded_to-year=2026")).text
    wrong = await client.get("/contracts-register?awarded_to-day=31&awarded_to-month=2&awarded_to-year=2026")
    assert wrong.status_code == 400 and "Awarded to must be a real date" in wrong.text
    assert 'href="#awarded_to"' in wrong.text
    headers = await api_key(db, clock)
    refused = await client.get("/api/v1/contracts-register?buyer=not a code", headers=headers)
    assert refused.status_code == 400 and refused.json()["invalid_params"][0]["name"] == "buyer"


async def test_the_register_is_public_and_demo_awards_are_listed(client, db, settings):
    from dps.db import make_engine, make_sessionmaker
    from dps.wiring import seed_demo_data

    engine = make_engine(settings.database_url)
    try:
        await seed_demo_data(make_sessionmaker(engine), settings, only_if_empty=False)
    finally:
        await engine.dispose()
    page = await client.get("/contracts-register")
    assert page.status_code == 200 and "CT-derived FFR analysis for chest pain" in page.text
    # Awards not yet contracts (standstill, decided) are not listed.
    assert "Wound closure devices for orthopaedics" not in page.text
