"""Reading sessions (public pages, the open API, the signed-in user's load): they see what is committed, never wait
behind a writer that holds SQLite's write lock, and on SQLite refuse to write at all, so a handler that wrongly
writes through one fails in every test run rather than under load."""

from __future__ import annotations

import asyncio

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
