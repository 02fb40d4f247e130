"""Browser journeys: Playwright (async API) driving Debian's chromium against the real app served by uvicorn.

Fixtures (see FIXTURES.md):
- `live_server_settings`: the settings the served app gets: the test's `settings` (its database on SQLite or
  PostgreSQL, and the test SMTP server) with the in-process outbox worker on and BASE_URL at the served port.
  A test module overrides this fixture to change settings (Stripe for example), keeping `base_url` and
  `outbox_worker` from `live_settings(settings, ...)`.
- `start_live_server(settings)`: serve `create_app(settings, clock)` on the port of `settings.base_url` (uvicorn,
  lifespan on, in the test's event loop); stopped at teardown.
- `live_server`: `start_live_server(live_server_settings)`: `.url`, `.clock`, `.settings`, `.app`, `.mails`,
  `.drain_outbox()`, `.wait_for(predicate)`, `.email_to(address)`, `.link_in_email(address, path)`.
- `db`: like the shared one, but its SQLite transactions take the write lock up front (as the app's do), so a test
  can arrange data while the served app writes.
- `browser` (session): headless chromium; `new_page()`: a page in a fresh context (one per user, so several people
  can be signed in at once) with the live server as base URL; `page`: one such page.
On failure, a screenshot and the HTML of every open page go to test-artifacts/browser/<test>/. A test passes only if
every page its pages loaded was checked with axe (`support.check_accessibility`, run by `visit`, `submit`, `follow`).

Every test here carries the `browser` marker. A developer skips them with `-m "not browser"` or SKIP_BROWSER=1;
under CI (the CI variable set) they always run, and a missing chromium is an error, not a skip.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import os
import re
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from dps.settings import PROJECT_ROOT, Settings
from tests.browser.support import (
    AXE_CHECKED_ELSEWHERE,
    AXE_SCRIPT,
    LOADED,
    LiveServer,
    page_key,
    unchecked_pages,
)
from tests.conftest import DrainOutbox
from tests.helpers import pick_free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 # The closed network: every host name but the live server's address fails at once (the NHS.UK web
                 # font, say). Not a Playwright route: routing turns the browser's HTTP cache off.
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]
ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "browser"
BROWSER_DIR = Path(__file__).resolve().parent


def _in_ci() -> bool:
    return bool(os.environ.get("CI"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_reason = None
    if not _in_ci():
        if os.environ.get("SKIP_BROWSER") in ("1", "true", "yes"):
            skip_reason = "SKIP_BROWSER is set"
        elif not CHROMIUM.exists():
            skip_reason = f"{CHROMIUM} is missing (make browser installs it)"
    for item in items:
        if BROWSER_DIR in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.browser)
            if skip_reason:
                item.add_marker(pytest.mark.skip(reason=skip_reason))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    """Keep each phase's report on the test item, so fixtures know at teardown whether the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def _failed(item: pytest.Item) -> bool:
    return any(getattr(getattr(item, f"report_{when}", None), "failed", False) for when in ("setup", "call"))


# --- the app on a real port -----------------------------------------------------------------------------------------

def live_settings(settings: Settings, **changes: Any) -> Settings:
    """`settings` for a served app: a free port in BASE_URL (email links point at it) and the in-process worker."""
    return dataclasses.replace(settings, base_url=f"http://127.0.0.1:{pick_free_port()}", outbox_worker="inprocess",
                               **changes)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Any]:
    """The tests' session, but one whose SQLite transactions take the write lock up front like the app's: the served
    app writes while a journey arranges or checks data, and a deferred read-then-write would fail with "database is
    locked" (a stale WAL snapshot). End each transaction promptly (tests.helpers' `scalar` and tests.factories do)."""
    from dps.db import make_engine, make_sessionmaker
    from dps.settings import normalise_database_url

    engine = make_engine(normalise_database_url(database_url))
    try:
        async with make_sessionmaker(engine)() as session:
            yield session
    finally:
        await engine.dispose()


@pytest.fixture
def live_server_settings(settings: Settings) -> Settings:
    return live_settings(settings)


