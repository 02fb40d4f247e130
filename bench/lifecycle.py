"""Funds, competitions, awards and payments, made through the product's own services (the same commands the
pages call), dated as they would have happened before the generator's as-of instant.

Services commit as they go; each competition runs in a session of its own. Bids are sealed with random tokens by
the product (C5), so those tokens, and the audit hash chain that covers them, differ from run to run: every other
row is the same for the same seed.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from dps.audit.services import Actor
from dps.calendar import financial_year, london_date, london_instant
from dps.competitions.demo import CRITERIA
from dps.competitions.forms import CompetitionInput
from dps.competitions.models import Bid
from dps.competitions.rules import FundLine, questions_of
from dps.competitions.services import awarding, bidding, drafting, evaluating, loading
from dps.contracts.models import ContractMilestone
from dps.contracts.rules import default_milestones
from dps.contracts.services import accept_milestone, deliver_milestone
from dps.funds import services as funds
from dps.funds.rules import FundRules, Refused
from dps.identity.services import SignedInUser, load_signed_in_user
from dps.payments import services as payments

SEED_ACTOR = Actor.system("bench-generator")
# Where competitions end up, and how often (an awarded competition is the common case of a busy DPS).
FINAL_STATE_WEIGHTS = {"awarded": 40, "standstill": 8, "award_decided": 6, "evaluation": 8, "closed": 6,
                       "published": 16, "draft": 8, "cancelled": 8}
# How long before the as-of instant a competition in that final state was published.
PUBLISHED_DAYS_AGO = {"draft": (0, 0), "published": (1, 4), "cancelled": (4, 9), "closed": (14, 15),
                      "evaluation": (16, 17), "award_decided": (19, 19), "standstill": (19, 19),
                      "awarded": (45, 110)}
FUNDS = (("Health Technology Adoption and Acceleration Fund", 120_000_000_00),
         ("MedTech ICS Fund", 60_000_000_00), ("AI Diagnostics Fund", 40_000_000_00))
ANSWERS = {
    "q1": "Published evaluations in NHS trusts show fewer admissions and faster diagnosis; the evidence pack lists "
          "each study with its outcomes.",
    "q2": "A named implementation lead, two training sessions for each team and a support desk from day one.",
    "q3": "Remote care cuts patient travel; our hosting runs on renewable power and we publish a carbon plan.",
    "q4": "Apprenticeships and local hiring in the areas we serve, with volunteering days for staff.",
}


def at(day: date, hour: int = 12) -> datetime:
    return london_instant(day, time(hour, 0))


@dataclass(frozen=True)
class Allocations:
    """Allocation ids of the generated funds for the as-of financial year, by ICB organisation id."""

    by_icb: dict[int, list[int]]

    def open_to(self, icb_id: int) -> list[int]:
        """A trust's awards draw on its own ICB's allocations only (RULES.md 5: money stays in its ICB)."""
        return self.by_icb[icb_id]


async def create_funds(session: AsyncSession, *, authority_id: int, icb_ids: Sequence[int], as_of: datetime,
                       rng: random.Random) -> Allocations:
    """Funds with an allocation for every ICB (capital and revenue) in the as-of financial year, through the funds
    services (each with its ledger entries and audit events). Does not commit."""
    year = financial_year(london_date(as_of))
    start = as_of - timedelta(days=240)  # allocated ahead of the year, before the oldest generated award
    by_icb: dict[int, list[int]] = {}
    for name, total in FUNDS:
        fund = await funds.define_fund(session, name=name, description=f"{name} (generated for benchmarks)",
                                       owner_organisation_id=authority_id, rules=FundRules(name=name),
                                       actor=SEED_ACTOR, now=start)
        weights = [rng.paretovariate(1.5) for _ in icb_ids]
        for icb_id, weight in zip(icb_ids, weights, strict=True):
            share = max(100_000_00, int(total * weight / sum(weights)) // 100_000 * 100_000)
            for budget in ("capital", "revenue"):
                allocation = await funds.allocate(session, fund_id=fund.id or 0, financial_year=year,
                                                  icb_organisation_id=icb_id, budget_type=budget, pence=share // 2,
                                                  actor=SEED_ACTOR, now=start)
                by_icb.setdefault(icb_id, []).append(allocation.id or 0)
    return Allocations(by_icb)


@dataclass(frozen=True)
class Cast:
    buyer_user_id: int
    evaluator_user_id: int
    bidder_user_ids: tuple[int, ...]  # supplier admins of suppliers admitted to the category


@dataclass(frozen=True)
class Plan:
    title: str
    requirement: str
    category_id: int
    buyer_organisation_id: int
    final_state: str
    published_at: datetime
    fund_allocation_ids: tuple[int, ...] = ()
    pay_due_milestones: bool = True


async def _user(session: AsyncSession, user_id: int) -> SignedInUser:
    user = await load_signed_in_user(session, user_id)
    assert user is not None, f"user {user_id} is missing"
    return user


async def run_competition(session: AsyncSession, plan: Plan, cast: Cast, rng: random.Random,
                          as_of: datetime) -> int:
    """Take one competition from draft to its final state with the product's commands; returns its id."""
    buyer, evaluator = await _user(session, cast.buyer_user_id), await _user(session, cast.evaluator_user_id)
    published = plan.published_at
    today = london_date(published)
    tender_deadline = at(today + timedelta(days=14))
    starts_on = london_date(tender_deadline) + timedelta(days=45)
    data = CompetitionInput(
        buyer_organisation_id=plan.buyer_organisation_id, category_id=plan.category_id, title=plan.title,
        requirement=plan.requirement, estimated_value_pence=rng.randint(20, 400) * 1000_00,
        contract_starts_on=starts_on, contract_ends_on=starts_on + timedelta(days=364),
        clarification_deadline=at(today + timedelta(days=7)), tender_deadline=tender_deadline, criteria=CRITERIA,
        evaluator_user_ids=(cast.evaluator_user_id,))
    competition = await drafting.create_competition(session, buyer, data, published - timedelta(hours=2))
    cid = competition.id or 0
    if plan.final_state == "draft":
        return cid
    await drafting.publish(session, buyer, cid, published)
    if plan.final_state in ("published", "cancelled"):
        if plan.final_state == "cancelled":
            await drafting.cancel(session, buyer, cid, "The need will be met through a regional contract.",
                                  published + timedelta(days=2))
        return cid
    bid_at = published + timedelta(days=5)
    for number, user_id in enumerate(cast.bidder_user_ids):
        price = rng.randint(20, 400) * 1000_00
        saved = await bidding.save_bid(session, await _user(session, user_id), cid, answers=ANSWERS,
                                       price_pence=price, vat_pence=price // 5, submit=True,
                                       now=bid_at + timedelta(minutes=number))
        assert saved.submitted, saved.errors
    closed_at = tender_deadline + timedelta(hours=1)
    # Loading a competition after its tender deadline closes it (C5), as the first page view would.
    await loading.competition_for_buyer(session, buyer, cid, closed_at)
    await session.commit()
    if plan.final_state == "closed":
        return cid
    await evaluating.start_evaluation(session, buyer, cid, closed_at + timedelta(hours=1))
    scoring_at = closed_at + timedelta(days=1)
    await evaluating.declare_interest(session, evaluator, cid, conflict=False, note="", now=scoring_at)
    bids = (await session.scalars(sa.select(Bid).where(Bid.competition_id == cid, Bid.state == "submitted")
                                  .order_by(Bid.id))).all()
    for bid in bids:
        for question in questions_of(CRITERIA):
            score = str(rng.randint(2, 5))
            await evaluating.score_answer(session, evaluator, cid, bid.id or 0, question.key, score=score,
                                          justification="Relevant, well-evidenced answer.", now=scoring_at)
            if plan.final_state != "evaluation":
                await evaluating.moderate(session, buyer, cid, bid.id or 0, question.key, score=score,
                                          rationale="Agreed at moderation.", now=scoring_at + timedelta(days=1))
    if plan.final_state == "evaluation":
        return cid
    decided_at = scoring_at + timedelta(days=2)
    rows = await evaluating.ranking(session, await loading.competition_for_buyer(session, buyer, cid, decided_at))
    assert rows, "a competition with moderated bids has a ranking"
    await awarding.decide_award(session, buyer, cid, reasons="Highest total score on the published criteria.",
                                now=decided_at)
    if plan.final_state == "award_decided":
        return cid
    competition = await awarding.start_standstill(session, buyer, cid, decided_at + timedelta(hours=2))
    if plan.final_state == "standstill":
        return cid
    confirmed_at = (competition.standstill_ends_at or decided_at) + timedelta(days=1)
    contract = await confirm(session, buyer, cid, plan.fund_allocation_ids, confirmed_at)
    if plan.pay_due_milestones:
        supplier = await _member_of(session, cast.bidder_user_ids, contract.supplier_organisation_id)
        await pay_due_milestones(session, buyer, supplier, contract.id or 0, as_of)
    return cid


