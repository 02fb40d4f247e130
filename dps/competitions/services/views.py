"""Reading competitions for pages: summaries, the buyer's and the evaluation team's view, the supplier's inbox
and view. Nothing here tells anyone about sealed bids (C5) but the bidder itself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from dps.agreements.models import Agreement, Category
from dps.competitions.models import (
    AwardNotice,
    Bid,
    Clarification,
    Competition,
    CompetitionEvaluator,
    CompetitionInvitation,
    OutcomeLetter,
)
from dps.competitions.rules import (
    TIE_BREAK_WORDING,
    BidState,
    CompetitionState,
    Criterion,
    bids_open,
    tie_break_of,
)
from dps.competitions.services.bidding import own_bid
from dps.competitions.services.loading import (
    bids_sealed,
    buyer_organisation_ids,
    competition_for_supplier,
    criteria_of,
)
from dps.contracts.models import Contract, ContractMilestone
from dps.contracts.services import contract_of_competition, milestones_of
from dps.identity.models import Organisation, OrganisationKind, User
from dps.identity.services import SignedInUser


@dataclass(frozen=True)
class CompetitionSummary:
    competition: Competition
    category_name: str
    agreement_name: str
    regime: str
    buyer_name: str


def _summary_query() -> Any:
    return (sa.select(Competition, Category.name, Agreement.name, Agreement.regime, Organisation.name)
            .join(Category, Category.id == Competition.category_id)
            .join(Agreement, Agreement.id == Category.agreement_id)
            .join(Organisation, Organisation.id == Competition.buyer_organisation_id))


async def summary(session: AsyncSession, competition: Competition) -> CompetitionSummary:
    row = (await session.execute(_summary_query().where(Competition.id == competition.id))).one()
    return CompetitionSummary(*row)


async def competitions_for_team(session: AsyncSession, user: SignedInUser) -> list[CompetitionSummary]:
    evaluates = sa.select(CompetitionEvaluator.competition_id).where(CompetitionEvaluator.user_id == user.id)
    rows = (await session.execute(_summary_query().where(sa.or_(
        Competition.buyer_organisation_id.in_(buyer_organisation_ids(user)), Competition.id.in_(evaluates)))
        .order_by(Competition.created_at.desc(), Competition.id.desc()))).all()
    return [CompetitionSummary(*row) for row in rows]


@dataclass(frozen=True)
class BuyerView:
    summary: CompetitionSummary
    criteria: tuple[Criterion, ...]
    invited_count: int
    invited: tuple[CompetitionInvitation, ...]  # names only once bids are unsealed
    evaluators: tuple[tuple[str, CompetitionEvaluator], ...]
    clarifications: tuple[Clarification, ...]
    unanswered: int
    bids_received: int | None  # None while sealed (C5)
    contract: Contract | None
    milestones: tuple[ContractMilestone, ...]
    notice: AwardNotice | None
    is_buyer: bool
    is_evaluator: bool
    tie_break: str = ""  # C7: the published rule that breaks a tie on the total score


async def buyer_view(session: AsyncSession, user: SignedInUser, competition: Competition) -> BuyerView:
    sealed = bids_sealed(competition)
    invitations = (await session.scalars(sa.select(CompetitionInvitation).where(
        CompetitionInvitation.competition_id == competition.id)
        .order_by(CompetitionInvitation.organisation_name))).all()
    seats = (await session.execute(
        sa.select(User.full_name, CompetitionEvaluator).join(User, User.id == CompetitionEvaluator.user_id)
        .where(CompetitionEvaluator.competition_id == competition.id).order_by(User.full_name))).all()
    clarifications = (await session.scalars(sa.select(Clarification).where(
        Clarification.competition_id == competition.id).order_by(Clarification.asked_at, Clarification.id))).all()
    received = None if sealed else await session.scalar(sa.select(sa.func.count()).select_from(Bid).where(
        Bid.competition_id == competition.id, Bid.state == BidState.SUBMITTED))
    contract = await contract_of_competition(session, competition.id or 0)
    milestones = () if contract is None else tuple(await milestones_of(session, contract.id or 0))
    notice = await session.scalar(sa.select(AwardNotice).where(AwardNotice.competition_id == competition.id))
    return BuyerView(
        summary=await summary(session, competition), criteria=criteria_of(competition),
        invited_count=len(invitations), invited=() if sealed else tuple(invitations),
        evaluators=tuple((name, seat) for name, seat in seats), clarifications=tuple(clarifications),
        unanswered=sum(1 for c in clarifications if c.answered_at is None), bids_received=received,
        contract=contract, milestones=milestones, notice=notice,
        is_buyer=competition.buyer_organisation_id in buyer_organisation_ids(user),
        is_evaluator=any(seat.user_id == user.id for _, seat in seats),
        tie_break=TIE_BREAK_WORDING[tie_break_of(competition.tie_break)])


@dataclass(frozen=True)
class SupplierInvitation:
    competition: Competition
    invitation: CompetitionInvitation
    category_name: str
    buyer_name: str
    bid_state: str | None


async def supplier_inbox(session: AsyncSession, user: SignedInUser) -> list[SupplierInvitation]:
    supplier_ids = user.organisation_ids_of_kind(OrganisationKind.SUPPLIER)
    rows = (await session.execute(
        sa.select(Competition, CompetitionInvitation, Category.name, Organisation.name, Bid.state)
        .join(CompetitionInvitation, CompetitionInvitation.competition_id == Competition.id)
        .join(Category, Category.id == Competition.category_id)
        .join(Organisation, Organisation.id == Competition.buyer_organisation_id)
        .outerjoin(Bid, sa.and_(Bid.competition_id == Competition.id,
                                Bid.organisation_id == CompetitionInvitation.organisation_id))
        .where(CompetitionInvitation.organisation_id.in_(supplier_ids))
        .order_by(CompetitionInvitation.invited_at.desc(), Competition.id.desc()))).all()
    return [SupplierInvitation(*row) for row in rows]


@dataclass(frozen=True)
class SupplierView:
    summary: CompetitionSummary
    invitation: CompetitionInvitation
    criteria: tuple[Criterion, ...]
    published_clarifications: tuple[Clarification, ...]
    own_questions: tuple[Clarification, ...]
    bid: Bid | None
    letter: OutcomeLetter | None
    contract: Contract | None
    open_for_bids: bool
    open_for_questions: bool
    tie_break: str = ""  # C7: the published rule that breaks a tie on the total score


async def supplier_view(session: AsyncSession, user: SignedInUser, competition_id: int,
                        now: datetime) -> SupplierView:
    competition, invitation = await competition_for_supplier(session, user, competition_id, now)
    clarifications = (await session.scalars(sa.select(Clarification).where(
        Clarification.competition_id == competition.id).order_by(Clarification.answered_at, Clarification.id))).all()
    letter = await session.scalar(sa.select(OutcomeLetter).where(
        OutcomeLetter.competition_id == competition.id, OutcomeLetter.organisation_id == invitation.organisation_id,
        OutcomeLetter.sent_at.is_not(None)))
    contract = await contract_of_competition(session, competition.id or 0,
                                             supplier_organisation_id=invitation.organisation_id)
    published = competition.state == CompetitionState.PUBLISHED
    return SupplierView(
        summary=await summary(session, competition), invitation=invitation, criteria=criteria_of(competition),
        published_clarifications=tuple(c for c in clarifications if c.answered_at is not None),
        own_questions=tuple(c for c in clarifications if c.answered_at is None
                            and c.asked_by_organisation_id == invitation.organisation_id),
        bid=await own_bid(session, competition.id or 0, invitation.organisation_id), letter=letter,
        contract=contract, open_for_bids=published and bids_open(competition.tender_deadline, now),
        open_for_questions=published and now < competition.clarification_deadline,
        tie_break=TIE_BREAK_WORDING[tie_break_of(competition.tie_break)])
