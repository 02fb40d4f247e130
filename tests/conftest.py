"""Shared fixtures. Every database test runs on SQLite and, when it answers, on PostgreSQL too."""

from __future__ import annotations

import asyncio
import gc
import os
import re
import socket
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import pytest
import sqlalchemy as sa
from hypothesis import settings as hypothesis_settings
from litestar import Litestar
from litestar.testing import AsyncTestClient
from litestar.utils.signature import ParsedSignature
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

import dps.wiring  # its table registry puts every table on the metadata
from dps.app import create_app
from dps.clock import Clock, FixedClock
from dps.crypto import SealingKey, install_sealing_key
from dps.db import make_engine, make_sessionmaker, metadata
from dps.identity.passwords import Passwords
from dps.outbox.worker import Consumer, DrainReport, OutboxWorker
from dps.reference import load_reference_data
from dps.settings import Settings
from dps.wiring import outbox_consumers
from tests.helpers import pick_free_port

# Services called directly by tests react across domains as they do in the app and the CLI.
dps.wiring.subscribe_domain_listeners()
# Services called directly by tests seal bids with the tests' own key, as the app under test does (DPS_ENV=test).
install_sealing_key(SealingKey(Settings.from_env({"DPS_ENV": "test"}).bid_sealing_key))


def _parse_each_signature_once() -> None:
    """Most tests build their own app (their own settings and clock), and Litestar parses every handler's and
    dependency's signature again for each app (type hints evaluated from strings): a third of building one. The
    handlers are the same functions in every app, so each is parsed once per test process: a module-level function
    by itself, a controller's method by its function (every instance's bound method has the same signature).
    Functions made inside a call are parsed each time, and nothing here keeps an app alive. ParsedSignature is
    frozen, so sharing it between apps shares nothing an app can change."""
    parse = ParsedSignature.from_fn.__func__  # type: ignore[attr-defined]
    parsed: dict[tuple[Any, ...], ParsedSignature] = {}

    def from_fn(cls: type[ParsedSignature], fn: Any, signature_namespace: dict[str, Any]) -> ParsedSignature:
        function = getattr(fn, "__func__", fn)
        if "<locals>" in getattr(function, "__qualname__", "<locals>"):
            return parse(cls, fn, signature_namespace)  # type: ignore[no-any-return]
        key = (function, function is not fn, tuple(signature_namespace), tuple(map(id, signature_namespace.values())))
        found = parsed.get(key)
        if found is None:
            found = parsed[key] = parse(cls, fn, signature_namespace)
        return found

    ParsedSignature.from_fn = classmethod(from_fn)  # type: ignore[method-assign,assignment]


_parse_each_signature_once()

# Property tests judge results, not speed: a loaded CI machine must not fail them on a timing deadline, and CI
# explores the same examples every run.
hypothesis_settings.register_profile("suite", deadline=None, print_blob=True)
hypothesis_settings.register_profile("ci", parent=hypothesis_settings.get_profile("suite"), derandomize=True)
hypothesis_settings.load_profile("ci" if os.environ.get("CI") else "suite")


def pytest_collection_finish(session: pytest.Session) -> None:
    """What is alive once the tests are collected (the modules, the app's code, hypothesis's strategies) lives until
    the end: moved out of the collector's sight, so each full collection scans only what the tests made."""
    gc.collect()
    gc.freeze()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The browser journeys, the slowest tests by far, go first (SQLite, then PostgreSQL) so that parallel workers
    share them out and finish together instead of one worker running a journey while the other waits. The rest
    keeps pytest's order, which groups the tests of each database backend.

    Under `--dist loadgroup` every test outside an xdist_group is a work unit of its own, handed out in this order
    to whichever worker has the least left, as `--dist load` does; a group (the PostgreSQL races, a few seconds in
    all) is one unit, which xdist sends before the single tests because it is bigger. So one worker starts with the
    group while the other starts on the journeys, and the journeys still lead."""
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
async def migrated_database(request: pytest.FixtureRequest,
                            tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
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


# The key of the suite's PostgreSQL advisory lock for tests that open dozens of connections at once.
POSTGRES_CONCURRENCY_LOCK = 0x6470_7363  # "dpsc"


@pytest.fixture
async def postgres_concurrency_lock(backend: str) -> AsyncIterator[None]:
    """For a test that opens dozens of PostgreSQL connections at once (the server allows 100): waits until no other
    such test holds the server, in this run (another xdist worker) or in another run against the same server. Mark
    the test `@pytest.mark.xdist_group("postgres_concurrency")` too, so that its worker never waits here for a test
    of its own run. The lock is a session-level advisory lock on a connection of its own, released when that
    connection closes (even if the test is killed). Nothing to wait for on SQLite."""
    if backend != "postgresql":
        yield
        return
    import asyncpg

    assert POSTGRES_ADMIN_URL is not None
    connection = await asyncpg.connect(re.sub(r"^postgresql(\+asyncpg)?://", "postgresql://", POSTGRES_ADMIN_URL))
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 600
        while not await connection.fetchval("SELECT pg_try_advisory_lock($1)", POSTGRES_CONCURRENCY_LOCK):
            if loop.time() > deadline:
                pytest.fail("another test held the PostgreSQL concurrency lock for ten minutes")
            await asyncio.sleep(0.2)
        yield
    finally:
        await connection.close()


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


class DrainOutbox(Protocol):
    """The `drain_outbox` fixture's callable (see there)."""

    async def __call__(self, *, settings: Settings | None = None,
                       consumers: Mapping[str, Consumer] | None = None) -> DrainReport: ...


async def drain_outbox_now(settings: Settings, clock: Clock, consumers: Mapping[str, Consumer] | None = None,
                           engine: AsyncEngine | None = None) -> DrainReport:
    """Deliver every outbox message that is due, as the app's worker does, with the app's consumers (email, search
    index, Stripe) built from `settings` unless `consumers` replaces them; returns how many were delivered, how
    many failed (those stay in the outbox, retried after their backoff) and how many became dead letters
    (`settings.outbox_max_attempts`). Tests use the `drain_outbox` fixture; this
    is for a fixture of a wider scope."""
    own_engine = engine is None
    engine = engine or make_engine(settings.database_url)
    try:
        worker = OutboxWorker.for_settings(
            make_sessionmaker(engine), outbox_consumers(settings) if consumers is None else consumers, clock, settings)
        return await worker.drain_all()
    finally:
        if own_engine:
            await engine.dispose()


@pytest.fixture
async def drain_outbox(settings: Settings, clock: FixedClock) -> AsyncIterator[DrainOutbox]:
    """`await drain_outbox()`: deliver everything due in the outbox now (by the test's clock) and return the
    `DrainReport` (`.delivered`, `.failed`). `settings=` drains for an app configured otherwise (a served app's
    address in email links); `consumers=` replaces the app's consumers (a Stripe consumer with a test transport,
    say). One engine per database for the whole test, closed at teardown."""
    engines: dict[str, AsyncEngine] = {}
    test_settings = settings

    async def drain(*, settings: Settings | None = None,
                    consumers: Mapping[str, Consumer] | None = None) -> DrainReport:
        chosen = settings or test_settings
        if chosen.database_url not in engines:
            engines[chosen.database_url] = make_engine(chosen.database_url)
        return await drain_outbox_now(chosen, clock, consumers, engine=engines[chosen.database_url])

    try:
        yield drain
    finally:
        for engine in engines.values():
            await engine.dispose()


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

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd's name
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
