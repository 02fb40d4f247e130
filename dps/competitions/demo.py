"""Demo competitions for Guy's and St Thomas' (ODS RJ1): one in each state, from draft to awarded and cancelled,
among the demo suppliers admitted to each category (see dps.admission.demo).

Built with the same commands the pages use, dated as they would have happened, inside the caller's one
transaction (the commands' own commits become flushes). The emails those commands queue are history, not news:
they are marked as sent so a fresh demo does not mail anyone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dps.agreements.models import Category
from dps.audit.services import Actor
from dps.calendar import london_date, london_instant
from dps.competitions.forms import CompetitionInput
from dps.competitions.models import Bid, Competition
from dps.competitions.rules import Criterion, CriterionKind, questions_of
from dps.competitions.services import awarding, bidding, drafting, evaluating, loading
from dps.contracts.rules import default_milestones
from dps.identity.models import Organisation, Role, User
from dps.identity.passwords import Passwords
from dps.identity.services import add_membership, create_user, load_signed_in_user
from dps.outbox.models import OutboxMessage

DEMO_BUYER_ODS = "RJ1"
DEMO_BUYER_EMAIL = "buyer@gstt.example.nhs.uk"
DEMO_EVALUATOR_EMAIL = "evaluator@gstt.example.nhs.uk"
# Demo suppliers without a user of their own get a bid desk, so that they can bid in the demo.
BID_DESKS = {"11000002": "bids@plussutures.example", "11000003": "bids@endocuff.example"}

CRITERIA = (
    Criterion("price", CriterionKind.PRICE, "Price", 40),
    Criterion("q1", CriterionKind.QUALITY, "Clinical effectiveness", 35,
              "Describe the clinical evidence for your product and the outcomes you will deliver.", 5, 500),
    Criterion("q2", CriterionKind.QUALITY, "Implementation and training", 15,
              "How will you implement the product and train our staff?", 5, 300),
    Criterion("q3", CriterionKind.NET_ZERO, "Net zero", 5,
              "How will you reduce the carbon footprint of this contract?", 5, 250),
    Criterion("q4", CriterionKind.SOCIAL_VALUE, "Social value", 5,
              "What social value will this contract bring to our local communities?", 5, 250),
)

ANSWERS = {
    "11000001": {"q1": "NICE MTG32 recommends CT-derived fractional flow reserve; it avoids invasive angiography "
                       "for a third of patients with stable chest pain.",
                 "q2": "Cloud processing, no local hardware; two half-day sessions for the cardiology team.",
                 "q3": "Fewer invasive procedures and hospital visits; data centres on renewable power.",
                 "q4": "Two paid research placements a year for local graduates."},
    "11000002": {"q1": "Triclosan-coated sutures reduce surgical site infection by about a quarter (NICE MTG59).",
                 "q2": "Theatre staff training in each directorate within four weeks of the contract start.",
                 "q3": "Recyclable packaging and consolidated monthly deliveries.",
                 "q4": "Apprenticeships in our London warehouse."},
    "11000003": {"q1": "Independent trials show fewer wound complications than standard sutures.",
                 "q2": "A clinical nurse specialist on site for the first month.",
                 "q3": "A published carbon reduction plan with a 2040 net zero target.",
                 "q4": "We buy from local social enterprises for our events."},
}
PRICES = {"11000001": (84_000_00, 16_800_00), "11000002": (46_500_00, 9_300_00),
          "11000003": (52_000_00, 10_400_00)}


class _FlushInsteadOfCommit:
    """Lets the commands run inside the seed's one transaction: their commit becomes a flush."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)

    async def commit(self) -> None:
        await self._session.flush()


@dataclass(frozen=True)
class DemoCompetition:
    title: str
    category: str
    final_state: str
    published_days_ago: int
    requirement: str


