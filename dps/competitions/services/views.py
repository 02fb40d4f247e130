"""Reading competitions for pages: summaries, the buyer's and the evaluation team's view, the supplier's inbox
and view. Nothing here tells anyone about sealed bids (C5) but the bidder itself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

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
    TimelineStep,
    bids_open,
    competition_timeline,
    contract_notice_name,
    contract_notice_needs,
    notice_overdue,
    standstill_ends,
    standstill_starts_with_notice,
    tie_break_of,
)
from dps.competitions.services.bidding import OwnBid, own_bid
from dps.competitions.services.loading import (
    bids_sealed,
    buyer_organisation_ids,
    competition_for_supplier,
    criteria_of,
)
from dps.competitions.services.sealing import bid_states_of
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
    return (sa.select(Competition, col(Category.name), col(Agreement.name), col(Agreement.regime),
                      col(Organisation.name))
            .join(Category, col(Category.id) == Competition.category_id)
            .join(Agreement, col(Agreement.id) == Category.agreement_id)
            .join(Organisation, col(Organisation.id) == Competition.buyer_organisation_id))


async def summary(session: AsyncSession, competition: Competition) -> CompetitionSummary:
    row = (await session.execute(_summary_query().where(col(Competition.id) == competition.id))).one()
    return CompetitionSummary(*row)


async def competitions_for_team(session: AsyncSession, user: SignedInUser) -> list[CompetitionSummary]:
    evaluates = sa.select(col(CompetitionEvaluator.competition_id)).where(col(CompetitionEvaluator.user_id) == user.id)
    rows = (await session.execute(_summary_query().where(sa.or_(
        col(Competition.buyer_organisation_id).in_(buyer_organisation_ids(user)), col(Competition.id).in_(evaluates)))
        .order_by(col(Competition.created_at).desc(), col(Competition.id).desc()))).all()
    return [CompetitionSummary(*row) for row in rows]


@dataclass(frozen=True)
class NoticePlan:
    """What the buyer's competition page says and offers about the award notices (C8-C10)."""

    starts_with_notice: bool  # PA 2023: publishing the contract award notice starts the standstill
    award_notice_to_publish: bool  # the buyer may publish the contract award notice now
    standstill_if_published_now: datetime | None  # when that standstill would end
    contract_notice_name: str  # the notice due within 30 days of the contract
    contract_notice_needs: tuple[str, ...]  # what the buyer must still give for it
    contract_notice_overdue: bool


def notice_plan(competition: Competition, regime: str, notice: AwardNotice | None, now: datetime) -> NoticePlan:
    starts_with_notice = standstill_starts_with_notice(regime)
    to_publish = starts_with_notice and (
        competition.state == CompetitionState.AWARD_DECIDED
        or (competition.state == CompetitionState.STANDSTILL and notice is not None and notice.published_at is None))
    return NoticePlan(
        starts_with_notice=starts_with_notice, award_notice_to_publish=to_publish,
        standstill_if_published_now=standstill_ends(now, regime) if to_publish else None,
        contract_notice_name=contract_notice_name(regime),
        contract_notice_needs=() if notice is None else contract_notice_needs(
            regime, notice.value_incl_vat_pence, notice.kpis),
        contract_notice_overdue=notice is not None and notice_overdue(
            now, notice.publish_by, notice.contract_notice_published_at))


def timeline(competition: Competition, regime: str, notice: AwardNotice | None,
             now: datetime) -> tuple[TimelineStep, ...]:
    """Every step of the competition, each done, due or overdue at `now`, as its buyer and its invited suppliers see
    it (the same steps for both: each is public once it has happened, or is a published deadline). A cancelled
    competition has no timeline."""
    if competition.state == CompetitionState.CANCELLED:
        return ()
    return tuple(competition_timeline(
        published_at=competition.published_at, clarification_deadline=competition.clarification_deadline,
        tender_deadline=competition.tender_deadline, evaluation_started_at=competition.evaluation_started_at,
        award_decided_at=competition.award_decided_at, standstill_started_at=competition.standstill_started_at,
        standstill_ends_at=competition.standstill_ends_at,
        standstill_paused=competition.standstill_paused_at is not None, awarded_at=competition.awarded_at,
        notice_name=contract_notice_name(regime),
        notice_due_by=notice.publish_by if notice is not None else None,
        notice_published_at=notice.contract_notice_published_at if notice is not None else None, now=now))


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
    notices: NoticePlan | None = None  # with `now` given
    tie_break: str = ""  # C7: the published rule that breaks a tie on the total score
    timeline: tuple[TimelineStep, ...] = ()  # with `now` given


