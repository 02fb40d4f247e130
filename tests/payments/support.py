"""A buyer with a contract of three milestones, backed by a fund commitment split over two allocations."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa

from dps.audit.services import Actor
from dps.contracts.models import Contract, ContractMilestone
from dps.funds import services as funds
from dps.payments.webhooks import signature_header
from tests.factories import (
    World,
    make_allocation,
    make_bid,
    make_competition_world,
    make_fund,
    make_published_competition,
    signed_in,
)
from tests.funds.support import balance

WEBHOOK_SECRET = "whsec_test_payments"
MILESTONES = [("Deployment", 300_000), ("Go-live", 500_000), ("Evaluation report", 200_000)]  # £10,000 in all


@dataclass
class Deal:
    world: World
    contract_id: int
    milestone_ids: list[int]
    allocation_ids: list[int]
    commitment_id: int

    @property
    def buyer(self) -> Any:
        return self.world.buyer

    @property
    def supplier(self) -> Any:
        return self.world.bidders[0]


async def make_deal(db: Any, passwords: Any, clock: Any, *, fund_backed: bool = True, lapses: bool = False,
                    milestone_state: str = "accepted") -> Deal:
    """The world's buyer is trust RX1 (Nottingham University Hospitals), so the fund is allocated to its ICB, QT1
    (RULES.md 5: money stays in its ICB). Its milestones are delivered and accepted (ready to be paid) unless
    `milestone_state` says otherwise. The money does not lapse at 31 March unless `lapses`: the end-to-end tests
    pay at the real date (localstripe signs with the real time), which may be after the allocations' year."""
    world = await make_competition_world(db, passwords, clock)
    competition_id = await make_published_competition(db, clock, world=world)
    bid_id = await make_bid(db, clock, party=world.bidders[0], competition_id=competition_id, price_pence=1_000_000)
    total = sum(pence for _, pence in MILESTONES)
    allocation_ids: list[int] = []
    lines: list[dict[str, int]] = []
    commitment_id = 0
    if fund_backed:
        fund = await make_fund(db, clock, name="Payments Test Fund", lapses_at_year_end=lapses)
        allocation_ids = [await make_allocation(db, clock, fund=fund, ods="QT1", pounds=50_000, budget="revenue"),
                          await make_allocation(db, clock, fund=fund, ods="QT1", pounds=50_000, budget="capital")]
        lines = [{"allocation_id": allocation_ids[0], "pence": 600_000},
                 {"allocation_id": allocation_ids[1], "pence": 400_000}]
        commitment = await funds.commit_funds(
            db, buyer_org_id=world.buyer.organisation.id, category_id=world.category_id,
            lines=[(line["allocation_id"], line["pence"]) for line in lines], total_pence=total,
            reference=f"competition:{competition_id}", actor=Actor.system("test"), now=clock.now())
        commitment_id = commitment.id
    contract = Contract(competition_id=competition_id, bid_id=bid_id,
                        buyer_organisation_id=world.buyer.organisation.id,
                        supplier_organisation_id=world.bidders[0].organisation.id, title="Virtual ward platform",
                        value_pence=total, vat_pence=0, starts_on=date(2026, 2, 1), ends_on=date(2027, 1, 31),
                        state="active", created_by_user_id=world.buyer.user.id, created_at=clock.now(),
                        fund_lines=lines)
    db.add(contract)
    await db.flush()
    milestone_ids = []
    for sequence, (title, pence) in enumerate(MILESTONES, start=1):
        milestone = ContractMilestone(contract_id=contract.id, sequence=sequence, title=title,
                                      due_on=date(2026, 2 + sequence, 1), amount_pence=pence,
                                      state=milestone_state)
        db.add(milestone)
        await db.flush()
        milestone_ids.append(milestone.id)
    await db.commit()
    return Deal(world, contract.id, milestone_ids, allocation_ids, commitment_id)


async def buyer_of(db: Any, deal: Deal) -> Any:
    return await signed_in(db, deal.buyer.user)


async def balances(db: Any, deal: Deal) -> list[tuple[int, int, int]]:
    found = [await balance(db, allocation_id) for allocation_id in deal.allocation_ids]
    return [(b.allocated, b.committed, b.spent) for b in found]


def event(event_type: str, obj: dict[str, Any], event_id: str = "evt_1") -> dict[str, Any]:
    return {"id": event_id, "object": "event", "type": event_type, "created": int(time.time()),
            "data": {"object": obj}}


def signed(body: dict[str, Any] | bytes, timestamp: int, secret: str = WEBHOOK_SECRET) -> tuple[bytes, dict[str, str]]:
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    return payload, {"Stripe-Signature": signature_header(secret, timestamp, payload),
                     "Content-Type": "application/json"}


async def row(db: Any, statement: Any) -> Any:
    value = (await db.execute(statement)).one()
    await db.commit()
    return value


async def milestone_state(db: Any, milestone_id: int) -> str:
    return (await row(db, sa.select(ContractMilestone.state).where(ContractMilestone.id == milestone_id)))[0]
