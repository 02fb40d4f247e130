"""Database plumbing shared by every domain: metadata naming, column types, engines and sessions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlmodel import SQLModel

# Stable constraint names, so Alembic migrations are the same on SQLite and PostgreSQL.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = SQLModel.metadata


def table_of(model: type[SQLModel]) -> sa.Table:
    """The Core table behind a table model, for guarded UPDATEs (SQLModel does not type `Model.__table__`)."""
    table = sa.inspect(model).local_table
    if not isinstance(table, sa.Table):
        raise TypeError(f"{model.__name__} is not a table model")
    return table


async def changed_rows(session: AsyncSession, statement: sa.Update | sa.Delete) -> int:
    """Run an UPDATE or DELETE and return how many rows it changed."""
    result = cast("sa.CursorResult[Any]", await session.execute(statement))
    return result.rowcount


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """Stores aware datetimes as UTC; SQLite has no time zones, so values come back naive and are re-labelled."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_column(*, nullable: bool = False, index: bool = False) -> Any:
    return sa.Column(UtcDateTime(), nullable=nullable, index=index)


def database_unavailable(error: BaseException) -> bool:
    """The database cannot be reached (down, restarting, refusing connections), as opposed to a bug: answered
    503, and the pool replaces closed connections (`_refuse_closed_connection`) once it is back."""
    if isinstance(error, sa.exc.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, sa.exc.InterfaceError | sa.exc.DisconnectionError | sa.exc.TimeoutError):  # pool exhausted
        return True
    if isinstance(error, sa.exc.OperationalError):
        text = str(error.orig if error.orig is not None else error).lower()
        return any(sign in text for sign in ("connect", "connection", "shutting down", "starting up",
                                            "terminating", "server closed"))
    return isinstance(error, ConnectionError | TimeoutError) or type(error).__name__ in (
        "CannotConnectNowError", "ConnectionDoesNotExistError", "AdminShutdownError")


# PostgreSQL connections a process keeps once opened, and how many more it opens for a burst and closes after. A
# connection opened for a burst costs a server process and the re-preparing of every statement it runs: the awards
# benchmark's 20 confirmations at once in a process ran at half speed when 15 of them came from the overflow (the
# default pool keeps 5). Two `dps serve` workers and `dps worker` stay well inside PostgreSQL's 100 connections.
POOL_SIZE = 20
POOL_OVERFLOW = 10
READING_CACHE_KIB = 512  # a SQLite reading connection's page cache (see _sqlite_reading_pragmas)


def make_engine(database_url: str, *, immediate_transactions: bool = True, **kwargs: Any) -> AsyncEngine:
    """An async engine. On SQLite every transaction takes the write lock up front (BEGIN IMMEDIATE) unless
    `immediate_transactions` is False (test inspection only: those sessions must end their reads promptly)."""
    if database_url.startswith("sqlite"):
        engine = create_async_engine(database_url, connect_args={"timeout": 30}, **kwargs)
        sa.event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        if immediate_transactions:
            sa.event.listen(engine.sync_engine, "begin", _sqlite_begin_immediate)
        else:
            sa.event.listen(engine.sync_engine, "begin", _sqlite_begin_deferred)
        return engine
    engine = create_async_engine(database_url, **{"pool_size": POOL_SIZE, "max_overflow": POOL_OVERFLOW,
                                                  "pool_use_lifo": True, **kwargs})
    sa.event.listen(engine.sync_engine, "checkout", _refuse_closed_connection)
    return engine


