"""Models and migrations never drift: Alembic's autogenerate finds nothing to add on a migrated database."""

from __future__ import annotations

import asyncio

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from dps.db import make_engine, metadata
from dps.migrate import alembic_config
from dps.settings import normalise_database_url
from tests.conftest import BACKENDS, fresh_database_url


@pytest.mark.parametrize("backend", BACKENDS)
async def test_migrations_match_the_models_and_downgrade_cleanly(backend, tmp_path):
    url, drop = await fresh_database_url(backend, tmp_path)
    url = normalise_database_url(url)
    try:
        config = alembic_config(url)
        await asyncio.to_thread(command.upgrade, config, "heads")
        engine = make_engine(url)
        async with engine.connect() as connection:
            differences = await connection.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync, opts={"compare_type": True}), metadata)
            )
        assert differences == []

        await asyncio.to_thread(command.downgrade, config, "base")
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda sync: sync.dialect.get_table_names(sync))
        assert set(tables) <= {"alembic_version"}
        await engine.dispose()
    finally:
        if drop:
            await drop()
