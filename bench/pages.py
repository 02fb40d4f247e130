"""Pages: the buyer search page (/catalogue/search, HTML with highlights and facets) and an innovation's page
(/catalogue/innovations/ID) rendered under load by `dps serve`."""

from __future__ import annotations

import random
from typing import Any

import sqlalchemy as sa

from bench.search import Case

SEARCH_PAGE = "/catalogue/search"


def search_page_paths(cases: list[Case]) -> list[str]:
    return [case.path(SEARCH_PAGE) for case in cases]


async def listing_page_paths(settings: Any, seed: int, count: int) -> list[str]:
    """Pages of `count` listings in search, picked at random (fixed by the seed)."""
    from catalogue.models import Listing
    from dps.db import make_engine

    engine = make_engine(settings.database_url)
    try:
        async with engine.connect() as connection:
            ids = list((await connection.scalars(sa.select(Listing.id).where(Listing.in_search.is_(True))
                                                 .order_by(Listing.id))).all())
    finally:
        await engine.dispose()
    rng = random.Random(f"{seed}:pages")
    return [f"/catalogue/innovations/{listing_id}" for listing_id in rng.sample(ids, min(count, len(ids)))]