def _refuse_closed_connection(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """A pooled connection the server has closed (a restart, a terminated backend) is replaced before it is used:
    the driver knows as soon as the event loop has seen the socket close, with no round trip. SQLAlchemy's own
    pre-ping asks the server instead, which cost an award confirmation four round trips (BEGIN, a ping and a
    ROLLBACK for its transaction, a ping for the user's load) out of about twenty."""
    if dbapi_connection.driver_connection.is_closed():
        raise sa.exc.DisconnectionError("The database closed this pooled connection")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not pysqlite, issue BEGIN, so our BEGIN IMMEDIATE below takes effect.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin_immediate(connection: sa.Connection) -> None:
    # Take the write lock at the start of every transaction: a read-then-write never fails half way with
    # "database is locked", and concurrent writers queue instead of overspending.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_begin_deferred(connection: sa.Connection) -> None:
    connection.exec_driver_sql("BEGIN")


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def make_reading_engine(engine: AsyncEngine) -> AsyncEngine:
    """An engine for reads that need no transaction of their own and never write: the signed-in user's load before
    every request's handler, and the public pages' and the open API's reads.

    Its statements run in autocommit, each one reading the last commit, which spares a BEGIN and a ROLLBACK round
    trip each time. On PostgreSQL it shares the pool. On SQLite it is a pool of its own whose connections refuse to
    write (PRAGMA query_only): a reader in WAL mode then never takes the write lock, so it neither waits behind a
    writer nor makes writers and other readers wait behind it (every other transaction begins IMMEDIATE). There is
    no transaction to reset when a connection goes back to the pool, so none is: with aiosqlite every statement
    sent is a hop to the connection's thread and back, and a kept page's read went from nine hops to five. The
    caller disposes of a SQLite reading engine as well as `engine`."""
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    reading = create_async_engine(engine.url, connect_args={"timeout": 30}, isolation_level="AUTOCOMMIT",
                                  pool_reset_on_return=None)
    sa.event.listen(reading.sync_engine, "connect", _sqlite_reading_pragmas)
    return reading


class PointReads:
    """Reads of a row or a few by key (a kept page's version, the category names) that a public page makes on every
    request, so that what it answers is never older than the database.

    On SQLite they run inline, on the event loop's own thread, through a synchronous connection that refuses to write:
    such a read takes microseconds, and handing it to aiosqlite's thread and back costs five round trips through the
    GIL, which under load cost the innovation page more than the rest of its answer. Only reads that go straight to
    their rows through an index belong here: while one runs, nothing else on the loop does. On PostgreSQL they go
    through the async reading engine (asyncpg does not hop between threads)."""

    def __init__(self, reading_engine: AsyncEngine) -> None:
        self._engine = reading_engine
        self._inline: sa.Engine | None = None
        if reading_engine.dialect.name == "sqlite":
            self._inline = sa.create_engine(reading_engine.url.set(drivername="sqlite"), isolation_level="AUTOCOMMIT",
                                            pool_reset_on_return=None,
                                            # The pool lends a connection to one caller at a time, whichever thread
                                            # it runs on (a test client's, or shutdown's).
                                            connect_args={"timeout": 0, "check_same_thread": False})
            sa.event.listen(self._inline, "connect", _sqlite_inline_pragmas)

    async def scalar(self, statement: sa.Executable, parameters: dict[str, Any] | None = None) -> Any:
        """The first column of the first row, or None when there is no row."""
        rows = await self.rows(statement, parameters)
        return rows[0][0] if rows else None

    async def rows(self, statement: sa.Executable, parameters: dict[str, Any] | None = None) -> list[sa.Row[Any]]:
        if self._inline is not None:
            try:
                with self._inline.connect() as connection:
                    return list(connection.execute(statement, parameters))
            except sa.exc.OperationalError as error:
                # A WAL reader is almost never kept waiting (a recovery, an exclusive checkpoint); when it is, it
                # waits on aiosqlite's thread below, never on the event loop.
                if "locked" not in str(error) and "busy" not in str(error):
                    raise
        async with self._engine.connect() as connection:
            return list(await connection.execute(statement, parameters))

    def dispose(self) -> None:
        if self._inline is not None:
            self._inline.dispose()


def _sqlite_inline_pragmas(dbapi_connection: Any, record: Any) -> None:
    _sqlite_reading_pragmas(dbapi_connection, record)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=0")  # never wait on the event loop (PointReads)
    cursor.close()


def _sqlite_reading_pragmas(dbapi_connection: Any, record: Any) -> None:
    _sqlite_pragmas(dbapi_connection, record)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    # Each reading connection has a page cache of its own (2 MiB by default), and the public pages spread their reads
    # over the whole database: at 100,000 listings the reading pool's caches grew the server by about 20 MiB under
    # load, for reads the operating system's cache answers as well. 512 KiB each holds the indexes' upper pages.
    cursor.execute(f"PRAGMA cache_size=-{READING_CACHE_KIB}")
    cursor.close()
