"""Alembic, driven from code: `dps db upgrade`, `make install` and the tests all migrate the same way.

Alembic (and Mako with it) is imported inside the functions that use it, so the CLI, which imports this module for
`dps db upgrade`, does not load it into `dps serve`."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from dps.clock import SystemClock
from dps.db import make_engine, make_sessionmaker
from dps.reference import load_reference_data
from dps.settings import PROJECT_ROOT, Settings

if TYPE_CHECKING:
    from alembic.config import Config


def alembic_config(database_url: str) -> Config:
    from alembic.config import Config

    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.attributes["database_url"] = database_url
    return config


def upgrade_database(settings: Settings) -> int:
    """Migrate to head and load missing reference data; returns how many reference rows were added."""
    if settings.is_sqlite:
        settings.var_dir.mkdir(parents=True, exist_ok=True)
    from alembic import command

    command.upgrade(alembic_config(settings.database_url), "heads")
    return asyncio.run(_load_reference(settings))


async def _load_reference(settings: Settings) -> int:
    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            added = await load_reference_data(session, SystemClock().now())
            await session.commit()
            return added
    finally:
        await engine.dispose()
