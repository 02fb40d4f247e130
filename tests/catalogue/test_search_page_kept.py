"""The catalogue's search page for visitors who are not signed in: kept for the generation of the index that
answered it, so a repeated search is answered from memory with its own nonce, and the page follows every commit to
the index at once. Signed-in visitors always get a page of their own."""

from __future__ import annotations

from catalogue.search import search_index_for
from dps.identity.models import Role
from tests.catalogue.support import published_listing, signed_in_supplier
from tests.catalogue.test_innovation_page import nonce_in
from tests.factories import make_trust, make_user
from tests.helpers import sign_in

SEARCH = "/catalogue/search"


async def a_listing_in_search_and_a_visitor(client, db, passwords, clock, drain_outbox) -> None:
    """A supplier publishes a listing, the index takes it in, and the client is then a visitor not signed in."""
    await signed_in_supplier(client, db, passwords, clock)
    await published_listing(client, db)
    client.cookies.clear()
    await drain_outbox()


async def test_a_repeated_search_is_answered_from_the_kept_page_with_its_own_nonce(client, db, passwords, clock,
                                                                                   drain_outbox):
    await a_listing_in_search_and_a_visitor(client, db, passwords, clock, drain_outbox)
    params = {"q": "wearble", "care_setting": "home"}

    first, second = await client.get(SEARCH, params=params), await client.get(SEARCH, params=params)

    assert first.status_code == second.status_code == 200
    assert len(client.app.state.kept_pages) == 1
    nonces = [nonce_in(response.text) for response in (first, second)]
    assert nonces[0] != nonces[1]
    for response, nonce in zip((first, second), nonces, strict=True):
        assert f"'nonce-{nonce}'" in response.headers["content-security-policy"]
    assert second.text == first.text.replace(nonces[0], nonces[1])
    assert "Zio <mark>wearable</mark> ECG patch" in second.text

    other_order = await client.get(SEARCH, params=[("care_setting", "home"), ("q", "wearble"), ("page", "1")])
    assert other_order.text.replace(nonce_in(other_order.text), nonces[1]) == second.text
    await client.get(SEARCH, params={"q": "wearble", "care_setting": "home", "sort": "name"})
    assert len(client.app.state.kept_pages) == 2  # another sort is another page


async def test_the_kept_page_follows_each_commit_to_the_index(client, db, passwords, clock, drain_outbox):
    await signed_in_supplier(client, db, passwords, clock)
    await published_listing(client, db)
    supplier_cookies, client.cookies = client.cookies, {}
    await drain_outbox()
    before = await client.get(SEARCH, params={"q": "zio"})
    assert "<strong>1</strong> innovation" in before.text and "Zio home spirometer" not in before.text
    client.cookies = supplier_cookies

    await published_listing(client, db, {"name": "Zio home spirometer"})
    client.cookies = {}
    await drain_outbox()
    after = await client.get(SEARCH, params={"q": "zio"})
    assert "<strong>2</strong> innovations" in after.text and "Zio home spirometer" in after.text


async def test_a_signed_in_buyer_gets_a_search_page_of_its_own_and_it_is_never_kept(client, db, passwords, clock,
                                                                                    drain_outbox):
    await a_listing_in_search_and_a_visitor(client, db, passwords, clock, drain_outbox)
    visitor = await client.get(SEARCH, params={"q": "zio"})
    assert "Sign in as an NHS buyer" in visitor.text

    trust = await make_trust(db, clock)
    buyer = await make_user(db, passwords, clock, email="bea@trust.example.nhs.uk", organisation=trust,
                            role=Role.BUYER)
    await sign_in(client, buyer.email)
    page = await client.get(SEARCH, params={"q": "zio"})

    assert "Save search" in page.text and 'name="_csrf_token"' in page.text
    assert len(client.app.state.kept_pages) == 1
    client.cookies.clear()
    again = await client.get(SEARCH, params={"q": "zio"})
    assert "Sign in as an NHS buyer" in again.text and "Save search" not in again.text


async def test_a_kept_search_page_is_answered_without_asking_the_index(client, db, passwords, clock, drain_outbox,
                                                                       settings, monkeypatch):
    """The kept page is found by the index's current generation alone: the engine is not asked to search again
    (nor to unpack the hits) for a page that is already rendered."""
    await a_listing_in_search_and_a_visitor(client, db, passwords, clock, drain_outbox)
    index = search_index_for(settings)
    searches: list[object] = []
    searched = index.search

    async def counted(query):
        searches.append(query)
        return await searched(query)

    monkeypatch.setattr(index, "search", counted)
    first = await client.get(SEARCH, params={"q": "zio"})
    second = await client.get(SEARCH, params={"q": "zio"})
    assert first.status_code == second.status_code == 200 and "Zio" in second.text
    assert len(searches) == 1
