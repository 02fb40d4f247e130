"""Alembic environment: async engine, our metadata, types rendered so SQLite and PostgreSQL share migrations."""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa
from alembic import context
from sqlalchemy.engine import Connection

import dps.wiring  # noqa: F401 - its table registry puts every table on the metadata
from dps.db import UtcDateTime, make_engine, metadata
from dps.settings import Settings

config = context.config


def database_url() -> str:
    return config.attributes.get("database_url") or Settings.from_env().database_url


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def configure(connection: Connection | None = None, **kwargs: Any) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_item=render_item,
        render_as_batch=True,  # SQLite needs batch mode to alter tables
        compare_type=True,
        **kwargs,
    )


def run_offline() -> None:
    configure(url=database_url(), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def _run_sync(connection: Connection) -> None:
    configure(connection)
    with context.begin_transaction():
        context.run_migrations()
        if connection.dialect.name == "sqlite":
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
            if broken:
                raise RuntimeError(f"the migration left rows whose foreign keys point nowhere: {broken[:5]}")


async def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:  # a caller (a test) lends us its connection
        _run_sync(connection)
        return
    engine = make_engine(database_url())
    if engine.dialect.name == "sqlite":
        # SQLite alters a table by copying it to a new one and dropping the old: with foreign keys enforced, that
        # drop fails as soon as another table's rows point at the old one. Enforcement is off while migrating (as
        # SQLite's own instructions for altering tables say), and the result is checked before it commits.
        sa.event.listen(engine.sync_engine, "connect", _sqlite_foreign_keys_off)
    async with engine.connect() as async_connection:
        await async_connection.run_sync(_run_sync)
        await async_connection.commit()
    await engine.dispose()


def _sqlite_foreign_keys_off(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=OFF")
    cursor.close()


if context.is_offline_mode():
    run_offline()
else:
    asyncio.run(run_online())
