"""RULES.md 5, money stays in its ICB, on the buyer's pages (SQLite and PostgreSQL): a buyer "chooses [allocations]
from a list of those open to it" when it names the intended funding of a competition and when it splits the award;
a foreign ICB's allocation is refused with a message that points at that list; a national fund's is open to all."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from dps.audit.services import Actor
from dps.competitions.models import Competition
from dps.competitions.rules import FundLine
from dps.competitions.services import awarding
from dps.competitions.services.sealing import open_bids
from dps.contracts.models import Contract
from dps.contracts.rules import default_milestones
from dps.funds.models import Commitment
from dps.funds.rules import Refused
from tests.competitions.support import Browser
from tests.factories import (
    competition_form,
    make_allocation,
    make_bid,
    make_competition_world,
    make_fund,
    make_published_competition,
    signed_in,
)
from tests.helpers import count_rows, scalar

BUYER_TRUST = "St Elsewhere NHS Foundation Trust"  # RX1: Nottingham and Nottinghamshire ICB (QT1)


async def allocations(db, clock) -> dict[str, int]:
    htaf = await make_fund(db, clock, name="HTAF")
    sbri = await make_fund(db, clock, name="SBRI Healthcare", national=True)
    lapsed = await make_fund(db, clock, name="Old money")
    return {
        "own": await make_allocation(db, clock, fund=htaf, ods="QT1", pounds=120_000),
        "own_capital": await make_allocation(db, clock, fund=htaf, ods="QT1", pounds=80_000, budget="capital"),
        "foreign": await make_allocation(db, clock, fund=htaf, ods="QMF", pounds=500_000),
        "national": await make_allocation(db, clock, fund=sbri, ods="QMF", pounds=40_000),
        "lapsed": await make_allocation(db, clock, fund=lapsed, ods="QT1", pounds=10_000, year="2024/25"),
    }


def options(html: str, select_id: str) -> dict[str, str]:
    """value -> text of each option of one <select>."""
    start = html.index(f'id="{select_id}"')
    block = html[start:html.index("</select>", start)]
    found = {}
    for part in block.split("<option")[1:]:
        value = part.split('value="', 1)[1].split('"', 1)[0] if 'value="' in part else ""
        found[value] = part.split(">", 1)[1].split("</option>", 1)[0].strip()
    return found


async def test_the_competition_form_lists_only_the_allocations_open_to_the_trust_with_what_remains(
        client, db, passwords, clock):
    world = await make_competition_world(db, passwords, clock)
    ids = await allocations(db, clock)
    page = await Browser(client).get(world.buyer.email, "/buyer/competitions/new")
    assert page.status_code == 200
    assert "Allocation number" not in page.text  # chosen from a list, never typed
    listed = options(page.text, "fund-1-allocation")
    assert listed == {
        "": "Not from a fund allocation",
        str(ids["own_capital"]): "HTAF 2025/26 QT1 capital: £80,000.00 remaining",
        str(ids["own"]): "HTAF 2025/26 QT1 revenue: £120,000.00 remaining",
        str(ids["national"]): "SBRI Healthcare 2025/26 QMF revenue (national fund): £40,000.00 remaining",
    }  # not QMF's HTAF money, not a lapsed year; its own ICB's first


async def test_a_foreign_icbs_allocation_is_refused_as_intended_funding_and_a_national_one_is_not(
        client, db, passwords, clock):
    world = await make_competition_world(db, passwords, clock)
    ids = await allocations(db, clock)
    browser = Browser(client)
    refused = await browser.post(world.buyer.email, "/buyer/competitions", competition_form(
        world, **{"fund-2-allocation": str(ids["foreign"]), "fund-2-amount": "100,000"}))
    assert refused.status_code == 400
    assert ("Fund rule: money stays in its ICB. St Elsewhere NHS Foundation Trust cannot draw on HTAF 2025/26, NHS "
            "North East London Integrated Care Board (QMF), revenue: it belongs to NHS Nottingham and "
            "Nottinghamshire Integrated Care Board (QT1) and can draw only on that ICB&#39;s allocations or on "
            "national funds. Choose from the list of allocations open to St Elsewhere NHS Foundation Trust"
            in refused.text)
    assert 'href="#fund-2-allocation"' in refused.text  # the error summary points at the chooser
    assert options(refused.text, "fund-2-allocation")[str(ids["foreign"])] == (
        f"Allocation {ids['foreign']}: not in the list open to you")  # what was sent is kept, and said to be wrong
    unknown = await browser.post(world.buyer.email, "/buyer/competitions", competition_form(
        world, **{"fund-1-allocation": "999999", "fund-1-amount": "1,000"}))
    assert unknown.status_code == 400
    assert "There is no allocation 999999: choose one from the list of allocations open to St Elsewhere" in unknown.text
    lapsed = await browser.post(world.buyer.email, "/buyer/competitions", competition_form(
        world, **{"fund-1-allocation": str(ids["lapsed"]), "fund-1-amount": "1,000"}))
    assert lapsed.status_code == 400 and "its 2024/25 allocations closed on 31 March 2025" in lapsed.text
    assert await count_rows(db, Competition) == 0

    saved = await browser.post(world.buyer.email, "/buyer/competitions", competition_form(
        world, **{"fund-1-allocation": str(ids["own"]), "fund-1-amount": "100,000",
                  "fund-2-allocation": str(ids["national"]), "fund-2-amount": "20,000"}))
    assert saved.status_code == 303, saved.text[-2000:]
    edit = await browser.get(world.buyer.email, saved.headers["location"] + "/edit")
    assert 'selected>HTAF 2025/26 QT1 revenue: £120,000.00 remaining' in " ".join(edit.text.split())


async def in_standstill(db, world, clock) -> int:
    """A competition whose standstill has ended: the award can be confirmed (state set directly: the journey test
    drives every step through the pages)."""
    competition_id = await make_published_competition(db, clock, world=world)
    bid_id = await make_bid(db, clock, party=world.bidders[0], competition_id=competition_id, price_pence=10_000_000)
    competition = await scalar(db, sa.select(Competition).where(Competition.id == competition_id))
    await open_bids(db, competition, clock.now(), actor=Actor.system("test"))  # as the close at the deadline does
    competition.state, competition.winning_bid_id = "standstill", bid_id
    competition.standstill_ends_at = clock.now() - timedelta(days=1)
    await db.commit()
    return competition_id


async def test_the_award_split_is_chosen_from_the_open_allocations_and_a_foreign_one_is_refused(
        client, db, passwords, clock):
    world = await make_competition_world(db, passwords, clock)
    ids = await allocations(db, clock)
    competition_id = await in_standstill(db, world, clock)
    browser = Browser(client)
    page = f"/buyer/competitions/{competition_id}/confirm"
    shown = await browser.get(world.buyer.email, page)
    assert shown.status_code == 200
    assert set(options(shown.text, "fund-1-allocation")) == {"", str(ids["own"]), str(ids["own_capital"]),
                                                             str(ids["national"])}
    milestone = {"milestone-1-title": "Delivery", "milestone-1-due-day": "1", "milestone-1-due-month": "6",
                 "milestone-1-due-year": "2026", "milestone-1-amount": "100,000"}

    foreign = await browser.post(world.buyer.email, page, {
        **milestone, "fund-1-allocation": str(ids["own"]), "fund-1-amount": "60,000",
        "fund-2-allocation": str(ids["foreign"]), "fund-2-amount": "40,000"})
    assert foreign.status_code == 400
    assert "Fund rule: money stays in its ICB. St Elsewhere NHS Foundation Trust cannot draw on HTAF" in foreign.text
    assert "Choose from the list of allocations open to St Elsewhere NHS Foundation Trust" in foreign.text
    # The error points at the chooser of the line at fault, which the page shows, with the choice kept.
    assert 'href="#fund-2-allocation"' in foreign.text and 'id="fund-2-allocation"' in foreign.text
    assert "Allocation number" not in foreign.text
    assert await count_rows(db, Commitment) == 0 and await count_rows(db, Contract) == 0

    confirmed = await browser.post(world.buyer.email, page, {
        **milestone, "fund-1-allocation": str(ids["own"]), "fund-1-amount": "60,000",
        "fund-2-allocation": str(ids["national"]), "fund-2-amount": "40,000"})
    assert confirmed.status_code == 303, confirmed.text[-2000:]
    assert await count_rows(db, Commitment) == 1


async def test_an_award_the_money_no_longer_covers_is_refused_before_anything_is_written(db, passwords, clock):
    """The fund check runs before the contract is made: a refusal on the money as last committed writes nothing at
    all (no INSERT, no UPDATE) and says what is short; the conditional UPDATE still decides when the money goes
    between the check and the write (tests/funds/test_concurrency.py)."""
    world = await make_competition_world(db, passwords, clock)
    ids = await allocations(db, clock)
    competition_id = await in_standstill(db, world, clock)
    competition = await scalar(db, sa.select(Competition).where(Competition.id == competition_id))
    _, total = await awarding.award_value(db, competition)
    signed = await signed_in(db, world.buyer.user)
    writes: list[str] = []

    def count_write(_connection, _cursor, statement, *_):
        if statement.lstrip().split(" ", 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            writes.append(statement)

    engine = db.bind.sync_engine
    sa.event.listen(engine, "before_cursor_execute", count_write)
    try:
        with pytest.raises(Refused) as refused:
            await awarding.confirm_award(
                db, signed, competition_id, fund_lines=[FundLine(ids["national"], total)], now=clock.now(),
                milestones=default_milestones(total, competition.contract_starts_on, competition.contract_ends_on))
    finally:
        sa.event.remove(engine, "before_cursor_execute", count_write)

    assert "short" in str(refused.value)
    assert writes == []
    assert await count_rows(db, Commitment) == 0 and await count_rows(db, Contract) == 0


async def test_the_confirmation_page_says_whether_the_standstill_has_ended(client, db, passwords, clock):
    world = await make_competition_world(db, passwords, clock)
    competition_id = await in_standstill(db, world, clock)
    browser = Browser(client)
    page = f"/buyer/competitions/{competition_id}/confirm"
    ended = await browser.get(world.buyer.email, page)
    assert "The standstill ended at" in ended.text and "can be confirmed after that" not in ended.text

    competition = await scalar(db, sa.select(Competition).where(Competition.id == competition_id))
    competition.standstill_ends_at = clock.now() + timedelta(days=3)
    await db.commit()
    running = await browser.get(world.buyer.email, page)
    assert running.status_code == 200
    assert "The standstill ends at" in running.text and "the award can be confirmed after that" in running.text
