"""Loading competitions: access, locking, closing at the tender deadline, and the helpers every stage shares.

Loading checks access: a competition a user may not see is NotFound, never a hint that it exists. Loading also
closes a competition whose tender deadline has passed (`close_if_due`), so no manual step and no worker is
needed for a competition to close.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dps.admission.services import email_organisation
from dps.audit.services import Actor, record
from dps.competitions.models import Bid, Competition, CompetitionEvaluator, CompetitionInvitation
from dps.competitions.rules import (
    CLOSING_GRACE,
    SEALED_STATES,
    BidState,
    CompetitionEvent,
    CompetitionState,
    Criterion,
    criteria_from_json,
    is_due_to_close,
    next_competition_state,
)
from dps.competitions.services.excluding import exclude_ineligible_bids
from dps.competitions.services.sealing import open_bids
from dps.dates import format_london
from dps.errors import Conflict, NotFound
from dps.identity.models import Membership, OrganisationKind, Role, User
from dps.identity.services import SignedInUser
from dps.mail import page_link, queue_email

CLOCK = Actor.system("clock")



def competition_snapshot(competition: Competition) -> dict[str, Any]:
    return {"state": competition.state, "tender_deadline": competition.tender_deadline,
            "standstill_ends_at": competition.standstill_ends_at,
            "paused": competition.standstill_paused_at is not None}


def criteria_of(competition: Competition) -> tuple[Criterion, ...]:
    return criteria_from_json(competition.criteria)


async def audit_competition(session: AsyncSession, actor: Actor, action: str, competition: Competition,
                            now: datetime, before: dict[str, Any] | None = None,
                            after: dict[str, Any] | None = None) -> None:
    await record(session, actor=actor, action=f"competition.{action}", entity_type="competition",
                 entity_id=competition.id or 0, now=now, before=before, after=after)


# --- loading, access, and closing at the deadline -------------------------------------------------------


async def _lock(session: AsyncSession, competition_id: int) -> Competition | None:
    return await session.scalar(sa.select(Competition).where(col(Competition.id) == competition_id)
                                .with_for_update().execution_options(populate_existing=True))


async def close_if_due(session: AsyncSession, competition: Competition, now: datetime) -> Competition:
    """C5: once the tender deadline has passed the competition closes by itself, and its bids are opened, in one
    transaction of its own."""
    if not is_due_to_close(competition.state, competition.tender_deadline, now):
        return competition
    locked = await _lock(session, competition.id or 0)
    if locked is None or not is_due_to_close(locked.state, locked.tender_deadline, now):
        await session.commit()
        return locked or competition
    before = competition_snapshot(locked)
    locked.state = next_competition_state(locked.state, CompetitionEvent.CLOSE)
    locked.closed_at = locked.tender_deadline
    locked.updated_at = now
    received = await session.scalar(sa.select(sa.func.count()).select_from(Bid).where(
        col(Bid.competition_id) == locked.id, col(Bid.state) == BidState.SUBMITTED))
    await audit_competition(session, CLOCK, "closed", locked, now, before,
                            {**competition_snapshot(locked), "closed_at": locked.closed_at,
                             "bids_received": received})
    await open_bids(session, locked, now, actor=CLOCK)  # C5: the one step that opens the bids
    # A8/C1: a bidder suspended, removed or debarred at the opening of bids is excluded there, with its reason.
    await exclude_ineligible_bids(session, locked, now, actor=CLOCK, stage="bids_opened")
    await email_buyers(session, locked, now, "closed", f"Bids are open for evaluation: {locked.title}",
                       f"The tender deadline of {locked.title} passed at {format_london(locked.tender_deadline)}. "
                       f"{received} bid(s) were received. Sign in to the buyer portal to start the evaluation.")
    await session.commit()
    return locked


async def close_due_competitions(sessionmaker: Any, now: datetime) -> int:
    """The periodic job: close every open competition whose deadline has passed. Idempotent."""
    async with sessionmaker() as session:
        due = (await session.scalars(sa.select(col(Competition.id)).where(
            col(Competition.state) == CompetitionState.PUBLISHED,
            col(Competition.tender_deadline) <= now - CLOSING_GRACE))).all()
        await session.commit()
    closed = 0
    for competition_id in due:
        async with sessionmaker() as session:
            competition = await session.get(Competition, competition_id)
            if competition is not None and (await close_if_due(session, competition, now)).state == \
                    CompetitionState.CLOSED:
                closed += 1
    return closed


async def _load(session: AsyncSession, query: Any, now: datetime, for_update: bool) -> Competition | None:
    competition = await session.scalar(query.with_for_update() if for_update else query)
    if competition is not None and is_due_to_close(competition.state, competition.tender_deadline, now):
        await close_if_due(session, competition, now)
        competition = await session.scalar((query.with_for_update() if for_update else query)
                                           .execution_options(populate_existing=True))
    return competition


def buyer_organisation_ids(user: SignedInUser) -> frozenset[int]:
    return frozenset(m.organisation_id for m in user.memberships
                     if m.organisation_kind is OrganisationKind.BUYER and m.role is Role.BUYER)


async def competition_for_buyer(session: AsyncSession, user: SignedInUser, competition_id: int, now: datetime,
                                *, for_update: bool = False) -> Competition:
    """The competition if the user is a buyer of the organisation running it; NotFound otherwise."""
    query = sa.select(Competition).where(col(Competition.id) == competition_id,
                                         col(Competition.buyer_organisation_id).in_(buyer_organisation_ids(user)))
    competition = await _load(session, query, now, for_update)
    if competition is None:
        raise NotFound("There is no such competition")
    return competition


async def competition_for_team(session: AsyncSession, user: SignedInUser, competition_id: int,
                               now: datetime) -> Competition:
    """For reading: a buyer of the running organisation, or an evaluator chosen for this competition."""
    evaluates = sa.select(col(CompetitionEvaluator.competition_id)).where(col(CompetitionEvaluator.user_id) == user.id)
    query = sa.select(Competition).where(
        col(Competition.id) == competition_id,
        sa.or_(col(Competition.buyer_organisation_id).in_(buyer_organisation_ids(user)),
               col(Competition.id).in_(evaluates)))
    competition = await _load(session, query, now, False)
    if competition is None:
        raise NotFound("There is no such competition")
    return competition


async def evaluator_seat(session: AsyncSession, user: SignedInUser, competition_id: int, now: datetime,
                         *, for_update: bool = False) -> tuple[Competition, CompetitionEvaluator]:
    """The competition and the user's seat on its evaluation panel; NotFound unless they were chosen for it."""
    if not user.has_role_in(OrganisationKind.BUYER, Role.EVALUATOR):
        raise NotFound("There is no such competition")
    query = sa.select(Competition).join(CompetitionEvaluator,
                                        col(CompetitionEvaluator.competition_id) == Competition.id) \
        .where(col(Competition.id) == competition_id, col(CompetitionEvaluator.user_id) == user.id)
    competition = await _load(session, query, now, for_update)
    seat = await session.scalar(sa.select(CompetitionEvaluator).where(
        col(CompetitionEvaluator.competition_id) == competition_id, col(CompetitionEvaluator.user_id) == user.id))
    if competition is None or seat is None:
        raise NotFound("There is no such competition")
    return competition, seat


