"""The supplier's own sealed bid (C5): saved as a draft, submitted, revised or withdrawn until the deadline.

While a competition is a draft or open, nothing returns anything about bids to anyone but the bidder itself: no
count, no name, no price. What is stored is sealed (sealing.py): the bid's content and bidder are ciphertext, each
step is audited only as an opaque sealed event, and the bidder's receipts wait in the outbox sealed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from dps.admission.services import email_organisation
from dps.competitions.models import Bid, Competition
from dps.competitions.rules import BidEvent, BidState, CompetitionState, bid_problems, bids_open, next_bid_state
from dps.competitions.services.excluding import reasons_cannot_take_part
from dps.competitions.services.loading import competition_for_supplier, criteria_of
from dps.competitions.services.sealing import (
    BidContent,
    audit_sealed_step,
    bid_of_bidder,
    bidder_key,
    data_key,
    seal_content,
)
from dps.dates import format_london
from dps.errors import Conflict
from dps.forms import FormErrors
from dps.identity.services import SignedInUser
from dps.mail import page_link


@dataclass(frozen=True)
class OwnBid:
    """A supplier's own bid as its bidder sees it: unsealed for it alone (the row in the database stays sealed)."""

    id: int
    state: str
    revision: int
    submitted_at: datetime | None
    withdrawn_at: datetime | None
    answers: dict[str, str]
    price_pence: int | None
    vat_pence: int | None

    @classmethod
    def of(cls, bid: Bid, content: BidContent) -> OwnBid:
        return cls(id=bid.id or 0, state=bid.state, revision=bid.revision, submitted_at=bid.submitted_at,
                   withdrawn_at=bid.withdrawn_at, answers=dict(content.answers), price_pence=content.price_pence,
                   vat_pence=content.vat_pence)


async def own_bid(session: AsyncSession, competition_id: int, organisation_id: int) -> OwnBid | None:
    found = await bid_of_bidder(session, competition_id, organisation_id)
    return None if found is None else OwnBid.of(found[0], found[1])


def _require_open_for_bids(competition: Competition, now: datetime) -> None:
    """`now` is when the request was received (dps.web.received), however long it then queued."""
    if competition.state == CompetitionState.CANCELLED:
        raise Conflict("This competition has been cancelled: bids are no longer accepted")
    if competition.state != CompetitionState.PUBLISHED or not bids_open(competition.tender_deadline, now):
        seconds = "%-d %B %Y %H:%M:%S"
        raise Conflict(f"The tender deadline passed at {format_london(competition.tender_deadline, seconds)} "
                       f"(your request was received at {format_london(now, seconds)}): bids can no longer be "
                       "submitted, changed or withdrawn")


async def _require_may_bid(session: AsyncSession, competition: Competition, organisation_id: int,
                           now: datetime) -> None:
    """A8/C1: a supplier suspended, removed or debarred cannot submit, revise or re-submit a bid; a suspension
    lifted before the deadline restores the right."""
    reason = (await reasons_cannot_take_part(session, competition, [organisation_id], now)).get(organisation_id)
    if reason is not None:
        raise Conflict(f"Your organisation cannot bid: {reason}")


@dataclass
class SavedBid:
    bid: OwnBid | None
    errors: FormErrors = field(default_factory=FormErrors)
    submitted: bool = False


