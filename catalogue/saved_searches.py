"""A buyer's saved catalogue searches: a name and the query string of the search page."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from catalogue.models import SavedSearch
from dps.errors import NotFound, ValidationFailed
from dps.identity.services import SignedInUser


async def save_search(session: AsyncSession, user: SignedInUser, *, name: str, query_string: str,
                      now: datetime) -> SavedSearch:
    if not name.strip():
        raise ValidationFailed("Enter a name for the search", field="name")
    if len(name.strip()) > 120 or len(query_string) > 2000:
        raise ValidationFailed("The name or the search is too long", field="name")
    saved = SavedSearch(user_id=user.id, name=name.strip(), query_string=query_string.lstrip("?"), created_at=now)
    session.add(saved)
    await session.flush()
    await session.commit()
    return saved


async def saved_searches(session: AsyncSession, user: SignedInUser) -> list[SavedSearch]:
    return list((await session.scalars(sa.select(SavedSearch).where(col(SavedSearch.user_id) == user.id)
                                       .order_by(col(SavedSearch.created_at).desc(),
                                                 col(SavedSearch.id).desc()))).all())


async def delete_saved_search(session: AsyncSession, user: SignedInUser, saved_id: int) -> None:
    saved = await session.scalar(sa.select(SavedSearch).where(col(SavedSearch.id) == saved_id,
                                                              col(SavedSearch.user_id) == user.id))
    if saved is None:
        raise NotFound("There is no such saved search")
    await session.delete(saved)
    await session.commit()