DEMO_COMPETITIONS: tuple[DemoCompetition, ...] = (
    DemoCompetition("Digital pathology image analysis", "imaging", "draft", 0,
                    "Image analysis for digitised histopathology slides, integrated with our LIMS."),
    DemoCompetition("AI triage of chest X-rays", "ai-diagnostics", "published", 3,
                    "AI decision support prioritising abnormal chest X-rays for reporting within 24 hours."),
    DemoCompetition("Surgical site infection prevention dressings", "surgical-infection-prevention", "closed", 15,
                    "Dressings that reduce surgical site infection after caesarean section and hip replacement."),
    DemoCompetition("Antimicrobial sutures for colorectal surgery", "surgical-infection-prevention", "evaluation", 25,
                    "Antimicrobial-coated sutures for elective colorectal surgery across both hospital sites."),
    DemoCompetition("Barbed sutures for plastic surgery", "surgical-infection-prevention", "award_decided", 30,
                    "Knotless barbed sutures for reconstructive plastic surgery."),
    DemoCompetition("Wound closure devices for orthopaedics", "surgical-infection-prevention", "standstill", 35,
                    "Wound closure devices for elective orthopaedic surgery."),
    DemoCompetition("CT-derived FFR analysis for chest pain", "imaging", "awarded", 80,
                    "CT-derived fractional flow reserve analysis for people with stable chest pain (NICE MTG32)."),
    DemoCompetition("AI detection of lung nodules", "ai-diagnostics", "cancelled", 20,
                    "AI detection of lung nodules on CT, for the targeted lung health check programme."),
)


def _at(day: date, hour: int = 12) -> datetime:
    return london_instant(day, time(hour, 0))


