"""May this supplier take part in a competition of this category today? (RULES.md A8, C1, C7)

Asked at every step a supplier's bid passes through: submitting, revising or re-submitting, evaluation, award and
confirmation. The answer combines the supplier's membership of the category with the debarment list, so a
suspension, removal or debarment reaches competitions already running.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import date
from typing import cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dps.admission.models import Admission
from dps.exclusion.models import DebarmentEntry
from dps.exclusion.rules import DebarmentPeriod, Standing, is_in_force, standing


async def standings_in_category(session: AsyncSession, category_id: int, organisation_ids: Sequence[int],
                                today: date) -> dict[int, Standing]:
    """Each organisation's standing in the category today: its admission's state and its debarment entries not
    removed, in one query whatever the number of bidders (asked at every step of a bid, and of an award)."""
    if not organisation_ids:
        return {}
    states: dict[int, str] = {}
    debarred: set[int] = set()
    rows = cast(Sequence[tuple[int, str | None, date | None, date | None]],
                (await session.execute(_standings_query(), {"category_id": category_id,
                                                            "organisation_ids": list(organisation_ids)})).all())
    for organisation_id, state, listed_from, listed_until in rows:
        if state is not None:  # an admission's row
            states[organisation_id] = state
        elif listed_from is not None and is_in_force(DebarmentPeriod(listed_from, listed_until, removed=False), today):
            debarred.add(organisation_id)
    return {organisation_id: standing(states.get(organisation_id), organisation_id in debarred)
            for organisation_id in organisation_ids}


@functools.cache
def _standings_query() -> sa.CompoundSelect:
    """Built once: a bid's every step asks, and building the statement cost more than running it."""
    ids: sa.BindParameter[list[int]] = sa.bindparam("organisation_ids", expanding=True)
    no_date = sa.cast(sa.null(), sa.Date)
    admissions = sa.select(col(Admission.organisation_id), col(Admission.state), no_date, no_date).where(
        col(Admission.category_id) == sa.bindparam("category_id"), col(Admission.organisation_id).in_(ids))
    debarments = sa.select(col(DebarmentEntry.organisation_id), sa.cast(sa.null(), sa.String),
                           col(DebarmentEntry.listed_from), col(DebarmentEntry.listed_until)).where(
        col(DebarmentEntry.organisation_id).in_(ids), col(DebarmentEntry.removed_at).is_(None))
    return sa.union_all(admissions, debarments)


async def supplier_standing(session: AsyncSession, organisation_id: int, category_id: int, today: date) -> Standing:
    return (await standings_in_category(session, category_id, [organisation_id], today))[organisation_id]
