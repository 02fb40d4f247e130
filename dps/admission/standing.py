"""May this supplier take part in a competition of this category today? (RULES.md A8, C1, C7)

Asked at every step a supplier's bid passes through: submitting, revising or re-submitting, evaluation, award and
confirmation. The answer combines the supplier's membership of the category with the debarment list, so a
suspension, removal or debarment reaches competitions already running.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dps.admission.models import Admission
from dps.exclusion.rules import Standing, standing
from dps.exclusion.services import debarred_among


async def standings_in_category(session: AsyncSession, category_id: int, organisation_ids: Sequence[int],
                                today: date) -> dict[int, Standing]:
    """Each organisation's standing in the category today (two queries, whatever the number of bidders)."""
    if not organisation_ids:
        return {}
    states = dict((await session.execute(sa.select(col(Admission.organisation_id), col(Admission.state)).where(
        col(Admission.category_id) == category_id,
        col(Admission.organisation_id).in_(list(organisation_ids))))).all())
    debarred = await debarred_among(session, organisation_ids, today)
    return {organisation_id: standing(states.get(organisation_id), organisation_id in debarred)
            for organisation_id in organisation_ids}


async def supplier_standing(session: AsyncSession, organisation_id: int, category_id: int, today: date) -> Standing:
    return (await standings_in_category(session, category_id, [organisation_id], today))[organisation_id]