@pytest.fixture
async def start_live_server(clock: Any, smtp_server: Any, drain_outbox: DrainOutbox
                            ) -> AsyncIterator[Callable[[Settings], Awaitable[LiveServer]]]:
    import uvicorn

    from catalogue.search import forget_search_index
    from dps.app import create_app

    servers: list[LiveServer] = []

    async def start(settings: Settings) -> LiveServer:
        port = int(settings.base_url.rsplit(":", 1)[1])
        app = create_app(settings, clock=clock)
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                               lifespan="on"))
        task = asyncio.create_task(server.serve())
        live = LiveServer(url=settings.base_url, clock=clock, settings=settings, app=app, mails=smtp_server,
                          drain=functools.partial(drain_outbox, settings=settings), server=server, task=task)
        servers.append(live)
        deadline = asyncio.get_running_loop().time() + 15
        while not server.started:
            if task.done():
                task.result()  # raises what stopped it
                raise RuntimeError("uvicorn stopped before it started")
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"the app did not start on {settings.base_url}")
            await asyncio.sleep(0.02)
        return live

    yield start
    for live in servers:
        live.server.should_exit = True
        await asyncio.wait_for(live.task, timeout=15)
        await forget_search_index(live.settings)


@pytest.fixture
async def live_server(start_live_server: Callable[[Settings], Awaitable[LiveServer]],
                      live_server_settings: Settings) -> LiveServer:
    return await start_live_server(live_server_settings)


# --- the browser -------------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: `make browser` installs Debian's chromium"
        if _in_ci():
            raise RuntimeError(message)
        pytest.skip(message)
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


def _artifact_dir(item: pytest.Item) -> Path:
    return ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid.split("::", 1)[-1])[:150]


@pytest.fixture
async def new_page(browser: Any, live_server: LiveServer, backend: str,
                   request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    """`await new_page()`: a page in a new browser context (its own cookies: one signed-in user each)."""
    contexts: list[Any] = []
    # The pages are the same markup whichever database holds the data: the SQLite run of each journey checks them
    # with axe, and the PostgreSQL run proves the journey itself.
    check_with_axe = backend == "sqlite"

    async def make(**context_options: Any) -> Any:
        context = await browser.new_context(base_url=live_server.url, accept_downloads=True, **context_options)
        context.set_default_timeout(10_000)
        context.set_default_navigation_timeout(15_000)
        # axe-core is loaded into each new document by the browser itself (not a <script> element, so the app's
        # CSP stays as it is); sending its 560 kB with every check would cost more than the checks.
        if check_with_axe:
            await context.add_init_script(path=AXE_SCRIPT)
        contexts.append(context)
        page = await context.new_page()
        if not check_with_axe:
            AXE_CHECKED_ELSEWHERE.add(page)
        loaded: list[str] = LOADED.setdefault(page, [])
        page.on("framenavigated", lambda frame: loaded.append(page_key(frame.url))
                if frame == page.main_frame and frame.url.startswith(live_server.url) else None)
        return page

    yield make
    failed = _failed(request.node)
    if failed:
        directory = _artifact_dir(request.node)
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True, exist_ok=True)
    missed: list[str] = []
    for number, context in enumerate(contexts, start=1):
        for index, page in enumerate(context.pages, start=1):
            missed += unchecked_pages(page)
            if failed:
                stem = directory / f"user{number}-page{index}"
                try:
                    await page.screenshot(path=f"{stem}.png", full_page=True)
                    stem.with_suffix(".html").write_text(f"<!-- {page.url} -->\n" + await page.content(),
                                                         encoding="utf-8")
                except Exception as error:  # a broken page must not hide the test's own failure
                    stem.with_suffix(".txt").write_text(f"{page.url}: {error}", encoding="utf-8")
        await context.close()
    if failed:
        print(f"\nbrowser artifacts: {directory.relative_to(PROJECT_ROOT)}")
    elif missed:
        pytest.fail(f"pages loaded but never checked with axe: {sorted(set(missed))}")


@pytest.fixture
async def page(new_page: Callable[..., Awaitable[Any]]) -> Any:
    return await new_page()

