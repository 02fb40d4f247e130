"""The outbox consumer that keeps the search index in step with the database (topic "search-index").

At least once, in any order: each message carries the listing's index_version and the engine applies it only
if it is newer than what it holds, so a replay or a late delivery changes nothing. A dead engine makes the
message fail; the outbox retries it with backoff, so nothing is lost and the index catches up when it is back.
"""

from __future__ import annotations

from catalogue.search import search_index_for
from catalogue.search.port import IndexChange
from dps.outbox.models import OutboxMessage
from dps.settings import Settings


def search_index_consumer(settings: Settings):  # returns an outbox consumer
    async def apply(message: OutboxMessage) -> None:
        await search_index_for(settings).apply(IndexChange.from_json(message.payload))

    return apply