async def buyer_view(session: AsyncSession, user: SignedInUser, competition: Competition,
                     now: datetime | None = None) -> BuyerView:
    sealed = bids_sealed(competition)
    invitations = (await session.scalars(sa.select(CompetitionInvitation).where(
        col(CompetitionInvitation.competition_id) == competition.id)
        .order_by(col(CompetitionInvitation.organisation_name)))).all()
    seats = (await session.execute(
        sa.select(col(User.full_name), CompetitionEvaluator).join(User, col(User.id) == CompetitionEvaluator.user_id)
        .where(col(CompetitionEvaluator.competition_id) == competition.id).order_by(col(User.full_name)))).all()
    clarifications = (await session.scalars(sa.select(Clarification).where(
        col(Clarification.competition_id) == competition.id).order_by(col(Clarification.asked_at),
                                                                      col(Clarification.id)))).all()
    received = None if sealed else await session.scalar(sa.select(sa.func.count()).select_from(Bid).where(
        col(Bid.competition_id) == competition.id, col(Bid.state) == BidState.SUBMITTED))
    contract = await contract_of_competition(session, competition.id or 0)
    milestones = () if contract is None else tuple(await milestones_of(session, contract.id or 0))
    notice = await session.scalar(sa.select(AwardNotice).where(col(AwardNotice.competition_id) == competition.id))
    the_summary = await summary(session, competition)
    return BuyerView(
        summary=the_summary, criteria=criteria_of(competition),
        invited_count=len(invitations), invited=() if sealed else tuple(invitations),
        evaluators=tuple((name, seat) for name, seat in seats), clarifications=tuple(clarifications),
        unanswered=sum(1 for c in clarifications if c.answered_at is None), bids_received=received,
        contract=contract, milestones=milestones, notice=notice,
        is_buyer=competition.buyer_organisation_id in buyer_organisation_ids(user),
        is_evaluator=any(seat.user_id == user.id for _, seat in seats),
        notices=None if now is None else notice_plan(competition, the_summary.regime, notice, now),
        tie_break=TIE_BREAK_WORDING[tie_break_of(competition.tie_break)],
        timeline=() if now is None else timeline(competition, the_summary.regime, notice, now))


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
        sa.select(Competition, CompetitionInvitation, col(Category.name), col(Organisation.name))
        .join(CompetitionInvitation, col(CompetitionInvitation.competition_id) == Competition.id)
        .join(Category, col(Category.id) == Competition.category_id)
        .join(Organisation, col(Organisation.id) == Competition.buyer_organisation_id)
        .where(col(CompetitionInvitation.organisation_id).in_(supplier_ids))
        .order_by(col(CompetitionInvitation.invited_at).desc(), col(Competition.id).desc()))).all()
    # A bid is found by its bidder's keyed hash, not its organisation (sealed until the deadline: sealing.py).
    states = await bid_states_of(session, [(c.id or 0, i.organisation_id) for c, i, _, _ in rows])
    return [SupplierInvitation(c, i, category, buyer, states.get((c.id or 0, i.organisation_id)))
            for c, i, category, buyer in rows]


@dataclass(frozen=True)
class SupplierView:
    summary: CompetitionSummary
    invitation: CompetitionInvitation
    criteria: tuple[Criterion, ...]
    published_clarifications: tuple[Clarification, ...]
    own_questions: tuple[Clarification, ...]
    bid: OwnBid | None  # unsealed for its bidder only
    letter: OutcomeLetter | None
    contract: Contract | None
    open_for_bids: bool
    open_for_questions: bool
    tie_break: str = ""  # C7: the published rule that breaks a tie on the total score
    timeline: tuple[TimelineStep, ...] = ()


async def supplier_view(session: AsyncSession, user: SignedInUser, competition_id: int,
                        now: datetime) -> SupplierView:
    competition, invitation = await competition_for_supplier(session, user, competition_id, now)
    clarifications = (await session.scalars(sa.select(Clarification).where(
        col(Clarification.competition_id) == competition.id).order_by(col(Clarification.answered_at),
                                                                      col(Clarification.id)))).all()
    letter = await session.scalar(sa.select(OutcomeLetter).where(
        col(OutcomeLetter.competition_id) == competition.id,
        col(OutcomeLetter.organisation_id) == invitation.organisation_id,
        col(OutcomeLetter.sent_at).is_not(None)))
    contract = await contract_of_competition(session, competition.id or 0,
                                             supplier_organisation_id=invitation.organisation_id)
    published = competition.state == CompetitionState.PUBLISHED
    the_summary = await summary(session, competition)
    notice = await session.scalar(sa.select(AwardNotice).where(col(AwardNotice.competition_id) == competition.id))
    return SupplierView(
        summary=the_summary, invitation=invitation, criteria=criteria_of(competition),
        published_clarifications=tuple(c for c in clarifications if c.answered_at is not None),
        own_questions=tuple(c for c in clarifications if c.answered_at is None
                            and c.asked_by_organisation_id == invitation.organisation_id),
        bid=await own_bid(session, competition.id or 0, invitation.organisation_id), letter=letter,
        contract=contract, open_for_bids=published and bids_open(competition.tender_deadline, now),
        open_for_questions=published and now < competition.clarification_deadline,
        tie_break=TIE_BREAK_WORDING[tie_break_of(competition.tie_break)],
        timeline=timeline(competition, the_summary.regime, notice, now))
