"""Contracts services on the database: a contract is made with its milestones and an audit event in the caller's
transaction, and a milestone moves once at most per event, whatever is replayed."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from dps.audit.models import AuditEvent
from dps.audit.services import Actor
from dps.contracts.models import Contract, ContractMilestone
from dps.contracts.rules import Milestone, MilestoneEvent
from dps.contracts.services import contract_of_competition, create_contract, milestones_of, move_milestone
from dps.errors import ValidationFailed
from tests.factories import make_bid, make_competition_world, make_published_competition
from tests.helpers import count_rows, scalar
from tests.payments.support import make_deal, milestone_state


async def _contract(db, world, competition_id, bid_id, clock, milestones):
    buyer = world.buyer
    return await create_contract(
        db, competition_id=competition_id, bid_id=bid_id, buyer_organisation_id=buyer.organisation.id,
        supplier_organisation_id=world.bidders[0].organisation.id, title="Virtual ward platform",
        value_pence=1_000_000, vat_pence=200_000, starts_on=date(2026, 4, 1), ends_on=date(2027, 3, 31),
        fund_lines=[], milestones=milestones, actor=Actor(buyer.user.id, buyer.user.email), now=clock.now())


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
    steps = [(MilestoneEvent.PAY, False, "planned"),  # not asked for yet
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
    assert {await milestone_state(db, other) for other in deal.milestone_ids[1:]} == {"planned"}
