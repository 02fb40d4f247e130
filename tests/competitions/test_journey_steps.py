"""Steps a buyer needs on a competition's page: who publishing would invite, and the timeline of every step."""

from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa

from dps.competitions.models import Competition
from tests.competitions.support import Browser
from tests.factories import make_competition_world, make_draft_competition, make_published_competition
from tests.helpers import scalar


async def test_before_publishing_the_buyer_sees_how_many_suppliers_would_be_invited_and_who(client, db, passwords,
                                                                                            clock):
    world = await make_competition_world(db, passwords, clock)
    competition_id = await make_draft_competition(db, clock, world=world)
    page = await Browser(client).get(world.buyer.email, f"/buyer/competitions/{competition_id}")
    assert page.status_code == 200
    assert "Published now, it would invite 3 suppliers" in page.text
    invited = re.search(r'id="to-invite".*?</ul>', page.text, re.S).group(0)
    for party in world.bidders:
        assert party.name in invited
    assert world.suspended.name not in invited and world.outsider.name not in invited  # not admitted, not invited


async def test_a_competitions_page_shows_its_timeline_as_the_clock_moves(client, db, passwords, clock):
    world = await make_competition_world(db, passwords, clock)
    competition_id = await make_published_competition(db, clock, world=world)
    browser = Browser(client)
    page = await browser.get(world.buyer.email, f"/buyer/competitions/{competition_id}")
    steps = timeline_of(page.text)
    assert [name for name, _ in steps] == [
        "Published and suppliers invited", "Clarification questions close", "Bids close at the tender deadline",
        "Evaluation started", "Award decided", "Outcome letters sent and standstill started", "Standstill ends",
        "Contract made", "Contract award notice published"]
    assert [status for _, status in steps][:3] == ["Done", "To come", "To come"]
    competition = await scalar(db, sa.select(Competition).where(Competition.id == competition_id))
    clock.set(competition.tender_deadline + timedelta(minutes=1))
    later = timeline_of((await browser.get(world.buyer.email, f"/buyer/competitions/{competition_id}")).text)
    assert [status for _, status in later][:4] == ["Done", "Done", "Done", "To come"]


async def test_an_invited_supplier_sees_the_same_timeline_on_its_competition_page(client, db, passwords, clock):
    world = await make_competition_world(db, passwords, clock)
    competition_id = await make_published_competition(db, clock, world=world)
    browser = Browser(client)
    supplier = world.bidders[0].email
    buyer_steps = timeline_of((await browser.get(world.buyer.email, f"/buyer/competitions/{competition_id}")).text)
    page = await browser.get(supplier, f"/supplier/competitions/{competition_id}")
    assert page.status_code == 200
    steps = timeline_of(page.text)
    assert steps == buyer_steps and len(steps) == 9
    assert [status for _, status in steps][:3] == ["Done", "To come", "To come"]
    competition = await scalar(db, sa.select(Competition).where(Competition.id == competition_id))
    clock.set(competition.clarification_deadline + timedelta(minutes=1))
    later = timeline_of((await browser.get(supplier, f"/supplier/competitions/{competition_id}")).text)
    assert [status for _, status in later][:3] == ["Done", "Done", "To come"]


def timeline_of(html: str) -> list[tuple[str, str]]:
    section = re.search(r'id="timeline".*?</ol>', html, re.S).group(0)
    return [(name, status) for status, name in re.findall(
        r'<strong class="nhsuk-tag[^"]*">\s*([^<]+?)\s*</strong>\s*<strong>([^<]+)</strong>', section)]