def split(total: int, allocation_ids: Sequence[int]) -> list[FundLine]:
    """The award value over the allocations: equal shares, the remainder on the first."""
    if not allocation_ids:
        return []
    share = total // len(allocation_ids)
    lines = [FundLine(allocation_id, share) for allocation_id in sorted(allocation_ids)]
    lines[0] = FundLine(lines[0].allocation_id, share + total - share * len(lines))
    return lines


async def confirm(session: AsyncSession, buyer: SignedInUser, competition_id: int, allocation_ids: Sequence[int],
                  now: datetime) -> Any:
    """The award confirmation after standstill: funds committed, the contract and its milestones created."""
    competition = await loading.competition_for_buyer(session, buyer, competition_id, now)
    _, total = await awarding.award_value(session, competition)
    milestones = default_milestones(total, competition.contract_starts_on, competition.contract_ends_on)
    await session.commit()
    try:
        return await awarding.confirm_award(session, buyer, competition_id, fund_lines=split(total, allocation_ids),
                                            now=now, milestones=milestones)
    except Refused:
        # The allocations drawn for this award have too little left: the trust pays from its own budget, as a
        # buyer would when no fund can take it.
        session.expire_all()
        return await awarding.confirm_award(session, buyer, competition_id, fund_lines=[], now=now,
                                            milestones=milestones)


