"""The buyer's search pages, without JavaScript: text, typo, facets with counts, highlights, no-results help,
the innovation page, compare up to four, save a search."""

from __future__ import annotations

import re

import sqlalchemy as sa

from catalogue.models import SavedSearch
from dps.identity.models import Role
from tests.catalogue.support import published_listing, signed_in_supplier
from tests.factories import make_trust, make_user
from tests.helpers import post_form, scalar, sign_in


async def two_innovations(client, db, passwords, clock, drain_outbox) -> tuple[int, int]:
    await signed_in_supplier(client, db, passwords, clock, categories=("wearables-home-diagnostics", "virtual-wards"))
    zio = await published_listing(client, db)
    ward = await published_listing(client, db, {
        "name": "Doccla virtual ward", "summary": "Remote monitoring of patients at home after discharge.",
        "care_settings": ["home", "acute"], "icbs_using": "QWE", "nice__mtfm": "no"}, slug="virtual-wards")
    client.cookies.clear()
    await drain_outbox()
    return zio, ward


async def test_free_text_with_a_typo_finds_and_highlights_the_innovation(client, db, passwords, clock, drain_outbox):
    zio, _ = await two_innovations(client, db, passwords, clock, drain_outbox)
    page = await client.get("/catalogue/search", params={"q": "wearble"})
    assert page.status_code == 200
    assert "<strong>1</strong> innovation" in page.text
    assert "Zio <mark>wearable</mark> ECG patch" in page.text
    assert f'href="/catalogue/innovations/{zio}"' in page.text
    assert "Doccla" not in page.text


async def test_facets_are_checkboxes_with_counts_and_filter_the_results(client, db, passwords, clock, drain_outbox):
    await two_innovations(client, db, passwords, clock, drain_outbox)
    page = await client.get("/catalogue/search")
    assert re.search(r'name="care_setting" type="checkbox" value="home"\s*>\s*<label[^>]*>'
                     r'At home <span class="dps-count">\(2\)',
                     page.text)
    assert "Virtual wards and remote monitoring <span class=\"dps-count\">(1)</span>" in page.text

    filtered = await client.get("/catalogue/search", params=[("care_setting", "acute"), ("mtfm", "false")])
    assert "<strong>1</strong> innovation" in filtered.text
    assert "Doccla virtual ward" in filtered.text and "Zio wearable" not in filtered.text
    assert 'value="acute" checked' in filtered.text
    assert "Clear filters" in filtered.text


async def test_no_results_page_helps_the_buyer(client, db, passwords, clock, drain_outbox):
    await two_innovations(client, db, passwords, clock, drain_outbox)
    page = await client.get("/catalogue/search", params={"q": "teleporter", "care_setting": "home"})
    assert "No innovations match your search" in page.text
    assert "check the spelling" in page.text and "remove the filters" in page.text


async def test_sort_and_pagination_links_keep_the_query(client, db, passwords, clock, drain_outbox):
    await two_innovations(client, db, passwords, clock, drain_outbox)
    page = await client.get("/catalogue/search", params={"sort": "name"})
    assert page.text.index("Doccla virtual ward") < page.text.index("Zio wearable ECG patch")
    assert '<option value="name" selected>' in page.text


async def test_the_innovation_page_shows_assurance_evidence_and_history(client, db, passwords, clock, drain_outbox):
    zio, _ = await two_innovations(client, db, passwords, clock, drain_outbox)
    page = await client.get(f"/catalogue/innovations/{zio}")
    assert page.status_code == 200
    for text in ("Zio wearable ECG patch", "Complete (version 2024)", "Standards Met", "Tier B", "MTG32",
                 "Version 1", "NHS North East London Integrated Care Board", "£250.00"):
        assert text in page.text, text


async def test_compare_up_to_four_side_by_side(client, db, passwords, clock, drain_outbox):
    zio, ward = await two_innovations(client, db, passwords, clock, drain_outbox)
    compare = await client.get("/catalogue/compare", params=[("id", zio), ("id", ward)])
    assert compare.status_code == 200
    assert "Zio wearable ECG patch" in compare.text and "Doccla virtual ward" in compare.text
    assert "MedTech Funding Mandate" in compare.text

    too_many = await client.get("/catalogue/compare", params=[("id", i) for i in (zio, ward, 97, 98, 99)])
    assert too_many.status_code == 400 and "up to 4 innovations" in too_many.text
    too_few = await client.get("/catalogue/compare", params=[("id", zio)])
    assert too_few.status_code == 400 and "at least two" in too_few.text


