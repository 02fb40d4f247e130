"""Exclusion reaches competitions in flight (RULES.md A8, C1, C7).

A supplier whose admission to the competition's category is suspended or removed, or who is on the debarment list,
cannot bid, be evaluated, be awarded or have an award confirmed. Its standing is asked at every step a bid passes
through (dps.admission.standing): submission, the close, the start of evaluation, the award decision and the
confirmation. A bid whose supplier cannot take part is excluded there: the bid keeps when and why, the supplier is
told, the audit trail records it, all in the caller's transaction. A suspension lifted before the step restores the
right; a removal or debarment does not.

This module does not commit and imports nothing of the other stages, so each of them may call it.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from dps.admission.services import email_organisation
from dps.admission.standing import standings_in_category
from dps.agreements.models import Category
from dps.audit.services import Actor, record
from dps.calendar import london_date
from dps.competitions.models import Bid, Competition
from dps.competitions.rules import BidState, exclusion_reason
from dps.identity.models import Organisation
from dps.mail import page_link


async def category_name(session: AsyncSession, competition: Competition) -> str:
    category = await session.get(Category, competition.category_id)  # often loaded already: no query then
    return category.name if category is not None else ""


async def reasons_cannot_take_part(session: AsyncSession, competition: Competition, organisation_ids: list[int],
                                   now: datetime) -> dict[int, str]:
    """Organisation id -> why it cannot take part in this competition today ("its admission to ... is suspended"),
    for those that cannot; the others are left out."""
    standings = await standings_in_category(session, competition.category_id, organisation_ids, london_date(now))
    name = await category_name(session, competition)
    reasons = {organisation_id: exclusion_reason(state, name) for organisation_id, state in standings.items()}
    return {organisation_id: reason for organisation_id, reason in reasons.items() if reason is not None}


async def exclude_bid(session: AsyncSession, competition: Competition, bid: Bid, reason: str, now: datetime, *,
                      actor: Actor, stage: str) -> None:
    """Take the bid out of evaluation and award with its reason, tell the supplier, audit it (no commit)."""
    if bid.excluded_at is not None:
        return
    bid.excluded_at, bid.exclusion_reason, bid.updated_at = now, reason, now
    await record(session, actor=actor, action="bid.excluded", entity_type="bid", entity_id=bid.id or 0, now=now,
                 before={"excluded_at": None},
                 after={"competition_id": competition.id, "organisation_id": bid.organisation_id, "stage": stage,
                        "reason": reason, "excluded_at": now})
    await email_organisation(
        session, bid.organisation_id, now, f"bid:{bid.id}:excluded",
        f"Bid excluded: {competition.title}",
        f"Your organisation's bid for {competition.title} has been excluded from the competition, because "
        f"{reason[:1].lower()}{reason[1:]}. It will not be scored or awarded the contract.\n\n"
        "If you believe this is wrong, contact the DPS authority.\n\n"
        + page_link(f"/supplier/competitions/{competition.id}"))


async def exclude_ineligible_bids(session: AsyncSession, competition: Competition, now: datetime, *, actor: Actor,
                                  stage: str) -> list[Bid]:
    """Exclude every submitted bid whose supplier cannot take part today; returns the bids excluded now."""
    bids = list((await session.scalars(sa.select(Bid).where(
        Bid.competition_id == competition.id, Bid.state == BidState.SUBMITTED, Bid.excluded_at.is_(None))
        .order_by(Bid.id))).all())
    reasons = await reasons_cannot_take_part(session, competition, [bid.organisation_id for bid in bids], now)
    excluded = []
    for bid in bids:
        if bid.organisation_id in reasons:
            await exclude_bid(session, competition, bid, _sentence(reasons[bid.organisation_id]), now, actor=actor,
                              stage=stage)
            excluded.append(bid)
    if excluded:
        await session.flush()
    return excluded


def _sentence(reason: str) -> str:
    return f"{reason[:1].upper()}{reason[1:]}"


async def excluded_bids(session: AsyncSession, competition: Competition) -> list[tuple[Bid, str]]:
    """The excluded bids with their bidders' names, for the buyer's ranking page (never before the deadline)."""
    rows = (await session.execute(
        sa.select(Bid, Organisation.name).join(Organisation, Organisation.id == Bid.organisation_id)
        .where(Bid.competition_id == competition.id, Bid.excluded_at.is_not(None))
        .order_by(Bid.excluded_at, Bid.id))).all()
    return [(bid, name) for bid, name in rows]
