"""The lawful departures from the first-ranked bid (RULES.md C7), and telling buyers of a debarment (A8).

The award goes to the first-ranked bid and only to it. It moves to the next-ranked bid only when the first-ranked
bidder is excluded (suspended, removed or debarred), withdraws, or fails a pre-contract check: that bid is then
excluded with the reason, the award decision is withdrawn and every bidder is told; the buyer then confirms the new
decision, which the ranking makes (the next-ranked bid not excluded). Otherwise the buyer can only cancel.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from dps.admission.services import email_organisation
from dps.audit.services import Actor
from dps.competitions.models import AwardNotice, Bid, Competition, CompetitionInvitation, OutcomeLetter
from dps.competitions.rules import (
    LIVE_STATES,
    BidState,
    CompetitionEvent,
    CompetitionState,
    Departure,
    departure_reason,
    next_competition_state,
)
from dps.competitions.services.excluding import exclude_bid
from dps.competitions.services.loading import (
    audit_competition,
    bids_sealed,
    competition_for_buyer,
    competition_snapshot,
    email_buyers,
    require_state,
)
from dps.errors import Conflict
from dps.exclusion.events import OrganisationDebarred
from dps.identity.services import SignedInUser, actor_of
from dps.mail import page_link


async def withdraw_award(session: AsyncSession, competition: Competition, *, reason: str, actor: Actor,
                         now: datetime) -> None:
    """The chosen bid cannot be awarded (it is already excluded, with `reason`): the decision, its letters and the
    unpublished notice data are withdrawn; the competition is back in evaluation for the next decision, and every
    bidder is told. Does not commit."""
    before = {**competition_snapshot(competition), "winning_bid_id": competition.winning_bid_id}
    competition.state = next_competition_state(competition.state, CompetitionEvent.WITHDRAW_AWARD)
    withdrawn_bid_id = competition.winning_bid_id
    competition.winning_bid_id = competition.award_reasons = competition.override_reason = None
    competition.award_decided_at = competition.award_decided_by_user_id = None
    competition.standstill_started_at = competition.standstill_ends_at = None
    competition.standstill_paused_at = competition.standstill_pause_reason = None
    competition.updated_at = now
    await session.execute(sa.delete(OutcomeLetter).where(OutcomeLetter.competition_id == competition.id))
    await session.execute(sa.delete(AwardNotice).where(AwardNotice.competition_id == competition.id,
                                                       AwardNotice.published_at.is_(None)))
    await audit_competition(session, actor, "award_withdrawn", competition, now, before,
                            {**competition_snapshot(competition), "withdrawn_bid_id": withdrawn_bid_id,
                             "reason": reason})
    bidders = (await session.scalars(sa.select(Bid.organisation_id).where(
        Bid.competition_id == competition.id, Bid.state == BidState.SUBMITTED).order_by(Bid.id))).all()
    for organisation_id in bidders:
        await email_organisation(
            session, organisation_id, now, f"competition:{competition.id}:award_withdrawn:{withdrawn_bid_id}",
            f"Award decision withdrawn: {competition.title}",
            f"The award decision for {competition.title} has been withdrawn: the bid selected for award cannot be "
            f"awarded the contract. {reason}.\n\nThe award moves to the next-ranked bid on the published criteria. "
            "You will be told the new decision, with your scores and the successful bid's.\n\n"
            + page_link(f"/supplier/competitions/{competition.id}"))


async def record_departure(session: AsyncSession, user: SignedInUser, competition_id: int, *, departure: str,
                           reason: str, now: datetime) -> Competition:
    """C7: the buyer records that the bidder selected for award withdrew or failed a pre-contract check, with the
    reason. Its bid is excluded and the award moves to the next-ranked bid (the buyer confirms the new decision)."""
    competition = await competition_for_buyer(session, user, competition_id, now, for_update=True)
    require_state(competition, CompetitionState.AWARD_DECIDED, CompetitionState.STANDSTILL,
                  doing="recording that the selected bidder cannot be awarded")
    if departure == Departure.EXCLUDED:
        raise Conflict("An excluded bidder is taken out of the competition by the service itself")
    why = departure_reason(departure, reason)
    bid = await session.get(Bid, competition.winning_bid_id) if competition.winning_bid_id else None
    if bid is None:
        raise Conflict("No award has been decided")
    actor = actor_of(user)
    await exclude_bid(session, competition, bid, why, now, actor=actor, stage=f"departure:{Departure(departure)}")
    await withdraw_award(session, competition, reason=why, actor=actor, now=now)
    await session.commit()
    return competition


async def tell_buyers_of_debarment(session: AsyncSession, event: OrganisationDebarred) -> None:
    """A8: the buyers of every live competition the supplier was invited to are told it has been debarred. While
    bids are sealed they are not told who it is nor whether it bid (C5). Reacts to `OrganisationDebarred`; does
    not commit. Its bid, if any, is excluded at the next step the competition takes."""
    competitions = (await session.scalars(sa.select(Competition).join(
        CompetitionInvitation, CompetitionInvitation.competition_id == Competition.id).where(
        CompetitionInvitation.organisation_id == event.organisation_id,
        Competition.state.in_([str(state) for state in LIVE_STATES])).order_by(Competition.id))).all()
    for competition in competitions:
        if bids_sealed(competition):
            body = (f"A supplier invited to your competition {competition.title} has been put on the debarment list. "
                    "It can no longer bid: any bid it made will be excluded when bids are opened.")
        else:
            body = (f"{event.organisation_name}, a supplier invited to your competition {competition.title}, has been "
                    "put on the debarment list. It can no longer be evaluated or awarded the contract: any bid it "
                    "made is excluded at the next step of the competition, and if it had been selected for award, "
                    "the award moves to the next-ranked bid.")
        await email_buyers(session, competition, event.now, f"debarment:{event.entry_id}",
                           f"A supplier invited to {competition.title} has been debarred", body)