async def _member_of(session: AsyncSession, user_ids: Sequence[int], organisation_id: int) -> SignedInUser:
    for user_id in user_ids:
        user = await _user(session, user_id)
        if any(membership.organisation_id == organisation_id for membership in user.memberships):
            return user
    raise AssertionError(f"no bidder of organisation {organisation_id}")


async def pay_due_milestones(session: AsyncSession, buyer: SignedInUser, supplier: SignedInUser, contract_id: int,
                             as_of: datetime) -> int:
    """For every milestone due by the as-of date: the supplier marks it delivered and the buyer accepts it and
    raises its payment (their commands); Stripe's `payment_intent.succeeded` event is applied for those due long
    enough ago (the webhook handler's own function). Returns how many were paid."""
    due = (await session.execute(sa.select(ContractMilestone.id, ContractMilestone.due_on).where(
        ContractMilestone.contract_id == contract_id, ContractMilestone.due_on <= london_date(as_of))
        .order_by(ContractMilestone.sequence))).all()
    paid = 0
    for milestone_id, due_on in due:
        raised_at = at(due_on, 10)
        if raised_at > as_of:
            break
        await deliver_milestone(session, supplier, contract_id=contract_id, milestone_id=milestone_id,
                                note="Delivered as agreed.", now=raised_at - timedelta(hours=2))
        session.expire_all()  # one session plays both parties here: read the milestone as the buyer's request would
        await accept_milestone(session, buyer, contract_id=contract_id, milestone_id=milestone_id,
                               now=raised_at - timedelta(hours=1))
        session.expire_all()
        payment = await payments.raise_milestone_payment(session, buyer, contract_id=contract_id,
                                                         milestone_id=milestone_id, now=raised_at)
        paid_at = raised_at + timedelta(days=3)
        if paid_at > as_of:
            continue
        event = {"id": f"evt_bench_{payment.id}", "type": "payment_intent.succeeded",
                 "data": {"object": {"id": f"pi_bench_{payment.id}", "amount": payment.amount_pence,
                                     "metadata": {"milestone_payment_id": str(payment.id)}}}}
        outcome = await payments.handle_event(session, event, paid_at)
        await session.commit()
        paid += outcome == "paid"
    return paid
