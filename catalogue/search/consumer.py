"""The outbox consumer that keeps the search index in step with the database (topic "search-index").

At least once, in any order: each message carries the listing's index_version and the engine applies it only
if it is newer than what it holds, so a replay or a late delivery changes nothing. A dead engine makes the
message fail; the outbox retries it with backoff, so nothing is lost and the index catches up when it is back.
"""

from __future__ import annotations

from collections.abc import Sequence

from catalogue.search import search_index_for
from catalogue.search.port import IndexChange
from dps.outbox.models import OutboxMessage
from dps.settings import Settings


class SearchIndexConsumer:
    """An outbox consumer that also takes a batch (the outbox's catch-up): the engine applies the batch's changes
    together (Tantivy: one writer, one commit)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def __call__(self, message: OutboxMessage) -> None:
        await search_index_for(self.settings).apply(IndexChange.from_json(message.payload))

    async def batch(self, messages: Sequence[OutboxMessage]) -> list[str | None]:
        errors: list[str | None] = [None] * len(messages)
        changes: list[IndexChange] = []
        for position, message in enumerate(messages):
            try:
                changes.append(IndexChange.from_json(message.payload))
            except (KeyError, TypeError, ValueError) as error:  # a malformed row fails alone
                errors[position] = f"{type(error).__name__}: {error}"
        await search_index_for(self.settings).apply_many(changes)
        return errors


def search_index_consumer(settings: Settings) -> SearchIndexConsumer:
    return SearchIndexConsumer(settings)
