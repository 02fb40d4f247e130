"""Reading sessions (public pages, the open API, the signed-in user's load): they see what is committed, never wait
behind a writer that holds SQLite's write lock, and on SQLite refuse to write at all, so a handler that wrongly
writes through one fails in every test run rather than under load."""

from __future__ import annotations

import asyncio
import sqlite3
import threading

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from dps.agreements.models import Category
from dps.settings import normalise_database_url
from dps.web.database import Database


@pytest.fixture
async def database(database_url: str):
    database = Database.for_url(normalise_database_url(database_url))
    try:
        yield database
    finally:
        await database.dispose()


async def category_names(database: Database) -> set[str]:
    async with database.reading_sessions() as reading:
        return set((await reading.scalars(sa.select(Category.name))).all())


async def test_a_reader_does_not_wait_for_a_writer_and_sees_only_what_is_committed(database):
    before = await category_names(database)
    async with database.sessions() as writer:
        category = await writer.scalar(sa.select(Category).order_by(Category.id).limit(1))
        category.name = "Renamed while a reader reads"
        await writer.flush()  # the writer holds the write lock (SQLite) and has not committed

        during = await asyncio.wait_for(category_names(database), timeout=5)
        assert during == before

        await writer.commit()
    assert "Renamed while a reader reads" in await category_names(database)


async def test_a_reading_session_refuses_to_write_on_sqlite(database, backend):
    if backend != "sqlite":
        pytest.skip("PostgreSQL reads in autocommit on the same pool; the SQLite leg of each test catches a write")
    async with database.reading_sessions() as reading:
        category = await reading.scalar(sa.select(Category).order_by(Category.id).limit(1))
        category.name = "Written through a reading session"
        with pytest.raises(OperationalError, match="readonly"):
            await reading.commit()
    assert "Written through a reading session" not in await category_names(database)


async def test_each_read_sees_the_latest_commit_on_both_databases(database):
    """A reading session holds no transaction between statements (autocommit on PostgreSQL and SQLite alike), so it
    never reads from an old snapshot and a connection goes back to the pool with nothing left open."""
    async with database.reading_sessions() as reading:
        first = set((await reading.scalars(sa.select(Category.name))).all())
        async with database.sessions() as writer:
            category = await writer.scalar(sa.select(Category).order_by(Category.id).limit(1))
            category.name = "Renamed between two reads"
            await writer.commit()
        second = set((await reading.scalars(sa.select(Category.name))).all())
    assert "Renamed between two reads" not in first and "Renamed between two reads" in second


# --- point reads: a public page's reads by key on every request -------------------------------------------------

CATEGORY_NAME = sa.select(Category.name).where(Category.slug == sa.bindparam("slug"))


async def test_a_point_read_sees_each_commit_and_never_what_is_uncommitted(database):
    slug = await database.point_reads.scalar(sa.select(Category.slug).order_by(Category.id).limit(1))
    before = await database.point_reads.scalar(CATEGORY_NAME, {"slug": slug})
    async with database.sessions() as writer:
        category = await writer.scalar(sa.select(Category).where(Category.slug == slug))
        category.name = "Renamed while a page reads it"
        await writer.flush()
        assert await asyncio.wait_for(database.point_reads.scalar(CATEGORY_NAME, {"slug": slug}), 5) == before
        await writer.commit()
    assert await database.point_reads.scalar(CATEGORY_NAME, {"slug": slug}) == "Renamed while a page reads it"
    assert await database.point_reads.scalar(CATEGORY_NAME, {"slug": "no-such-category"}) is None
    assert {row.name for row in await database.point_reads.rows(sa.select(Category.name))} >= {
        "Renamed while a page reads it"}


async def test_a_point_read_runs_on_the_event_loops_thread_on_sqlite_and_refuses_to_write(database, backend):
    """Inline on SQLite: no hop to a database thread (what makes it cheap), and no write gets through it."""
    if backend != "sqlite":
        pytest.skip("on PostgreSQL point reads go through asyncpg, on the loop as every other statement")
    threads: list[int] = []
    sa.event.listen(database.point_reads._inline, "before_cursor_execute",
                    lambda *_: threads.append(threading.get_ident()))
    await database.point_reads.scalar(sa.select(sa.func.count()).select_from(Category))
    assert threads == [threading.get_ident()]
    with pytest.raises(OperationalError, match="readonly"):
        await database.point_reads.rows(sa.update(Category).values(name="Written through a point read"))


async def test_a_point_read_kept_waiting_on_sqlite_waits_off_the_event_loop(database, backend):
    """busy_timeout is 0 inline: a read SQLite would keep waiting (a recovery, an exclusive checkpoint) is made again
    on aiosqlite's thread, where waiting stops nothing else."""
    if backend != "sqlite":
        pytest.skip("SQLite only: PostgreSQL point reads never run inline")
    inline = database.point_reads._inline
    inline.dispose()

    def locked(*_):
        raise sqlite3.OperationalError("database is locked")

    sa.event.listen(inline, "connect", locked)
    assert await database.point_reads.scalar(sa.select(sa.func.count()).select_from(Category)) > 0
    sa.event.remove(inline, "connect", locked)


async def test_a_sqlite_reading_connection_keeps_a_small_page_cache_and_a_writing_one_the_default(database, backend):
    if backend != "sqlite":
        pytest.skip("PostgreSQL's buffer cache is the server's, shared by every connection")
    from dps.db import READING_CACHE_KIB

    async with database.reading_sessions() as reading:
        reading_cache = await reading.scalar(sa.text("PRAGMA cache_size"))
    async with database.sessions() as writing:
        writing_cache = await writing.scalar(sa.text("PRAGMA cache_size"))
    assert reading_cache == -READING_CACHE_KIB
    assert writing_cache == -2000  # SQLite's default: 2,000 KiB
