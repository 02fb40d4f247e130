"""Who can open which portal: anonymous visitors are sent to sign in; other roles are refused."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from dps.identity.models import Organisation, OrganisationKind, Role
from tests.factories import make_supplier, make_trust, make_user
from tests.helpers import scalar, sign_in

PORTALS = ["/supplier", "/buyer", "/authority"]


@pytest.mark.parametrize("path", PORTALS)
async def test_anonymous_visitors_are_sent_to_sign_in(client, path):
    response = await client.get(path)
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?reason=required&next=%2F{path[1:]}"


async def _member(db, passwords, clock, kind_role):
    kind, role = kind_role
    if kind == "supplier":
        organisation = await make_supplier(db, clock)
    elif kind == "buyer":
        organisation = await make_trust(db, clock)
    else:
        organisation = await scalar(db, sa.select(Organisation).where(Organisation.kind == OrganisationKind.AUTHORITY))
    return await make_user(db, passwords, clock, email=f"{role}@example.org", organisation=organisation, role=role)


CASES = [
    (("supplier", Role.SUPPLIER_ADMIN), {"/supplier": 200, "/buyer": 403, "/authority": 403}),
    (("supplier", Role.SUPPLIER_USER), {"/supplier": 200, "/buyer": 403, "/authority": 403}),
    (("buyer", Role.BUYER), {"/supplier": 403, "/buyer": 200, "/authority": 403}),
    # A buyer's evaluator scores competitions; it is not the DPS authority's evaluator.
    (("buyer", Role.EVALUATOR), {"/supplier": 403, "/buyer": 200, "/authority": 403}),
    (("buyer", Role.FUND_MANAGER), {"/supplier": 403, "/buyer": 200, "/authority": 403}),
    (("authority", Role.EVALUATOR), {"/supplier": 403, "/buyer": 403, "/authority": 200}),
    (("authority", Role.AUTHORITY_ADMIN), {"/supplier": 403, "/buyer": 403, "/authority": 200}),
]


@pytest.mark.parametrize(("member", "expected"), CASES, ids=[f"{k}-{r}" for (k, r), _ in CASES])
async def test_each_role_reaches_only_its_portal(client, db, passwords, clock, member, expected):
    user = await _member(db, passwords, clock, member)
    assert (await sign_in(client, user.email)).status_code == 303
    seen = {path: (await client.get(path)).status_code for path in PORTALS}
    assert seen == expected


async def test_a_refusal_is_a_clear_page(client, db, passwords, clock):
    user = await _member(db, passwords, clock, ("supplier", Role.SUPPLIER_USER))
    await sign_in(client, user.email)
    response = await client.get("/buyer")
    assert response.status_code == 403
    assert "You do not have permission to do this" in response.text


CARD_LINK = r'class="nhsuk-card__link" href="([^"]+)"'
PUBLIC_CARDS = ["/catalogue", "/api/docs"]


@pytest.mark.parametrize(("who", "portal_cards"), [
    (None, ["/supplier", "/buyer"]),
    ("newcomer", ["/supplier/organisation/new"]),
    (("supplier", Role.SUPPLIER_USER), ["/supplier"]),
    (("buyer", Role.BUYER), ["/buyer"]),
    (("buyer", Role.EVALUATOR), ["/buyer"]),
    (("buyer", Role.FUND_MANAGER), ["/buyer/funds"]),
    (("authority", Role.AUTHORITY_ADMIN), ["/authority"]),
])
async def test_the_home_page_shows_only_the_portals_a_person_can_open(client, db, passwords, clock, who,
                                                                     portal_cards):
    if who == "newcomer":
        user = await make_user(db, passwords, clock)
    elif who is not None:
        kind, role = who
        organisation = (await make_supplier(db, clock) if kind == "supplier" else await make_trust(db, clock)
                        if kind == "buyer" else await scalar(db, sa.select(Organisation).where(
                            Organisation.kind == OrganisationKind.AUTHORITY)))
        user = await make_user(db, passwords, clock, organisation=organisation, role=role)
    if who is not None:
        assert (await sign_in(client, user.email)).status_code == 303
    landing = await client.get("/")
    cards = re.findall(CARD_LINK, landing.text)
    assert cards == portal_cards + PUBLIC_CARDS
    for href in cards:
        if who is not None:  # every card a signed-in person sees opens (signed out, a portal asks to sign in)
            assert (await client.get(href, follow_redirects=True)).status_code == 200, href
