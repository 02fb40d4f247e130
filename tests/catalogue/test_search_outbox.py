"""The search index is fed through the outbox: a dead engine loses nothing and catches up; `dps reindex`
rebuilds it from the database; /health reports the lag."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
import sqlalchemy as sa

from catalogue.search import search_index_for
from catalogue.search.consumer import search_index_consumer
from catalogue.search.port import SearchQuery
from catalogue.services import SEARCH_INDEX_TOPIC
from dps.outbox.models import OutboxMessage
from dps.outbox.services import enqueue
from tests.catalogue.support import published_listing, signed_in_supplier
from tests.helpers import scalar


async def test_a_dead_engine_loses_nothing_and_catches_up_when_back(client, db, passwords, clock, settings,
                                                                    drain_outbox):
    blocker = settings.var_dir / "search"
    blocker.write_text("the index folder cannot be created: the engine is down")
    await signed_in_supplier(client, db, passwords, clock)
    listing_id = await published_listing(client, db)

    report = await drain_outbox()

    assert (report.delivered, report.failed) == (0, 1)
    message = await scalar(db, sa.select(OutboxMessage).where(OutboxMessage.topic == "search-index"))
    assert message.processed_at is None and message.attempts == 1 and message.last_error
    health = (await client.get("/health")).json()
    assert health["search"] == "unavailable"
    assert health["search_index_lag"]["pending"] == 1

    blocker.unlink()
    assert (await drain_outbox()).delivered == 0  # not due yet: retried with backoff
    clock.advance(timedelta(minutes=1))
    assert (await drain_outbox()).delivered == 1

    hits = (await search_index_for(settings).search(SearchQuery(text="wearable"))).hits
    assert [hit.id for hit in hits] == [listing_id]
    health = (await client.get("/health")).json()
    assert health["search"] == "ok" and health["search_index_lag"] == {"pending": 0, "oldest_pending_at": None}


async def test_replaying_the_outbox_changes_nothing(client, db, passwords, clock, settings, drain_outbox):
    await signed_in_supplier(client, db, passwords, clock)
    listing_id = await published_listing(client, db)
    await drain_outbox()
    index = search_index_for(settings)
    version = await index.indexed_version(listing_id)
    # Deliver every message again, as an at-least-once worker may.
    await db.execute(sa.update(OutboxMessage).values(processed_at=None))
    await db.commit()
    await drain_outbox()
    assert await index.indexed_version(listing_id) == version
    assert (await index.search(SearchQuery())).total == 1


async def test_reindex_rebuilds_the_index_from_the_database(client, db, passwords, clock, settings):
    from catalogue.reindex import rebuild_search_index

    await signed_in_supplier(client, db, passwords, clock)
    listing_id = await published_listing(client, db)
    # The outbox is never drained: only the rebuild puts the listing in the index.
    indexed = await rebuild_search_index(settings, clock.now())
    assert indexed == 1
    assert [hit.id for hit in (await search_index_for(settings).search(SearchQuery(text="ecg"))).hits] == [listing_id]


async def test_reindex_receives_every_batch_from_the_reader_process_with_its_progress(client, db, passwords, clock,
                                                                                     settings):
    from catalogue.reindex import rebuild_search_index

    await signed_in_supplier(client, db, passwords, clock)
    listing_ids = [await published_listing(client, db, {"name": f"Zio wearable patch {n}"}) for n in range(3)]
    totals: list[int] = []
    done: list[int] = []
    indexed = await rebuild_search_index(settings, clock.now(), on_total=totals.append, progress=done.append,
                                         batch_size=2)
    assert (indexed, totals, done) == (3, [3], [2, 1])
    found = await search_index_for(settings).search(SearchQuery(text="zio", sort="name"))
    assert sorted(hit.id for hit in found.hits) == sorted(listing_ids)
    assert {hit.document["supplier"]["name"] for hit in found.hits} == {found.hits[0].document["supplier"]["name"]}


async def test_a_reader_that_fails_commits_nothing_and_says_why(client, db, passwords, clock, settings, tmp_path):
    from catalogue.reindex import ListingReaderFailed, rebuild_search_index

    await signed_in_supplier(client, db, passwords, clock)
    listing_id = await published_listing(client, db)
    await rebuild_search_index(settings, clock.now())
    empty_database = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"  # no tables: the reader fails on its first read
    with pytest.raises(ListingReaderFailed, match="no such table"):
        await rebuild_search_index(dataclasses.replace(settings, database_url=empty_database), clock.now())
    assert [hit.id for hit in (await search_index_for(settings).search(SearchQuery(text="ecg"))).hits] == [listing_id]


async def test_a_burst_of_changes_is_applied_together_and_a_malformed_one_fails_alone(client, db, passwords, clock,
                                                                                      settings, drain_outbox):
    await signed_in_supplier(client, db, passwords, clock)
    listing_ids = [await published_listing(client, db, {"name": f"Zio wearable patch {n}"}) for n in range(3)]
    await enqueue(db, topic=SEARCH_INDEX_TOPIC, dedupe_key="broken", payload={"listing_id": "x"}, now=clock.now())
    await db.commit()

    report = await drain_outbox(consumers={SEARCH_INDEX_TOPIC: search_index_consumer(settings)})

    assert (report.delivered, report.failed) == (3, 1)
    broken = await scalar(db, sa.select(OutboxMessage).where(OutboxMessage.dedupe_key == "broken"))
    assert broken.processed_at is None and "ValueError" in (broken.last_error or "")
    pending = await scalar(db, sa.select(sa.func.count()).select_from(OutboxMessage).where(
        OutboxMessage.topic == SEARCH_INDEX_TOPIC, OutboxMessage.processed_at.is_(None)))
    assert pending == 1
    hits = (await search_index_for(settings).search(SearchQuery(text="wearable"))).hits
    assert sorted(hit.id for hit in hits) == listing_ids
