"""Index: a full rebuild of the search index (what `dps reindex` runs), then how fast the outbox worker catches up
with a burst of changes.

The burst is made the way the product makes one: suppliers are suspended from search and reinstated through
`withdraw_supplier_listings_from_search` / `restore_supplier_listings_to_search` (what an admission change calls),
each supplier in its own transaction, writing the outbox rows, audit events and changes-feed rows. Then the
outbox worker with the search-index consumer drains them: removals first, then additions (documents rebuilt and
indexed). The data ends as it started.
"""

from __future__ import annotations

import shutil
import time
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bench.report import Section, console


def index_bytes(settings: Any) -> int:
    """The embedded index's size on disk: every file of its directory."""
    directory = settings.search_index_dir
    return sum(path.stat().st_size for path in directory.rglob("*") if path.is_file()) if directory.exists() else 0


async def full_reindex(settings: Any, now: datetime) -> tuple[int, float]:
    """A rebuild from an empty index; returns (listings indexed, seconds)."""
    from catalogue.reindex import rebuild_search_index
    from catalogue.search import forget_search_index

    if settings.search_backend == "embedded":
        shutil.rmtree(settings.search_index_dir, ignore_errors=True)
    with Progress(TextColumn("Full reindex"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as bar:
        task = bar.add_task("index", total=None)
        started = time.perf_counter()
        try:
            indexed = await rebuild_search_index(settings, now, on_total=lambda total: bar.update(task, total=total),
                                                 progress=lambda done: bar.advance(task, done))
        finally:
            await forget_search_index(settings)
        return indexed, time.perf_counter() - started


async def _suppliers_for(session: Any, changes: int) -> list[tuple[int, int, int]]:
    """(organisation, category, listings in search) of suppliers whose listings add up to about `changes`."""
    from catalogue.models import Listing

    rows = (await session.execute(
        sa.select(Listing.organisation_id, Listing.category_id, sa.func.count())
        .where(Listing.in_search.is_(True)).group_by(Listing.organisation_id, Listing.category_id)
        .order_by(Listing.organisation_id, Listing.category_id))).all()
    chosen, total = [], 0
    for organisation_id, category_id, count in rows:
        if total >= changes:
            break
        chosen.append((organisation_id, category_id, count))
        total += count
    return chosen


async def catch_up(settings: Any, now: datetime, changes: int) -> dict[str, float]:
    from catalogue.search import forget_search_index
    from catalogue.search.consumer import search_index_consumer
    from catalogue.services import (
        SEARCH_INDEX_TOPIC,
        restore_supplier_listings_to_search,
        withdraw_supplier_listings_from_search,
    )
    from dps.audit.services import Actor
    from dps.clock import FixedClock
    from dps.db import make_engine, make_sessionmaker
    from dps.outbox.worker import OutboxWorker

    actor = Actor.system("bench-index")
    engine = make_engine(settings.database_url)
    sessions = make_sessionmaker(engine)
    worker = OutboxWorker(sessions, {SEARCH_INDEX_TOPIC: search_index_consumer(settings)},
                          FixedClock(now + timedelta(minutes=1)))
    result: dict[str, float] = {}
    try:
        async with sessions() as session:
            suppliers = await _suppliers_for(session, changes)
            await session.commit()
        for phase, change in (("removals", withdraw_supplier_listings_from_search),
                              ("additions", restore_supplier_listings_to_search)):
            started = time.perf_counter()
            written = 0
            for organisation_id, category_id, _ in suppliers:
                async with sessions() as session:
                    if phase == "removals":
                        ids = await change(session, organisation_id, category_id, "benchmark", actor, now)
                    else:
                        ids = await change(session, organisation_id, category_id, actor, now)
                    await session.commit()
                    written += len(ids)
            result[f"{phase} written"] = written
            result[f"{phase} write seconds"] = time.perf_counter() - started
            started = time.perf_counter()
            report = await worker.drain_all(max_rounds=10**6)
            result[f"{phase} drain seconds"] = time.perf_counter() - started
            result[f"{phase} delivered"] = report.delivered
            result[f"{phase} failed"] = report.failed
    finally:
        await forget_search_index(settings)
        await engine.dispose()
    return result


async def run(settings: Any, now: datetime, changes: int) -> Section:
    section = Section("Index: full reindex and outbox catch-up")
    indexed, seconds = await full_reindex(settings, now)
    section.add("listings indexed", indexed, "listings")
    section.add("full reindex time", seconds, "s")
    section.add("full reindex rate", indexed / seconds if seconds else None, "listings/s")
    if settings.search_backend == "embedded":
        section.add("index size on disk", index_bytes(settings) / 2**20, "MiB")
    result = await catch_up(settings, now, changes)
    for phase in ("removals", "additions"):
        delivered, drain = result[f"{phase} delivered"], result[f"{phase} drain seconds"]
        section.add(f"catch-up: {phase} applied", int(delivered), "changes")
        section.add(f"catch-up: {phase} rate", delivered / drain if drain else None, "changes/s")
        if result[f"{phase} failed"]:
            section.add(f"catch-up: {phase} failed", int(result[f"{phase} failed"]), "changes")
    total = result["removals delivered"] + result["additions delivered"]
    drain = result["removals drain seconds"] + result["additions drain seconds"]
    section.add("catch-up: all changes rate", total / drain if drain else None, "changes/s")
    written = result["removals written"] + result["additions written"]
    write_seconds = result["removals write seconds"] + result["additions write seconds"]
    section.add("changes written by the services", written / write_seconds if write_seconds else None, "changes/s")
    section.notes.append("Catch-up: the outbox worker with the search-index consumer, which takes up to 500 claimed "
                         "changes in one call (one index writer, one commit); suppliers suspended from search, then "
                         "reinstated.")
    return section
