"""The debarment list: the authority adds and removes entries; admission, bids, awards and confirmations ask it.

Adding an entry that is in force publishes `OrganisationDebarred` in the same transaction, so the supplier's
memberships end, its listings leave search and the buyers of its live competitions are told before the commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dps.audit.services import Actor, record
from dps.calendar import london_date
from dps.errors import Conflict, NotFound, ValidationFailed
from dps.events import domain_events
from dps.exclusion.events import OrganisationDebarred
from dps.exclusion.models import DebarmentEntry
from dps.exclusion.rules import (
    DEBARMENT_SOURCES,
    DebarmentPeriod,
    MandatoryGround,
    check_period,
    is_debarred,
    is_in_force,
)
from dps.identity.models import Organisation, OrganisationKind

MAX_DETAILS_LENGTH = 2000


def period_of(entry: DebarmentEntry) -> DebarmentPeriod:
    return DebarmentPeriod(entry.listed_from, entry.listed_until, removed=entry.removed_at is not None)


def _snapshot(entry: DebarmentEntry) -> dict[str, object]:
    return {"organisation_id": entry.organisation_id, "grounds": list(entry.grounds), "source": entry.source,
            "listed_from": entry.listed_from.isoformat(),
            "listed_until": entry.listed_until.isoformat() if entry.listed_until else None,
            "removed": entry.removed_at is not None}


async def is_organisation_debarred(session: AsyncSession, organisation_id: int, today: date) -> bool:
    entries = (await session.scalars(sa.select(DebarmentEntry).where(
        col(DebarmentEntry.organisation_id) == organisation_id, col(DebarmentEntry.removed_at).is_(None)))).all()
    return is_debarred((period_of(entry) for entry in entries), today)


async def add_debarment(session: AsyncSession, *, organisation_id: int, grounds: Sequence[str], source: str,
                        listed_from: date, listed_until: date | None, details: str, actor: Actor,
                        now: datetime) -> DebarmentEntry:
    """Put a supplier on the debarment list. Commits."""
    entry = await record_debarment(session, organisation_id=organisation_id, grounds=grounds, source=source,
                                   listed_from=listed_from, listed_until=listed_until, details=details, actor=actor,
                                   now=now)
    await session.commit()
    return entry


async def record_debarment(session: AsyncSession, *, organisation_id: int, grounds: Sequence[str], source: str,
                           listed_from: date, listed_until: date | None, details: str, actor: Actor,
                           now: datetime) -> DebarmentEntry:
    """As `add_debarment`, inside the caller's transaction (a declaration that admits a mandatory ground)."""
    organisation = await session.get(Organisation, organisation_id)
    if organisation is None or organisation.kind != OrganisationKind.SUPPLIER:
        raise NotFound("There is no such supplier")
    chosen = [ground for ground in MandatoryGround if ground.value in set(grounds)]
    if not chosen:
        raise ValidationFailed("Select at least one ground for the debarment", field="grounds")
    if source not in DEBARMENT_SOURCES:
        raise ValidationFailed("Select where the debarment comes from", field="source")
    problem = check_period(listed_from, listed_until)
    if problem:
        raise ValidationFailed(problem, field="listed_until")
    if len(details) > MAX_DETAILS_LENGTH:
        raise ValidationFailed(f"Details must be {MAX_DETAILS_LENGTH} characters or fewer", field="details")
    entry = DebarmentEntry(organisation_id=organisation_id, grounds=[ground.value for ground in chosen],
                           source=source, listed_from=listed_from, listed_until=listed_until,
                           details=details.strip(), added_at=now, added_by_user_id=actor.user_id)
    session.add(entry)
    await session.flush()
    await record(session, actor=actor, action="debarment.added", entity_type="debarment_entry",
                 entity_id=entry.id or 0, now=now, after=_snapshot(entry))
    if is_in_force(period_of(entry), london_date(now)):
        await domain_events.publish(session, OrganisationDebarred(organisation_id, organisation.name, entry.id or 0,
                                                                  actor, now))
    return entry


async def remove_debarment(session: AsyncSession, entry_id: int, *, reason: str, actor: Actor,
                           now: datetime) -> DebarmentEntry:
    """Take an entry off the list (it was wrong, or has been overturned). The supplier's memberships are not
    restored: it applies again like any supplier. Commits."""
    entry = await session.scalar(sa.select(DebarmentEntry).where(col(DebarmentEntry.id) == entry_id).with_for_update())
    if entry is None:
        raise NotFound("There is no such debarment entry")
    if entry.removed_at is not None:
        raise Conflict("This entry has already been removed from the list")
    if not reason.strip():
        raise ValidationFailed("Give the reason for removing the entry", field="reason")
    before = _snapshot(entry)
    entry.removed_at, entry.removed_by_user_id, entry.removal_reason = now, actor.user_id, reason.strip()
    await record(session, actor=actor, action="debarment.removed", entity_type="debarment_entry",
                 entity_id=entry.id or 0, now=now, before=before, after={**_snapshot(entry), "reason": reason.strip()})
    await session.commit()
    return entry


@dataclass(frozen=True)
class DebarmentRow:
    entry: DebarmentEntry
    organisation_name: str
    in_force: bool


async def debarment_list(session: AsyncSession, today: date) -> list[DebarmentRow]:
    rows = (await session.execute(sa.select(DebarmentEntry, col(Organisation.name))
                                  .join(Organisation, col(Organisation.id) == DebarmentEntry.organisation_id)
                                  .order_by(col(DebarmentEntry.removed_at).is_not(None), col(Organisation.name),
                                            col(DebarmentEntry.id)))).all()
    return [DebarmentRow(entry, name, is_in_force(period_of(entry), today)) for entry, name in rows]


async def supplier_organisations(session: AsyncSession) -> list[Organisation]:
    return list((await session.scalars(sa.select(Organisation).where(
        col(Organisation.kind) == OrganisationKind.SUPPLIER).order_by(col(Organisation.name)))).all())
