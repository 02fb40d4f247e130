"""Exclusion and suspension reach competitions in flight (A8, C1, C7): a supplier suspended, removed or debarred
cannot bid, be evaluated, be awarded or have an award confirmed; its bid is excluded with the reason, the supplier
and buyer are told, and the audit trail keeps it."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from dps.admission.models import Admission
from dps.audit.models import AuditEvent
from dps.audit.services import Actor
from dps.calendar import london_date
from dps.competitions.models import Bid, Competition
from dps.competitions.services import awarding, bidding, evaluating
from dps.contracts.rules import default_milestones
from dps.errors import Conflict
from dps.exclusion.services import add_debarment
from tests.competitions.support import Browser
from tests.factories import BID_ANSWERS, make_bid, make_competition_world, make_published_competition, signed_in
from tests.helpers import scalar
from tests.transparency.support import DEADLINE, awarded_competition

AUTHORITY = Actor.system("test-authority")


async def _set_admission(db, world, party, state: str) -> None:
    organisation_id, category_id = party if isinstance(party, tuple) else (party.organisation.id, world.category_id)
    admission = await scalar(db, sa.select(Admission).where(Admission.organisation_id == organisation_id,
                                                            Admission.category_id == category_id))
    admission.state = state
    await db.commit()


async def _debar(db, clock, party) -> None:
    await add_debarment(db, organisation_id=party.organisation.id, grounds=["fraud"], source="pa2023_s62",
                        listed_from=london_date(clock.now()), listed_until=None, details="", actor=AUTHORITY,
                        now=clock.now())


async def test_a8_c1_a_suspended_or_removed_supplier_cannot_bid_and_a_lifted_suspension_restores_it(
        db, passwords, clock):
    world = await make_competition_world(db, passwords, clock)
    competition_id = await make_published_competition(db, clock, world=world)
    acme = world.bidders[0]
    user = await signed_in(db, acme.user)
    acme_key, category_name = (acme.organisation.id, world.category_id), world.category_name

    async def submit() -> None:
        await bidding.save_bid(db, user, competition_id, answers=BID_ANSWERS, price_pence=90_000_00, vat_pence=0,
                               submit=True, now=clock.now())

    await _set_admission(db, world, acme_key, "suspended")
    with pytest.raises(Conflict) as refused:
        await submit()
    await db.rollback()
    assert str(refused.value) == f"Your organisation cannot bid: its admission to {category_name} is suspended"
    await _set_admission(db, world, acme_key, "active")  # the suspension ends before the deadline
    await submit()
    # The bid is sealed until the deadline (no bidder in clear): it is the competition's only bid.
    assert await scalar(db, sa.select(Bid.state).where(Bid.competition_id == competition_id)) == "submitted"
    await _set_admission(db, world, acme_key, "removed")
    with pytest.raises(Conflict, match=f"it has been removed from {category_name}"):
        await submit()  # no revision
    await db.rollback()
    await bidding.withdraw_bid(db, user, competition_id, clock.now())
    with pytest.raises(Conflict, match="Your organisation cannot bid"):
        await submit()  # no withdraw-and-resubmit
    await db.rollback()


async def test_a8_c7_a_removed_supplier_that_had_bid_is_excluded_with_its_reason_and_never_awarded(
        client, db, passwords, clock, drain_outbox, smtp_server):
    world = await make_competition_world(db, passwords, clock)
    competition_id = await make_published_competition(db, clock, world=world)
    acme, bright, _ = world.bidders
    acme_bid = await make_bid(db, clock, party=acme, competition_id=competition_id, price_pence=90_000_00)
    bright_bid = await make_bid(db, clock, party=bright, competition_id=competition_id, price_pence=100_000_00)
    await _set_admission(db, world, acme, "removed")  # before the deadline: excluded when bids are opened
    clock.set(DEADLINE + timedelta(minutes=1))
    buyer = await signed_in(db, world.buyer.user)
    await evaluating.start_evaluation(db, buyer, competition_id, clock.now())
    bid = await scalar(db, sa.select(Bid).where(Bid.id == acme_bid))
    assert bid.excluded_at is not None
    assert bid.exclusion_reason == f"It has been removed from {world.category_name}"
    audit = await scalar(db, sa.select(AuditEvent.after).where(AuditEvent.action == "bid.excluded",
                                                               AuditEvent.entity_id == str(acme_bid)))
    assert audit["stage"] == "bids_opened"
    evaluators = [await signed_in(db, user) for user in world.evaluators]
    for evaluator in evaluators:
        await evaluating.declare_interest(db, evaluator, competition_id, conflict=False, note="", now=clock.now())
    with pytest.raises(Exception, match="no such bid"):
        await evaluating.score_answer(db, evaluators[0], competition_id, acme_bid, "q1", score="5",
                                      justification="x", now=clock.now())
    for key in ("q1", "q2", "q3"):
        for evaluator in evaluators:
            await evaluating.score_answer(db, evaluator, competition_id, bright_bid, key, score="1",
                                          justification="Scored", now=clock.now())
        await evaluating.moderate(db, buyer, competition_id, bright_bid, key, score="1", rationale="Agreed",
                                  now=clock.now())
    page = await Browser(client).get(world.buyer.email, f"/buyer/competitions/{competition_id}/ranking")
    assert "Excluded bids" in page.text and f"It has been removed from {world.category_name}" in page.text
    await awarding.decide_award(db, buyer, competition_id, reasons="Highest total score", now=clock.now())
    assert await scalar(db, sa.select(Competition.winning_bid_id).where(Competition.id == competition_id)) == \
        bright_bid
    await drain_outbox()
    excluded = [m for m in smtp_server.messages if m["Subject"].startswith("Bid excluded:")]
    assert [m["To"] for m in excluded] == [acme.email]
    assert f"removed from {world.category_name}" in excluded[0].get_content()


async def test_a8_c7_a_winner_debarred_in_standstill_cannot_have_the_award_confirmed_and_the_award_moves_on(
        db, passwords, clock, drain_outbox, smtp_server):
    world, competition_id = await awarded_competition(db, passwords, clock, confirm=False)
    acme, bright, _ = world.bidders
    await _debar(db, clock, acme)
    await drain_outbox()
    told = [m for m in smtp_server.messages if "has been debarred" in m["Subject"]]
    assert [m["To"] for m in told] == [world.buyer.email]
    assert acme.name in told[0].get_content()  # bids are open: the buyer may know who it is
    competition = await scalar(db, sa.select(Competition).where(Competition.id == competition_id))
    clock.set(competition.standstill_ends_at + timedelta(days=1))
    buyer = await signed_in(db, world.buyer.user)
    _, total = await awarding.award_value(db, competition)
    with pytest.raises(Conflict, match="the supplier selected can no longer take part"):
        await awarding.confirm_award(db, buyer, competition_id, fund_lines=[], now=clock.now(),
                                     milestones=default_milestones(total, competition.contract_starts_on,
                                                                   competition.contract_ends_on))
    competition = await scalar(db, sa.select(Competition).where(Competition.id == competition_id))
    assert competition.state == "evaluation" and competition.winning_bid_id is None
    acme_bid = await scalar(db, sa.select(Bid).where(Bid.organisation_id == acme.organisation.id))
    assert acme_bid.exclusion_reason == "It is on the debarment list"
    await awarding.decide_award(db, buyer, competition_id, reasons="Next-ranked bid", now=clock.now())
    winner = await scalar(db, sa.select(Bid).where(Bid.id == (await scalar(
        db, sa.select(Competition.winning_bid_id).where(Competition.id == competition_id)))))
    assert winner.organisation_id == bright.organisation.id
    await drain_outbox()
    withdrawn = {m["To"] for m in smtp_server.messages if m["Subject"].startswith("Award decision withdrawn")}
    assert withdrawn == {acme.email, bright.email}


async def test_a8_a_debarment_tells_the_buyers_of_open_competitions_without_naming_the_supplier(
        db, passwords, clock, drain_outbox, smtp_server):
    world = await make_competition_world(db, passwords, clock)
    competition_id = await make_published_competition(db, clock, world=world)
    acme = world.bidders[0]
    await make_bid(db, clock, party=acme, competition_id=competition_id, price_pence=90_000_00)
    await _debar(db, clock, acme)
    await drain_outbox()
    told = [m for m in smtp_server.messages if "has been debarred" in m["Subject"]]
    assert [m["To"] for m in told] == [world.buyer.email]
    body = told[0].get_content()
    assert "A supplier invited to your competition" in body
    assert acme.name not in body and "bid" not in told[0]["Subject"]
    with pytest.raises(Conflict, match="it is on the debarment list"):
        await bidding.save_bid(db, await signed_in(db, acme.user), competition_id, answers=BID_ANSWERS,
                               price_pence=80_000_00, vat_pence=0, submit=True, now=clock.now())
    await db.rollback()
