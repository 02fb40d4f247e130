"""Documents attached to a bid (PDFs, checked by their content), sealed like the rest of the bid (C5).

A bidder adds and removes documents while bids are open. The file is sealed under the competition's data key in its
own row (BidAttachment); what it is called, its size and hash join the bid's sealed content, so the bid's version is
its answers, price and documents together. A change to a submitted bid is a revision of it, as a changed answer is:
the bid is submitted again, with a new version number and a receipt. Each step is audited as a sealed step.

Until the bids are opened only the bidder itself can download its documents; another supplier, the buyer, an
evaluator or the authority get 404. From the evaluation the buyer and the evaluators who read the bids (an evaluator
who declared no conflict of interest) can download a submitted bid's documents, as they read its answers.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dps.competitions.models import Bid, BidAttachment, Competition, CompetitionEvaluator
from dps.competitions.rules import (
    BidEvent,
    BidState,
    CompetitionState,
    bid_attachment_problems,
    next_bid_state,
)
from dps.competitions.services.bidding import (
    new_draft_bid,
    require_may_bid,
    require_open_for_bids,
    send_receipt,
)
from dps.competitions.services.evaluating import NO_CONFLICT
from dps.competitions.services.loading import (
    bids_sealed,
    buyer_organisation_ids,
    competition_for_supplier,
    competition_for_team,
)
from dps.competitions.services.sealing import (
    AttachmentInfo,
    BidContent,
    attachment_context,
    attachments_of,
    audit_sealed_step,
    bid_of_bidder,
    data_key,
    opened_attachments,
    seal_content,
)
from dps.crypto import DataKey
from dps.documents import safe_filename
from dps.errors import NotFound
from dps.forms import FormErrors
from dps.identity.services import SignedInUser

NO_SUCH_DOCUMENT = "There is no such document"


async def _changed(session: AsyncSession, competition: Competition, organisation_id: int, bid: Bid,
                   content: BidContent, key: DataKey, user: SignedInUser, now: datetime, action: str,
                   detail: dict[str, Any]) -> None:
    """Record a change of the bid's documents: a submitted bid is submitted again as its next version (with a
    receipt), a withdrawn one becomes a draft again (as a saved draft does); then the sealed step, and commit."""
    resubmitted = bid.state == BidState.SUBMITTED
    if resubmitted:
        bid.state = next_bid_state(bid.state, BidEvent.REVISE)
        bid.revision += 1
        bid.submitted_at = now
        content = replace(content, submitted_by_user_id=user.id)
    elif bid.state == BidState.WITHDRAWN:
        bid.state = next_bid_state(bid.state, BidEvent.REOPEN)
    bid.updated_at = now
    content = await audit_sealed_step(session, bid, content, action, user, now,
                                      detail={**detail, "resubmitted": resubmitted})
    seal_content(bid, key, content)
    await session.flush()
    if resubmitted:
        await send_receipt(session, competition, organisation_id, bid, now)
    await session.commit()


async def add_attachment(session: AsyncSession, user: SignedInUser, competition_id: int, *, name: str,
                         filename: str, content: bytes, now: datetime) -> FormErrors:
    """Attach a PDF to the organisation's bid (made as a draft if it has none); returns the problems, empty when
    attached. Refused once bids are closed, and for a submitted bid while the organisation may not bid."""
    competition, invitation = await competition_for_supplier(session, user, competition_id, now, for_update=True)
    require_open_for_bids(competition, now)
    organisation_id = invitation.organisation_id
    found = await bid_of_bidder(session, competition.id or 0, organisation_id)
    problems = bid_attachment_problems(name, filename, content, attached=len(found[1].attachments) if found else 0)
    if problems:
        await session.commit()
        return problems
    if found is not None and found[0].state == BidState.SUBMITTED:
        await require_may_bid(session, competition, organisation_id, now)
    bid, bid_content, key = found or await new_draft_bid(session, competition, organisation_id, user, now)
    row = BidAttachment(bid_id=bid.id or 0, sealed_file=b"")
    session.add(row)
    await session.flush()
    row.sealed_file = key.seal_bytes(content, context=attachment_context(bid, row.id or 0))
    info = AttachmentInfo(id=row.id or 0, name=name.strip(), filename=safe_filename(filename),
                          size_bytes=len(content), sha256=hashlib.sha256(content).hexdigest())
    bid_content = replace(bid_content, attachments=(*bid_content.attachments, info.to_json()))
    await _changed(session, competition, organisation_id, bid, bid_content, key, user, now, "attachment_added",
                   {"attachment": info.to_json()})
    return FormErrors()


async def remove_attachment(session: AsyncSession, user: SignedInUser, competition_id: int, attachment_id: int,
                            now: datetime) -> None:
    """Take a document off the organisation's bid while bids are open; NotFound unless it is on its own bid."""
    competition, invitation = await competition_for_supplier(session, user, competition_id, now, for_update=True)
    require_open_for_bids(competition, now)
    organisation_id = invitation.organisation_id
    found = await bid_of_bidder(session, competition.id or 0, organisation_id)
    entry = None if found is None else next((a for a in found[1].attachments if a["id"] == attachment_id), None)
    if found is None or entry is None:
        raise NotFound(NO_SUCH_DOCUMENT)
    bid, bid_content, key = found
    if bid.state == BidState.SUBMITTED:
        await require_may_bid(session, competition, organisation_id, now)
    await session.execute(sa.delete(BidAttachment).where(col(BidAttachment.id) == attachment_id,
                                                         col(BidAttachment.bid_id) == bid.id))
    bid_content = replace(bid_content, attachments=tuple(a for a in bid_content.attachments
                                                         if a["id"] != attachment_id))
    await _changed(session, competition, organisation_id, bid, bid_content, key, user, now, "attachment_removed",
                   {"attachment": entry})


