"""Shared fixtures. Every database test runs on SQLite and, when it answers, on PostgreSQL too."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import settings as hypothesis_settings
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

import dps.wiring  # noqa: F401 - its table registry puts every table on the metadata
from dps.app import create_app
from dps.clock import FixedClock
from dps.crypto import SealingKey, install_sealing_key
from dps.db import make_engine, make_sessionmaker, metadata
from dps.identity.passwords import Passwords
from dps.reference import load_reference_data
from dps.settings import Settings
from tests.helpers import pick_free_port

# Services called directly by tests react across domains as they do in the app and the CLI.
dps.wiring.subscribe_domain_listeners()
# Services called directly by tests seal bids with the tests' own key, as the app under test does (DPS_ENV=test).
install_sealing_key(SealingKey(Settings.from_env({"DPS_ENV": "test"}).bid_sealing_key))

# Property tests judge results, not speed: a loaded CI machine must not fail them on a timing deadline, and CI
# explores the same examples every run.
hypothesis_settings.register_profile("suite", deadline=None, print_blob=True)
hypothesis_settings.register_profile("ci", parent=hypothesis_settings.get_profile("suite"), derandomize=True)
hypothesis_settings.load_profile("ci" if os.environ.get("CI") else "suite")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The browser journeys, the slowest tests by far, go first (SQLite, then PostgreSQL) so that parallel workers
    share them out and finish together instead of one worker running a journey while the other waits. The rest
    keeps pytest's order, which groups the tests of each database backend."""
    def is_journey(item: pytest.Item) -> bool:
        return item.nodeid.startswith("tests/browser/")

    def backend_of(item: pytest.Item) -> str:
        callspec = getattr(item, "callspec", None)
        return str(callspec.params.get("migrated_database", "")) if callspec else ""

    journeys = sorted((item for item in items if is_journey(item)), key=lambda item: backend_of(item) != "sqlite")
    items[:] = journeys + [item for item in items if not is_journey(item)]


def _postgres_admin_url() -> str | None:
    explicit = os.environ.get("TEST_DATABASE_URL")
    if explicit:
        return explicit
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=0.5):
            return "postgresql://postgres@127.0.0.1:5432/postgres"
    except OSError:
        return None


POSTGRES_ADMIN_URL = _postgres_admin_url()
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_ADMIN_URL else [])
if os.environ.get("CI") and "postgresql" not in BACKENDS:
    raise RuntimeError("CI must run the PostgreSQL leg: start PostgreSQL or set TEST_DATABASE_URL")


async def _create_postgres_database(admin_url: str, name: str) -> str:
    import asyncpg

    plain = re.sub(r"^postgresql(\+asyncpg)?://", "postgresql://", admin_url)
    connection = await asyncpg.connect(plain)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return plain.rsplit("/", 1)[0] + f"/{name}"


async def _drop_postgres_database(admin_url: str, name: str) -> None:
    import asyncpg

    plain = re.sub(r"^postgresql(\+asyncpg)?://", "postgresql://", admin_url)
    connection = await asyncpg.connect(plain)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


async def fresh_database_url(backend: str, directory: Path) -> tuple[str, Any]:
    """A new, empty database of the given backend, and a coroutine function that removes it."""
    if backend == "sqlite":
        path = directory / f"test-{uuid.uuid4().hex[:8]}.db"
        return f"sqlite:///{path}", None
    assert POSTGRES_ADMIN_URL is not None
    name = f"dps_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = await _create_postgres_database(POSTGRES_ADMIN_URL, name)

    async def drop() -> None:
        await _drop_postgres_database(POSTGRES_ADMIN_URL, name)

    return url, drop


@pytest.fixture(scope="session", params=BACKENDS)
async def migrated_database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """One database per backend per test run, built by the Alembic migrations (so they are exercised too)."""
    from alembic import command

    from dps.migrate import alembic_config
    from dps.settings import normalise_database_url

    url, drop = await fresh_database_url(request.param, tmp_path_factory.mktemp(request.param))
    await asyncio.to_thread(command.upgrade, alembic_config(normalise_database_url(url)), "heads")
    yield url
    if drop:
        await drop()


@pytest.fixture(scope="session")
async def session_engine(migrated_database: str) -> AsyncIterator[AsyncEngine]:
    from dps.settings import normalise_database_url

    # The tests' own engine does not hold SQLite's write lock while it reads, so the app under test can write.
    engine = make_engine(normalise_database_url(migrated_database), immediate_transactions=False)
    yield engine
    await engine.dispose()


async def reset_database(engine: AsyncEngine, now: datetime) -> None:
    tables = [table.name for table in reversed(metadata.sorted_tables)]
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            await connection.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                await connection.execute(sa.text(f"DELETE FROM {name}"))
    async with make_sessionmaker(engine)() as session:
        await load_reference_data(session, now)
        await session.commit()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))


@pytest.fixture
async def database_url(migrated_database: str, session_engine: AsyncEngine, clock: FixedClock) -> str:
    """The test's database, emptied and holding only the reference data."""
    await reset_database(session_engine, clock.now())
    return migrated_database


@pytest.fixture
def backend(database_url: str) -> str:
    return "sqlite" if database_url.startswith("sqlite") else "postgresql"


@pytest.fixture
def smtp_port(free_port: int) -> int:
    return free_port


@pytest.fixture
def settings(database_url: str, tmp_path: Path, smtp_port: int) -> Settings:
    return Settings.from_env({"DPS_ENV": "test", "DATABASE_URL": database_url, "DPS_VAR_DIR": str(tmp_path),
                              "SMTP_URL": f"smtp://127.0.0.1:{smtp_port}"})


@pytest.fixture
async def db(session_engine: AsyncEngine, database_url: str) -> AsyncIterator[AsyncSession]:
    """A session for arranging data and checking results. Helpers commit after each read (tests.helpers.scalar),
    so a check never looks at an old snapshot."""
    async with make_sessionmaker(session_engine)() as session:
        yield session


@pytest.fixture
def passwords() -> Passwords:
    return Passwords.for_environment("test")


@pytest.fixture
def app(settings: Settings, clock: FixedClock) -> Litestar:
    return create_app(settings, clock=clock)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as test_client:
        test_client.follow_redirects = False  # tests look at each redirect themselves
        yield test_client


@pytest.fixture
def free_port() -> Iterator[int]:
    yield pick_free_port()


class RecordingSmtpHandler:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        from email import message_from_bytes
        from email.policy import default

        self.messages.append(message_from_bytes(envelope.content, policy=default))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server(smtp_port: int) -> Iterator[RecordingSmtpHandler]:
    """A real SMTP server (aiosmtpd) on a free local port; `.messages` holds what it received."""
    from aiosmtpd.controller import Controller

    handler = RecordingSmtpHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        yield handler
    finally:
        controller.stop()