async def _user(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(sa.select(User).where(col(User.email) == email))


async def _bid_desks(session: AsyncSession, passwords: Passwords, password: str, now: datetime) -> None:
    actor = Actor.system("demo-seed")
    for number, email in BID_DESKS.items():
        organisation = await session.scalar(sa.select(Organisation).where(
            col(Organisation.companies_house_number) == number))
        if organisation is None or await _user(session, email) is not None:
            continue
        user = await create_user(session, passwords, email=email, full_name=f"Bid desk, {organisation.name}",
                                 password=password, actor=actor, now=now, email_verified=True)
        await add_membership(session, user=user, organisation=organisation, role=Role.SUPPLIER_ADMIN, actor=actor,
                             now=now)


async def seed_demo_competitions(session: AsyncSession, now: datetime, passwords: Passwords, password: str) -> int:
    """Idempotent: a demo competition whose title the demo buyer already uses is skipped. Returns how many were
    added."""
    buyer_org = await session.scalar(sa.select(Organisation).where(col(Organisation.ods_code) == DEMO_BUYER_ODS))
    buyer_user, evaluator_user = await _user(session, DEMO_BUYER_EMAIL), await _user(session, DEMO_EVALUATOR_EMAIL)
    if buyer_org is None or buyer_user is None or evaluator_user is None:
        return 0
    await _bid_desks(session, passwords, password, now)
    first_outbox_id = await session.scalar(sa.select(sa.func.max(col(OutboxMessage.id)))) or 0
    commands = _FlushInsteadOfCommit(session)
    added = 0
    for spec in DEMO_COMPETITIONS:
        exists = await session.scalar(sa.select(col(Competition.id)).where(
            col(Competition.buyer_organisation_id) == buyer_org.id, col(Competition.title) == spec.title))
        category = await session.scalar(sa.select(Category).where(col(Category.slug) == spec.category))
        if exists is not None or category is None:
            continue
        await _run(commands, spec, category, buyer_org, buyer_user, evaluator_user, now)
        added += 1
    # History, not news: the emails these commands queued are not sent.
    await session.execute(sa.update(OutboxMessage).where(col(OutboxMessage.id) > first_outbox_id,
                                                         col(OutboxMessage.processed_at).is_(None))
                          .values(processed_at=now, last_error="demo history: not sent"))
    await session.flush()
    return added


async def _supplier(session: Any, number: str) -> Any:
    email = BID_DESKS.get(number, "supplier.admin@heartflow.example")
    user = await _user(session, email)
    return None if user is None else await load_signed_in_user(session, user.id or 0)


async def _run(session: Any, spec: DemoCompetition, category: Category, buyer_org: Organisation, buyer_user: User,
               evaluator_user: User, now: datetime) -> None:
    buyer = await load_signed_in_user(session, buyer_user.id or 0)
    evaluator = await load_signed_in_user(session, evaluator_user.id or 0)
    assert buyer is not None and evaluator is not None
    published = now - timedelta(days=spec.published_days_ago)
    today = london_date(published)
    tender_deadline = _at(today + timedelta(days=14))
    clarification_deadline = _at(today + timedelta(days=7))
    starts_on = london_date(tender_deadline) + timedelta(days=45)
    data = CompetitionInput(
        buyer_organisation_id=buyer_org.id or 0, category_id=category.id or 0, title=spec.title,
        requirement=spec.requirement, estimated_value_pence=90_000_00, contract_starts_on=starts_on,
        contract_ends_on=starts_on + timedelta(days=364), clarification_deadline=clarification_deadline,
        tender_deadline=tender_deadline, criteria=CRITERIA, evaluator_user_ids=(evaluator_user.id or 0,))
    competition = await drafting.create_competition(session, buyer, data, published - timedelta(hours=2))
    cid = competition.id or 0
    if spec.final_state == "draft":
        return
    await drafting.publish(session, buyer, cid, published)
    invited = await loading.invited_organisation_ids(session, cid)
    numbers = dict((await session.execute(sa.select(col(Organisation.id), col(Organisation.companies_house_number))
                                          .where(col(Organisation.id).in_(invited)))).all())
    if spec.final_state in ("published", "cancelled"):
        question = await drafting.ask_question(
            session, await _supplier(session, numbers[invited[0]]), cid,
            "Must the system integrate with our PACS through DICOM and HL7?", published + timedelta(days=1))
        await drafting.answer_question(
            session, buyer, cid, question.id or 0, published_question="Must the system integrate with PACS?",
            answer="Yes: DICOM for images and HL7 v2 for results.", now=published + timedelta(days=2))
        if spec.final_state == "cancelled":
            await drafting.cancel(session, buyer, cid, "The service will be bought through the regional imaging "
                                  "network instead.", published + timedelta(days=4))
        return
    bid_at = published + timedelta(days=5)
    for organisation_id in invited:
        number = numbers[organisation_id]
        price, vat = PRICES[number]
        await bidding.save_bid(session, await _supplier(session, number), cid, answers=ANSWERS[number],
                               price_pence=price, vat_pence=vat, submit=True, now=bid_at)
    closed_at = tender_deadline + timedelta(hours=1)
    await loading.close_if_due(session, await session.get(Competition, cid), closed_at)
    if spec.final_state == "closed":
        return
    await evaluating.start_evaluation(session, buyer, cid, closed_at + timedelta(hours=1))
    scoring_at = closed_at + timedelta(days=1)
    await evaluating.declare_interest(session, evaluator, cid, conflict=False, note="", now=scoring_at)
    bids = (await session.scalars(sa.select(Bid).where(col(Bid.competition_id) == cid, col(Bid.state) == "submitted")
                                  .order_by(col(Bid.id)))).all()
    for index, bid in enumerate(bids):
        for criterion in questions_of(CRITERIA):
            score = 4 - index if criterion.key == "q1" else 3
            await evaluating.score_answer(session, evaluator, cid, bid.id or 0, criterion.key, score=str(score),
                                          justification="Evidence is relevant and well referenced.", now=scoring_at)
            if spec.final_state != "evaluation":
                await evaluating.moderate(session, buyer, cid, bid.id or 0, criterion.key, score=str(score),
                                          rationale="Agreed at the moderation meeting.",
                                          now=scoring_at + timedelta(days=1))
    if spec.final_state == "evaluation":
        return
    decided_at = {"award_decided": now - timedelta(days=1), "standstill": now - timedelta(days=3)}.get(
        spec.final_state, scoring_at + timedelta(days=2))
    rows = await evaluating.ranking(session, await session.get(Competition, cid))
    assert rows
    await awarding.decide_award(session, buyer, cid, reasons="Highest total score on the published criteria.",
                                now=decided_at)
    if spec.final_state == "award_decided":
        return
    standstill_at = decided_at + timedelta(hours=2)
    competition = await awarding.start_standstill(session, buyer, cid, standstill_at)
    if spec.final_state == "standstill":
        return
    confirmed_at = (competition.standstill_ends_at or standstill_at) + timedelta(days=1)
    _, total = await awarding.award_value(session, competition)
    await awarding.confirm_award(session, buyer, cid, fund_lines=[], now=confirmed_at,
                                 milestones=default_milestones(total, competition.contract_starts_on,
                                                               competition.contract_ends_on))
