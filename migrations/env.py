"""Alembic environment: async engine, our metadata, types rendered so SQLite and PostgreSQL share migrations."""

from __future__ import annotations

import asyncio
from typing import Any

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


async def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:  # a caller (a test) lends us its connection
        _run_sync(connection)
        return
    engine = make_engine(database_url())
    async with engine.connect() as async_connection:
        await async_connection.run_sync(_run_sync)
        await async_connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    asyncio.run(run_online())
