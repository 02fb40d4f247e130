"""`dps reindex`: rebuild the search index from the database (every listing that belongs in search)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from catalogue.search import search_index_for
from catalogue.services import count_searchable, iter_search_documents
from dps.db import make_engine, make_sessionmaker
from dps.settings import Settings


async def rebuild_search_index(settings: Settings, now: datetime, *, on_total: Callable[[int], None] | None = None,
                               progress: Callable[[int], None] | None = None, batch_size: int = 500) -> int:
    """Returns how many listings were indexed. Reads with a plain (deferred) transaction, so on SQLite the
    marketplace keeps writing meanwhile; changes made during the rebuild reach the index through the outbox."""
    engine = make_engine(settings.database_url, immediate_transactions=False)
    try:
        async with make_sessionmaker(engine)() as session:
            if on_total is not None:
                on_total(await count_searchable(session))
            index = search_index_for(settings)
            await index.start()
            return await index.rebuild(iter_search_documents(session, now.date(), batch_size), progress)
    finally:
        await engine.dispose()