async def _file(session: AsyncSession, bid: Bid, key: DataKey, info: AttachmentInfo) -> bytes:
    sealed = await session.scalar(sa.select(col(BidAttachment.sealed_file)).where(col(BidAttachment.id) == info.id,
                                                                             col(BidAttachment.bid_id) == bid.id))
    if sealed is None:
        raise NotFound(NO_SUCH_DOCUMENT)
    return key.open_bytes(sealed, context=attachment_context(bid, info.id))


async def own_attachment(session: AsyncSession, user: SignedInUser, competition_id: int, attachment_id: int,
                         now: datetime) -> tuple[AttachmentInfo, bytes]:
    """A document of the organisation's own bid, opened for it: before and after the deadline. NotFound for a
    document of any other bid."""
    competition, invitation = await competition_for_supplier(session, user, competition_id, now)
    found = await bid_of_bidder(session, competition.id or 0, invitation.organisation_id)
    if found is None:
        raise NotFound(NO_SUCH_DOCUMENT)
    bid, content, key = found
    info = next((a for a in await attachments_of(session, bid, content) if a.id == attachment_id), None)
    if info is None:
        raise NotFound(NO_SUCH_DOCUMENT)
    data = await _file(session, bid, key, info)
    await session.commit()
    return info, data


async def reads_bids(session: AsyncSession, user: SignedInUser, competition: Competition) -> bool:
    """Whether the user reads the competition's bids now: from the evaluation (not while sealed, nor closed and not
    yet evaluated), a buyer of the organisation running it, or an evaluator who declared no conflict of interest."""
    if bids_sealed(competition) or competition.state in (CompetitionState.DRAFT, CompetitionState.PUBLISHED,
                                                         CompetitionState.CLOSED):
        return False
    if competition.buyer_organisation_id in buyer_organisation_ids(user):
        return True
    declaration = await session.scalar(sa.select(col(CompetitionEvaluator.declaration)).where(
        col(CompetitionEvaluator.competition_id) == competition.id, col(CompetitionEvaluator.user_id) == user.id))
    return declaration == NO_CONFLICT


async def team_attachment(session: AsyncSession, user: SignedInUser, competition_id: int, bid_id: int,
                          attachment_id: int, now: datetime) -> tuple[AttachmentInfo, bytes]:
    """A document of a submitted bid, for whoever reads the bids in the evaluation (`reads_bids`); NotFound for
    anyone else, and for everyone while the bids are sealed."""
    competition = await competition_for_team(session, user, competition_id, now)
    if not await reads_bids(session, user, competition):
        raise NotFound(NO_SUCH_DOCUMENT)
    bid = await session.scalar(sa.select(Bid).where(
        col(Bid.id) == bid_id, col(Bid.competition_id) == competition.id, col(Bid.state) == BidState.SUBMITTED,
        col(Bid.excluded_at).is_(None), col(Bid.sealed_content).is_(None)))
    key = await data_key(session, competition.id or 0)
    if bid is None or key is None:
        raise NotFound(NO_SUCH_DOCUMENT)
    opened = (await opened_attachments(session, [bid.id or 0])).get(bid.id or 0, ())
    info = next((a for a in opened if a.id == attachment_id), None)
    if info is None:
        raise NotFound(NO_SUCH_DOCUMENT)
    data = await _file(session, bid, key, info)
    await session.commit()
    return info, data