async def test_a_buyer_saves_a_search_and_finds_it_again(client, db, passwords, clock, drain_outbox):
    await two_innovations(client, db, passwords, clock, drain_outbox)
    trust = await make_trust(db, clock)
    await make_user(db, passwords, clock, email="bea@trust.example", organisation=trust, role=Role.BUYER)
    await sign_in(client, "bea@trust.example")

    page = await client.get("/catalogue/search", params={"q": "ward", "care_setting": "acute"})
    assert "Save search" in page.text
    saved = await post_form(client, "/buyer/saved-searches", {"name": "Wards",
                                                              "query_string": "q=ward&care_setting=acute"},
                            form_page="/catalogue/search")
    assert saved.status_code == 303
    listing = await client.get("/buyer/saved-searches")
    assert 'href="/catalogue/search?q=ward&amp;care_setting=acute"' in listing.text
    row = await scalar(db, sa.select(SavedSearch))
    assert row.name == "Wards"
    deleted = await post_form(client, f"/buyer/saved-searches/{row.id}/delete", {}, form_page="/buyer/saved-searches")
    assert deleted.status_code == 303
    assert "You have no saved searches" in (await client.get("/buyer/saved-searches")).text


async def test_anyone_can_search_but_saving_needs_a_buyer(client, db, passwords, clock, drain_outbox):
    await two_innovations(client, db, passwords, clock, drain_outbox)
    page = await client.get("/catalogue/search")
    assert "Sign in as an NHS buyer" in page.text
    refused = await client.post("/buyer/saved-searches", data={"name": "x", "query_string": "q=x"})
    assert refused.status_code in (303, 403)


async def test_a_search_snippet_shows_the_words_of_the_description_not_its_markdown(client, db, passwords, clock,
                                                                                     drain_outbox):
    await signed_in_supplier(client, db, passwords, clock, categories=("virtual-wards",))
    await published_listing(client, db, {
        "name": "Doccla virtual ward", "summary": "Remote monitoring of patients at home after discharge.",
        "description": "## How it works\n\nPatients wear a **discharge** kit and *nurses* watch `alerts`.\n\n"
                       "- One dashboard\n- [Evidence](https://example.org)", "nice__mtfm": "no"},
        slug="virtual-wards")
    client.cookies.clear()
    await drain_outbox()
    page = await client.get("/catalogue/search", params={"q": "nurses"})
    assert page.status_code == 200 and "Doccla virtual ward" in page.text
    snippet = re.search(r"<mark>nurses</mark>.*", page.text).group(0)
    assert "How it works Patients wear a discharge kit and <mark>nurses</mark> watch alerts." in page.text
    assert not any(mark in snippet for mark in ("##", "**", "`", "](", "- One"))


async def test_an_innovation_page_gives_buyers_the_suppliers_contact_and_a_way_to_compete(client, db, passwords,
                                                                                         clock, drain_outbox):
    _, supplier = await signed_in_supplier(client, db, passwords, clock, categories=("virtual-wards",))
    listing_id = await published_listing(client, db, {
        "name": "Doccla virtual ward", "summary": "Remote monitoring of patients at home after discharge.",
        "nice__mtfm": "no"}, slug="virtual-wards")
    client.cookies.clear()
    await drain_outbox()
    page = f"/catalogue/innovations/{listing_id}"
    public = await client.get(page)
    assert public.status_code == 200 and supplier.email not in public.text  # not published to everyone
    assert "Sign in as an NHS buyer" in public.text and "Run a competition in this category" not in public.text

    buyer = await make_user(db, passwords, clock, organisation=await make_trust(db, clock), role=Role.BUYER)
    await sign_in(client, buyer.email)
    seen = await client.get(page)
    assert f'href="mailto:{supplier.email}"' in seen.text
    action = re.search(r'href="(/buyer/competitions/new\?category_id=(\d+))">Run a competition in this category',
                       seen.text)
    assert action, seen.text
    form = await client.get(action.group(1))
    assert form.status_code == 200
    assert re.search(rf'value="{action.group(2)}"\s+checked', form.text)  # the category is chosen already
