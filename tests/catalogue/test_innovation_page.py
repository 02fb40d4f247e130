"""An innovation's public page: for visitors who are not signed in it is rendered once per version of the listing
and answered from memory after that, never older than the database (the version is read on every request); signed-in
visitors always get their own page. A supplier's new name or SME status reaches every one of its listings."""

from __future__ import annotations

import re

import sqlalchemy as sa

from catalogue.models import CatalogueChange
from catalogue.search import search_index_for
from catalogue.search.port import SearchQuery
from dps.identity.models import Role
from dps.outbox.models import OutboxMessage
from tests.catalogue.support import WEARABLES, form_data, published_listing, signed_in_supplier
from tests.factories import category_id, make_trust, make_user
from tests.helpers import post_form, scalar, sign_in

PROFILE_FORM = {"legal_name": "Acme Diagnostics Ltd", "trading_name": "", "companies_house_number": "12345678",
                "registered_address": "1 Harbour Street\nLeith\nEH6 6QH", "headcount": "260",
                "turnover": "£50,000,000", "balance_sheet_total": "800000.50"}


def nonce_in(html: str) -> str:
    found = re.findall(r'<script[^>]* nonce="([^"]+)"', html)
    assert found, "the page has no script with a nonce"
    assert len(set(found)) == 1
    return found[0]


async def signed_out(client) -> None:
    await client.get("/logout")
    client.cookies.clear()


async def test_a_visitor_gets_the_kept_page_with_the_nonce_of_its_own_response(client, db, passwords, clock):
    await signed_in_supplier(client, db, passwords, clock)
    listing_id = await published_listing(client, db)
    await signed_out(client)
    path = f"/catalogue/innovations/{listing_id}"

    first, second = await client.get(path), await client.get(path)

    assert first.status_code == second.status_code == 200
    assert len(client.app.state.kept_pages) == 1  # the second was answered from the kept page
    nonces = [nonce_in(response.text) for response in (first, second)]
    assert nonces[0] != nonces[1]
    for response, nonce in zip((first, second), nonces, strict=True):
        assert f"'nonce-{nonce}'" in response.headers["content-security-policy"]
        assert response.headers["content-type"].startswith("text/html")
    assert second.text == first.text.replace(nonces[0], nonces[1])
    assert "Zio wearable ECG patch" in second.text


async def test_the_page_follows_each_change_at_once_without_waiting_for_the_index(client, db, passwords, clock):
    await signed_in_supplier(client, db, passwords, clock)
    listing_id = await published_listing(client, db)
    path = f"/catalogue/innovations/{listing_id}"
    supplier_cookies, client.cookies = client.cookies, {}
    first = (await client.get(path)).text
    assert "Zio wearable ECG patch" in first and "Version 1" in first
    assert len(client.app.state.kept_pages) == 1
    client.cookies = supplier_cookies

    edited = await post_form(client, f"/supplier/listings/{listing_id}",
                             form_data({"name": "Zio XT wearable ECG patch"}, await category_id(db, WEARABLES)),
                             form_page=f"/supplier/listings/{listing_id}/edit")
    assert edited.status_code == 303
    client.cookies = {}
    page = await client.get(path)  # no outbox drained: the page reads the listing's version from the database
    assert "Zio XT wearable ECG patch" in page.text and "Version 2" in page.text
    client.cookies = supplier_cookies

    await post_form(client, f"/supplier/listings/{listing_id}/withdraw", {},
                    form_page=f"/supplier/listings/{listing_id}")
    client.cookies = {}
    assert (await client.get(path)).status_code == 404


async def test_a_signed_in_buyer_gets_a_page_of_its_own_and_it_is_never_kept(client, db, passwords, clock):
    await signed_in_supplier(client, db, passwords, clock)
    listing_id = await published_listing(client, db)
    await signed_out(client)
    path = f"/catalogue/innovations/{listing_id}"
    visitor = await client.get(path)
    assert "Sign in as an NHS buyer" in visitor.text and "ann@acme.example" not in visitor.text

    trust = await make_trust(db, clock)
    buyer = await make_user(db, passwords, clock, email="bea@trust.example.nhs.uk", organisation=trust,
                            role=Role.BUYER)
    await sign_in(client, buyer.email)
    page = await client.get(path)

    assert 'id="supplier-contact"' in page.text and "ann@acme.example" in page.text
    assert "Run a competition in this category" in page.text
    assert len(client.app.state.kept_pages) == 1
    await signed_out(client)
    again = await client.get(path)
    assert "ann@acme.example" not in again.text and "Sign in as an NHS buyer" in again.text


async def test_a_supplier_profile_change_reaches_each_of_its_listings_pages_and_search(client, db, passwords, clock,
                                                                                       settings, drain_outbox):
    organisation, _ = await signed_in_supplier(client, db, passwords, clock)
    listing_ids = [await published_listing(client, db),
                   await published_listing(client, db, {"name": "Zio home spirometer"})]
    await drain_outbox()
    supplier_cookies, client.cookies = client.cookies, {}
    assert "Acme Health Ltd" in (await client.get(f"/catalogue/innovations/{listing_ids[0]}")).text
    client.cookies = supplier_cookies
    changes_before = await scalar(db, sa.select(sa.func.max(CatalogueChange.id)))

    saved = await post_form(client, f"/supplier/organisation/{organisation.id}/edit", PROFILE_FORM,
                            form_page=f"/supplier/organisation/{organisation.id}/edit")

    assert saved.status_code == 303, saved.text[-2000:]
    queued = (await db.scalars(sa.select(OutboxMessage).where(OutboxMessage.topic == "search-index",
                                                              OutboxMessage.processed_at.is_(None)))).all()
    changes = (await db.scalars(sa.select(CatalogueChange).where(CatalogueChange.id > changes_before))).all()
    await db.commit()
    assert sorted(message.payload["listing_id"] for message in queued) == sorted(listing_ids)
    assert {message.payload["document"]["public"]["supplier"]["name"] for message in queued} == {
        "Acme Diagnostics Ltd"}
    assert sorted((change.listing_id, change.change) for change in changes) == sorted(
        (listing_id, "updated") for listing_id in listing_ids)

    client.cookies = {}
    for listing_id in listing_ids:
        page = (await client.get(f"/catalogue/innovations/{listing_id}")).text
        assert "Acme Diagnostics Ltd" in page and "Acme Health Ltd" not in page
    await drain_outbox()
    result = await search_index_for(settings).search(SearchQuery(text="Zio", filters={"sme": ("false",)}))
    assert sorted(hit.id for hit in result.hits) == sorted(listing_ids)  # 260 staff: no longer an SME
    assert {hit.document["supplier"]["name"] for hit in result.hits} == {"Acme Diagnostics Ltd"}