async def save_bid(session: AsyncSession, user: SignedInUser, competition_id: int, *, answers: dict[str, str],
                   price_pence: int | None, vat_pence: int | None, submit: bool, now: datetime,
                   form_errors: FormErrors | None = None) -> SavedBid:
    """Save a draft (kept whatever its state, only the word limits reported) or submit (all answers within their
    limits and a price; a submitted bid's revision replaces it whole, or nothing changes). The content is sealed
    (sealing.py) before it reaches the database."""
    competition, invitation = await competition_for_supplier(session, user, competition_id, now, for_update=True)
    _require_open_for_bids(competition, now)
    criteria = criteria_of(competition)
    organisation_id = invitation.organisation_id
    found = await bid_of_bidder(session, competition.id or 0, organisation_id)
    problems = FormErrors()
    problems.add_all(form_errors or FormErrors())
    problems.add_all(bid_problems(criteria, answers, price_pence, complete=submit))
    if submit:
        await _require_may_bid(session, competition, invitation.organisation_id, now)
    if submit and problems:
        await session.commit()  # nothing changed: the submitted bid, if any, stands as it was
        return SavedBid(None if found is None else OwnBid.of(found[0], found[1]), problems)
    if found is not None and found[0].state == BidState.SUBMITTED and not submit:
        raise Conflict("Your bid is submitted: submit the revised bid to replace it, or withdraw it")
    if found is None:
        key = await data_key(session, competition.id or 0, create=True)
        assert key is not None
        bid = Bid(competition_id=competition.id or 0, bidder_key=bidder_key(key, organisation_id),
                  state=BidState.DRAFT, created_at=now, updated_at=now)
        session.add(bid)
        await session.flush()
        content = BidContent(organisation_id=organisation_id, created_by_user_id=user.id)
    else:
        bid, content, key = found
    revising = bid.state == BidState.SUBMITTED
    if submit:
        event = BidEvent.REVISE if bid.state == BidState.SUBMITTED else BidEvent.SUBMIT
        bid.state = next_bid_state(bid.state, event)
        bid.revision += 1
        bid.submitted_at, bid.withdrawn_at = now, None
        content = replace(content, submitted_by_user_id=user.id)
    elif bid.state == BidState.WITHDRAWN:
        event = BidEvent.REOPEN
        bid.state = next_bid_state(bid.state, event)
    content = replace(content, answers=dict(answers), price_pence=price_pence, vat_pence=vat_pence)
    bid.updated_at = now
    action = ("revised" if revising else "submitted") if submit else "draft_saved"
    content = await audit_sealed_step(session, bid, content, action, user, now)
    seal_content(bid, key, content)
    await session.flush()
    if submit:
        await email_organisation(
            session, organisation_id, now, f"bid:{bid.id}:submitted:{bid.revision}",
            f"Bid received: {competition.title}",
            f"Your organisation's bid for {competition.title} was received at {format_london(now)} "
            f"(version {bid.revision}). You can revise or withdraw it until "
            f"{format_london(competition.tender_deadline)}.\n\n"
            f"See your bid:\n{page_link(f'/supplier/competitions/{competition.id}')}\n", sealed=True)
    await session.commit()
    return SavedBid(OwnBid.of(bid, content), FormErrors() if submit else problems, submitted=submit)


async def withdraw_bid(session: AsyncSession, user: SignedInUser, competition_id: int, now: datetime) -> OwnBid:
    competition, invitation = await competition_for_supplier(session, user, competition_id, now, for_update=True)
    _require_open_for_bids(competition, now)
    found = await bid_of_bidder(session, competition.id or 0, invitation.organisation_id)
    if found is None:
        raise Conflict("Your organisation has no bid to withdraw")
    bid, content, key = found
    bid.state = next_bid_state(bid.state, BidEvent.WITHDRAW)
    bid.withdrawn_at, bid.updated_at = now, now
    content = await audit_sealed_step(session, bid, content, "withdrawn", user, now)
    seal_content(bid, key, content)
    await email_organisation(session, invitation.organisation_id, now, f"bid:{bid.id}:withdrawn:{now.isoformat()}",
                             f"Bid withdrawn: {competition.title}",
                             f"Your organisation's bid for {competition.title} was withdrawn at {format_london(now)}. "
                             f"You can submit a bid again until {format_london(competition.tender_deadline)}.\n\n"
                             f"See the competition:\n{page_link(f'/supplier/competitions/{competition.id}')}\n",
                             sealed=True)
    await session.commit()
    return OwnBid.of(bid, content)