async def competition_for_supplier(session: AsyncSession, user: SignedInUser, competition_id: int, now: datetime,
                                   *, for_update: bool = False) -> tuple[Competition, CompetitionInvitation]:
    """The competition if one of the user's supplier organisations was invited to it; NotFound otherwise."""
    supplier_ids = user.organisation_ids_of_kind(OrganisationKind.SUPPLIER)
    invitation = await session.scalar(sa.select(CompetitionInvitation).where(
        col(CompetitionInvitation.competition_id) == competition_id,
        col(CompetitionInvitation.organisation_id).in_(supplier_ids)).order_by(col(CompetitionInvitation.organisation_id)))
    if invitation is None:
        raise NotFound("There is no such competition")
    competition = await _load(session, sa.select(Competition).where(col(Competition.id) == competition_id), now,
                              for_update)
    if competition is None:
        raise NotFound("There is no such competition")
    return competition, invitation


def bids_sealed(competition: Competition) -> bool:
    """C5: sealed while a draft or open, and for ever if cancelled before its deadline (never opened)."""
    if competition.state == CompetitionState.CANCELLED:
        return competition.closed_at is None
    return CompetitionState(competition.state) in SEALED_STATES


def require_state(competition: Competition, *states: CompetitionState, doing: str) -> None:
    if CompetitionState(competition.state) not in states:
        raise Conflict(f"This competition is {competition.state.replace('_', ' ')}: {doing} is not possible now")


# --- telling people -------------------------------------------------------------------------------------


async def invited_organisation_ids(session: AsyncSession, competition_id: int) -> list[int]:
    return list((await session.scalars(sa.select(col(CompetitionInvitation.organisation_id)).where(
        col(CompetitionInvitation.competition_id) == competition_id)
            .order_by(col(CompetitionInvitation.organisation_id)))).all())


async def email_invited(session: AsyncSession, competition: Competition, now: datetime, key: str, subject: str,
                        body: str) -> None:
    for organisation_id in await invited_organisation_ids(session, competition.id or 0):
        await email_organisation(session, organisation_id, now, f"competition:{competition.id}:{key}", subject,
                                 body + "\n\n" + page_link(f"/supplier/competitions/{competition.id}"))


async def email_buyers(session: AsyncSession, competition: Competition, now: datetime, key: str, subject: str,
                       body: str) -> None:
    emails = (await session.scalars(
        sa.select(col(User.email)).join(Membership, col(Membership.user_id) == User.id)
        .where(col(Membership.organisation_id) == competition.buyer_organisation_id, col(Membership.role) == Role.BUYER,
               col(User.is_active).is_(True)).distinct())).all()
    for email in emails:
        await queue_email(session, to=email, subject=subject,
                          body=body + "\n\n" + page_link(f"/buyer/competitions/{competition.id}"),
                          dedupe_key=f"competition:{competition.id}:{key}:{email}", now=now)
