"""Contracts services on the database: a contract is made with its milestones and an audit event in the caller's
transaction, and a milestone moves once at most per event, whatever is replayed."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from dps.audit.models import AuditEvent
from dps.audit.services import Actor
from dps.contracts.models import Contract, ContractMilestone
from dps.contracts.rules import Milestone, MilestoneEvent
from dps.contracts.services import (
    accept_milestone,
    add_contract,
    add_milestones,
    contract_of_competition,
    deliver_milestone,
    milestones_of,
    move_milestone,
    reject_milestone,
)
from dps.errors import Conflict, IllegalTransition, NotFound, ValidationFailed
from dps.mail import SITE_ADDRESS
from dps.outbox.models import OutboxMessage
from dps.payments.models import MilestonePayment
from dps.payments.services import raise_milestone_payment
from tests.factories import make_bid, make_competition_world, make_published_competition, signed_in
from tests.helpers import count_rows, scalar
from tests.payments.support import make_deal, milestone_state


async def _contract(db, world, competition_id, bid_id, clock, milestones):
    buyer = world.buyer
    contract = add_contract(
        db, competition_id=competition_id, bid_id=bid_id, buyer_organisation_id=buyer.organisation.id,
        supplier_organisation_id=world.bidders[0].organisation.id, title="Virtual ward platform",
        value_pence=1_000_000, vat_pence=200_000, starts_on=date(2026, 4, 1), ends_on=date(2027, 3, 31),
        fund_lines=[], milestones=milestones, actor=Actor(buyer.user.id, buyer.user.email), now=clock.now())
    await db.flush()
    await add_milestones(db, contract, milestones, actor=Actor(buyer.user.id, buyer.user.email), now=clock.now())
    return contract


async def test_a_contract_is_made_with_its_milestones_planned_and_an_audit_event(db, passwords, clock):
    world = await make_competition_world(db, passwords, clock)
    competition_id = await make_published_competition(db, clock, world=world)
    bid_id = await make_bid(db, clock, party=world.bidders[0], competition_id=competition_id, price_pence=1_000_000)
    contract = await _contract(db, world, competition_id, bid_id, clock, [
        Milestone("Go live", date(2026, 4, 1), 700_000), Milestone("Year end", date(2027, 3, 31), 500_000)])
    await db.commit()

    found = await contract_of_competition(db, competition_id)
    assert found is not None and found.id == contract.id and found.state == "active"
    assert await contract_of_competition(db, competition_id,
                                         supplier_organisation_id=world.bidders[1].organisation.id) is None
    milestones = await milestones_of(db, contract.id)
    await db.commit()
    assert [(m.sequence, m.title, m.amount_pence, m.state) for m in milestones] == [
        (1, "Go live", 700_000, "planned"), (2, "Year end", 500_000, "planned")]
    audited = await scalar(db, sa.select(AuditEvent.action).where(
        AuditEvent.entity_type == "contract", AuditEvent.entity_id == str(contract.id)))
    assert audited == "contract.created"


async def test_milestones_that_do_not_add_up_to_what_the_buyer_pays_make_no_contract(db, passwords, clock):
    world = await make_competition_world(db, passwords, clock)
    competition_id = await make_published_competition(db, clock, world=world)
    bid_id = await make_bid(db, clock, party=world.bidders[0], competition_id=competition_id, price_pence=1_000_000)
    with pytest.raises(ValidationFailed, match="add up to the contract value exactly"):
        await _contract(db, world, competition_id, bid_id, clock, [Milestone("All", date(2026, 4, 1), 1_000_000)])
    await db.rollback()
    assert await count_rows(db, Contract) == 0 and await count_rows(db, ContractMilestone) == 0


async def test_a_milestone_moves_once_per_event_and_never_back(db, passwords, clock):
    deal = await make_deal(db, passwords, clock, fund_backed=False)
    milestone_id = deal.milestone_ids[0]
    steps = [(MilestoneEvent.PAY, False, "accepted"),  # not asked for yet
             (MilestoneEvent.REQUEST_PAYMENT, True, "payment_requested"),
             (MilestoneEvent.REQUEST_PAYMENT, False, "payment_requested"),  # a replay moves nothing
             (MilestoneEvent.PAY, True, "paid"),
             (MilestoneEvent.PAY, False, "paid"),
             (MilestoneEvent.REFUND, True, "refunded"),
             (MilestoneEvent.REQUEST_PAYMENT, False, "refunded")]  # a refunded milestone is not paid again
    for event, moves, state in steps:
        assert await move_milestone(db, milestone_id, event) is moves, event
        await db.commit()
        assert await milestone_state(db, milestone_id) == state
    assert {await milestone_state(db, other) for other in deal.milestone_ids[1:]} == {"accepted"}


# --- delivery and acceptance ------------------------------------------------------------------------------


async def _audit_actions(db, milestone_id):
    rows = (await db.scalars(sa.select(AuditEvent.action).where(
        AuditEvent.entity_type == "contract_milestone", AuditEvent.entity_id == str(milestone_id))
        .order_by(AuditEvent.id))).all()
    await db.commit()
    return list(rows)


async def _emails(db):
    rows = (await db.execute(sa.select(OutboxMessage.payload).where(OutboxMessage.topic == "email")
                             .order_by(OutboxMessage.id))).scalars().all()
    await db.commit()
    return [(p["to"], p["subject"], p["body"]) for p in rows if str(p.get("subject", "")).startswith("Milestone")]


async def test_the_supplier_delivers_the_buyer_rejects_with_a_reason_then_accepts_the_delivery_again(
        db, passwords, clock):
    deal = await make_deal(db, passwords, clock, fund_backed=False, milestone_state="planned")
    supplier = await signed_in(db, deal.supplier.user)
    buyer = await signed_in(db, deal.buyer.user)
    first = deal.milestone_ids[0]
    buyer_email, supplier_email = buyer.email, supplier.email

    with pytest.raises(IllegalTransition, match="not yet delivered cannot be accepted"):
        await accept_milestone(db, buyer, contract_id=deal.contract_id, milestone_id=first, now=clock.now())
    await db.rollback()
    await deliver_milestone(db, supplier, contract_id=deal.contract_id, milestone_id=first,
                            note="Deployed to two wards", now=clock.now())
    assert await milestone_state(db, first) == "delivered"
    sent = await _emails(db)
    assert buyer_email in {to for to, _, _ in sent} and supplier_email not in {to for to, _, _ in sent}
    to, subject, body = sent[0]
    assert subject.startswith("Milestone delivered: Deployment")
    assert "Deployed to two wards" in body and f"{SITE_ADDRESS}/buyer/contracts/{deal.contract_id}#milestone-" in body

    with pytest.raises(ValidationFailed, match="Enter why"):
        await reject_milestone(db, buyer, contract_id=deal.contract_id, milestone_id=first, reason=" ",
                               now=clock.now())
    await db.rollback()
    clock.advance(timedelta(minutes=5))
    await reject_milestone(db, buyer, contract_id=deal.contract_id, milestone_id=first,
                           reason="Only one ward is live", now=clock.now())
    assert await milestone_state(db, first) == "rejected"
    to, subject, body = (await _emails(db))[-1]
    assert to == supplier_email
    assert "Only one ward is live" in body
    assert f"{SITE_ADDRESS}/supplier/contracts/{deal.contract_id}#milestone-{first}" in body

    clock.advance(timedelta(minutes=5))
    await deliver_milestone(db, supplier, contract_id=deal.contract_id, milestone_id=first,
                            note="Both wards live", now=clock.now())
    milestone = await scalar(db, sa.select(ContractMilestone).where(ContractMilestone.id == first)
                             .execution_options(populate_existing=True))
    assert (milestone.state, milestone.delivery_note, milestone.rejection_reason) == (
        "delivered", "Both wards live", None)
    await accept_milestone(db, buyer, contract_id=deal.contract_id, milestone_id=first, now=clock.now())
    assert await milestone_state(db, first) == "accepted"
    assert (await _emails(db))[-1][1].startswith("Milestone accepted: Deployment")
    assert await _audit_actions(db, first) == [
        "contract_milestone.delivered", "contract_milestone.rejected", "contract_milestone.delivered",
        "contract_milestone.accepted"]
    with pytest.raises(IllegalTransition):
        await deliver_milestone(db, supplier, contract_id=deal.contract_id, milestone_id=first, note="again",
                                now=clock.now())
    await db.rollback()


async def test_only_the_contracts_supplier_delivers_and_only_its_buyer_decides(db, passwords, clock):
    deal = await make_deal(db, passwords, clock, fund_backed=False, milestone_state="planned")
    first = deal.milestone_ids[0]
    buyer = await signed_in(db, deal.buyer.user)
    loser = await signed_in(db, deal.world.bidders[1].user)
    supplier = await signed_in(db, deal.supplier.user)
    other = await signed_in(db, deal.world.other_buyer.user)
    with pytest.raises(NotFound):
        await deliver_milestone(db, buyer, contract_id=deal.contract_id, milestone_id=first, note="x",
                                now=clock.now())
    await db.rollback()
    with pytest.raises(NotFound):
        await deliver_milestone(db, loser, contract_id=deal.contract_id, milestone_id=first, note="x",
                                now=clock.now())
    await db.rollback()
    await deliver_milestone(db, supplier, contract_id=deal.contract_id, milestone_id=first, note="Done",
                            now=clock.now())
    with pytest.raises(NotFound):
        await accept_milestone(db, supplier, contract_id=deal.contract_id, milestone_id=first, now=clock.now())
    await db.rollback()
    with pytest.raises(NotFound):
        await reject_milestone(db, other, contract_id=deal.contract_id, milestone_id=first, reason="no",
                               now=clock.now())
    await db.rollback()
    assert await milestone_state(db, first) == "delivered"


async def test_a_milestone_not_yet_accepted_cannot_be_paid(db, passwords, clock):
    deal = await make_deal(db, passwords, clock, fund_backed=False, milestone_state="planned")
    buyer = await signed_in(db, deal.buyer.user)
    supplier = await signed_in(db, deal.supplier.user)
    first = deal.milestone_ids[0]
    for step in ("planned", "delivered"):
        if step == "delivered":
            await deliver_milestone(db, supplier, contract_id=deal.contract_id, milestone_id=first, note="Done",
                                    now=clock.now())
        with pytest.raises(Conflict, match="only once the supplier has delivered it and you have accepted it"):
            await raise_milestone_payment(db, buyer, contract_id=deal.contract_id, milestone_id=first,
                                          now=clock.now())
        await db.rollback()
        assert await count_rows(db, MilestonePayment) == 0
    await accept_milestone(db, buyer, contract_id=deal.contract_id, milestone_id=first, now=clock.now())
    await raise_milestone_payment(db, buyer, contract_id=deal.contract_id, milestone_id=first, now=clock.now())
    assert await milestone_state(db, first) == "payment_requested"
