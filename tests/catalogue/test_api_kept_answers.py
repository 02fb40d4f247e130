"""/api/v1/innovations answers a repeated search from memory, kept for the index generation that answered it: the
same bytes as a search would give, until the index's next commit, and only after the caller's key and rate limit
have been checked."""

from __future__ import annotations

from typing import Any

from catalogue.search import search_index_for
from dps.api_keys.services import create_api_key
from dps.audit.services import Actor
from dps.identity.models import Role
from tests.catalogue.support import published_listing, signed_in_supplier
from tests.catalogue.test_api import api_key, bearer, catalogue
from tests.factories import make_authority_user
from tests.helpers import post_form, sign_in

SEARCH = "/api/v1/innovations"


class CountedSearches:
    """Counts the searches that reach the index (a kept answer makes none)."""

    def __init__(self, index: Any) -> None:
        self.count = 0
        self._search = index.search

    async def __call__(self, query: Any) -> Any:
        self.count += 1
        return await self._search(query)


def counted(monkeypatch, settings) -> CountedSearches:
    index = search_index_for(settings)
    counter = CountedSearches(index)
    monkeypatch.setattr(index, "search", counter)
    return counter


async def test_a_repeated_search_is_answered_from_memory_with_the_same_bytes(client, db, passwords, clock, settings,
                                                                             drain_outbox, monkeypatch):
    await catalogue(client, db, passwords, clock, drain_outbox)
    secret = await api_key(db, clock)
    searches = counted(monkeypatch, settings)
    params = [("q", "wearble"), ("care_setting", "home"), ("care_setting", "acute")]

    first = await client.get(SEARCH, params=params, headers=bearer(secret))
    again = await client.get(SEARCH, params=params, headers=bearer(secret))
    reordered = await client.get(SEARCH, params=[("care_setting", "home"), ("q", "wearble"), ("page", "1"),
                                                 ("care_setting", "acute")], headers=bearer(secret))

    assert first.status_code == again.status_code == reordered.status_code == 200
    assert searches.count == 1
    assert again.content == reordered.content == first.content
    assert again.headers["content-type"] == "application/json"
    assert [item["name"] for item in again.json()["data"]] == ["Zio wearable ECG patch"]
    assert again.json()["data"][0]["url"].startswith(settings.base_url + "/catalogue/innovations/")
    assert int(again.headers["ratelimit-remaining"]) == int(first.headers["ratelimit-remaining"]) - 1


async def test_each_parameter_that_changes_the_answer_is_its_own_answer(client, db, passwords, clock, settings,
                                                                        drain_outbox, monkeypatch):
    await catalogue(client, db, passwords, clock, drain_outbox)
    secret = await api_key(db, clock)
    searches = counted(monkeypatch, settings)
    variants = [{}, {"q": "home"}, {"q": "home", "sort": "name"}, {"q": "home", "page_size": 1},
                {"q": "home", "page_size": 1, "page": 2}, {"q": "home", "mtfm": "true"},
                {"q": "home", "mtfm": "false"}, {"q": "home", "category": "virtual-wards"}]

    bodies = [(await client.get(SEARCH, params=params, headers=bearer(secret))).json() for params in variants]
    kept = [(await client.get(SEARCH, params=params, headers=bearer(secret))).json() for params in variants]

    assert searches.count == len(variants)
    assert kept == bodies
    totals = [body["meta"]["total"] for body in bodies]
    assert totals[0] == 3 and totals[4] == totals[1] > 1
    assert [len(body["data"]) for body in bodies[3:5]] == [1, 1] and bodies[3]["data"] != bodies[4]["data"]
    assert [item["name"] for item in bodies[2]["data"]] == sorted(item["name"] for item in bodies[2]["data"])
    assert {body["meta"]["total"] for body in bodies[5:7]} != {totals[1]}


async def test_the_kept_answer_follows_each_commit_to_the_index(client, db, passwords, clock, settings,
                                                                drain_outbox):
    ids = await catalogue(client, db, passwords, clock, drain_outbox)
    secret = await api_key(db, clock)
    before = (await client.get(SEARCH, params={"q": "home"}, headers=bearer(secret))).json()
    assert ids["kidney"] in [item["id"] for item in before["data"]]

    await sign_in(client, "sam@sutures.example")
    withdrawn = await post_form(client, f"/supplier/listings/{ids['kidney']}/withdraw", {},
                                form_page=f"/supplier/listings/{ids['kidney']}")
    assert withdrawn.status_code in (200, 303)
    await published_listing(client, db, {"name": "Minuteful home spirometer", "summary": "Spirometry at home."})
    client.cookies.clear()
    await drain_outbox()

    after = (await client.get(SEARCH, params={"q": "home"}, headers=bearer(secret))).json()
    names = [item["name"] for item in after["data"]]
    assert ids["kidney"] not in [item["id"] for item in after["data"]]
    assert "Minuteful home spirometer" in names
    assert after["meta"]["total"] == before["meta"]["total"]  # one out, one in


async def test_a_kept_answer_is_refused_to_a_revoked_key_and_counts_against_the_rate_limit(
        client, db, passwords, clock, drain_outbox):
    await signed_in_supplier(client, db, passwords, clock)
    await published_listing(client, db)
    client.cookies.clear()
    await drain_outbox()
    limited = await api_key(db, clock, limit=2)
    assert [(await client.get(SEARCH, params={"q": "zio"}, headers=bearer(limited))).status_code
            for _ in range(3)] == [200, 200, 429]

    key, secret = await create_api_key(db, name="Leaving portal", actor=Actor.system("test"), now=clock.now())
    assert (await client.get(SEARCH, params={"q": "zio"}, headers=bearer(secret))).status_code == 200
    await make_authority_user(db, passwords, clock, email="ada@authority.example", role=Role.AUTHORITY_ADMIN)
    await sign_in(client, "ada@authority.example")
    revoked = await post_form(client, f"/authority/api-keys/{key.id}/revoke", {}, form_page="/authority/api-keys")
    assert revoked.status_code == 303
    client.cookies.clear()

    refused = await client.get(SEARCH, params={"q": "zio"}, headers=bearer(secret))
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith("application/problem+json")
