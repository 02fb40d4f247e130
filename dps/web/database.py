"""The app's database: one engine, its sessionmakers, and the request's session as the `db_session` dependency.

A handler that names `db_session` gets a session of its own, opened when first used and closed as soon as the
handler's response is made (before it is sent), so its connection goes back to the pool at once. This is what the
SQLAlchemy plugin of Advanced Alchemy did for us; it is done here in a few lines because that plugin brought alembic,
mako, numpy and Litestar's CLI into every web process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from litestar import Litestar, Request
from litestar.di import Provide
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from dps.db import PointReads, database_unavailable, make_engine, make_reading_engine, make_sessionmaker

# How long closing a request's session may take before the pool gives its connection up.
SESSION_CLOSE_SECONDS = 5


@dataclass(frozen=True)
class Database:
    engine: AsyncEngine
    reading_engine: AsyncEngine  # reads that never write (dps.db.make_reading_engine); on `engine`'s pool on PostgreSQL
    sessions: async_sessionmaker[AsyncSession]  # a transaction of its own each
    reading_sessions: async_sessionmaker[AsyncSession]  # for a read that needs no transaction and never writes
    point_reads: PointReads  # a public page's reads by key on every request (dps.db.PointReads)

    @classmethod
    def for_url(cls, database_url: str) -> Database:
        engine = make_engine(database_url)
        reading_engine = make_reading_engine(engine)
        return cls(engine, reading_engine, make_sessionmaker(engine), make_sessionmaker(reading_engine),
                   PointReads(reading_engine))

    async def dispose(self) -> None:
        self.point_reads.dispose()
        await self.engine.dispose()
        if self.reading_engine.pool is not self.engine.pool:  # SQLite: a pool of its own
            await self.reading_engine.dispose()


def database_of(app: Litestar) -> Database:
    database: Database = app.state.database
    return database


async def provide_db_session(request: Request[Any, Any, Any]) -> AsyncIterator[AsyncSession]:
    session = database_of(request.app).sessions()
    try:
        yield session
    finally:
        await close_request_session(session)


async def provide_reading_session(request: Request[Any, Any, Any]) -> AsyncIterator[AsyncSession]:
    """For a handler that only reads (public pages, the open API): never takes SQLite's write lock, and refuses to
    write (dps.db.make_reading_engine)."""
    session = database_of(request.app).reading_sessions()
    try:
        yield session
    finally:
        await close_request_session(session)


async def provide_point_reads(request: Request[Any, Any, Any]) -> PointReads:
    return database_of(request.app).point_reads


async def close_request_session(session: AsyncSession) -> None:
    """Close the request's session: roll back what the handler left uncommitted and give the connection back. A
    connection the database dropped under the request (a restart, a terminated backend) is not an error here: the
    database has rolled the transaction back already, and the connection is invalidated so that the pool replaces
    it."""
    try:
        await asyncio.wait_for(session.close(), timeout=SESSION_CLOSE_SECONDS)
    except Exception as error:
        if not database_unavailable(error):
            raise
        logging.getLogger("dps.web").warning("the database dropped a request's connection: %s", error)
        with contextlib.suppress(Exception):
            await session.invalidate()


@contextlib.asynccontextmanager
async def engine_closed_on_shutdown(app: Litestar) -> AsyncIterator[None]:
    try:
        yield
    finally:
        await database_of(app).dispose()


DATABASE_DEPENDENCIES = {"db_session": Provide(provide_db_session),
                         "reading_session": Provide(provide_reading_session),
                         "point_reads": Provide(provide_point_reads)}
