"""PostgreSQL restarted under load, simulated without touching the shared server: every backend of the test's database
is terminated (as a restart does) again and again while requests run. Requests caught by it get a 503 page, never a
500; afterwards the same app serves again, its pool having replaced the dead connections as it handed them out, no
restart."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest

from dps.app import create_app
from tests.conftest import POSTGRES_ADMIN_URL

pytestmark = [pytest.mark.xdist_group("postgres_concurrency"), pytest.mark.usefixtures("postgres_concurrency_lock")]

BROWSERS = 12
TERMINATIONS = 5


async def terminate_backends(database: str) -> int:
    import asyncpg

    assert POSTGRES_ADMIN_URL is not None
    connection = await asyncpg.connect(re.sub(r"^postgresql(\+asyncpg)?://", "postgresql://", POSTGRES_ADMIN_URL))
    try:
        return int(await connection.fetchval(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()) AS terminated", database) or 0)
    finally:
        await connection.close()


@pytest.fixture
async def served(settings, clock, free_port) -> AsyncIterator[str]:
    """The app served by uvicorn on a free port, in the test's own event loop (where its pool lives)."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(create_app(settings, clock=clock), host="127.0.0.1", port=free_port,
                                           log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "uvicorn stopped"
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{free_port}"
    server.should_exit = True
    await asyncio.wait_for(task, timeout=30)


async def test_the_pool_recovers_from_a_restart_under_load_without_restarting_the_app(served, backend,
                                                                                       database_url):
    if backend != "postgresql":
        pytest.skip("a PostgreSQL restart: SQLite has no server to lose")
    page = "/catalogue/innovations/424242"  # a page that asks the database (for a listing that is not there: 404)
    database = database_url.rsplit("/", 1)[1]

    statuses: Counter[int] = Counter()
    stop = asyncio.Event()

    async def browse(http: httpx.AsyncClient) -> None:
        while not stop.is_set():
            response = await http.get(page)
            statuses[response.status_code] += 1
            assert response.status_code in (404, 503), response.text[:500]
            if response.status_code == 503:
                assert response.headers["retry-after"] == "30" and "Traceback" not in response.text

    async with httpx.AsyncClient(base_url=served, timeout=30) as http:
        assert (await http.get(page)).status_code == 404
        browsers = [asyncio.create_task(browse(http)) for _ in range(BROWSERS)]
        try:
            terminated = 0
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 120  # a bound for a busy machine, not a wait (a leaking pool stalls at 30 s)
            for _ in range(TERMINATIONS):
                served_so_far = sum(statuses.values())
                while sum(statuses.values()) < served_so_far + BROWSERS:  # let the load build up again
                    failed = [task.exception() for task in browsers if task.done()]
                    assert not failed, failed
                    await asyncio.sleep(0.01)
                    assert loop.time() < deadline, f"requests stopped being answered: {dict(statuses)}"
                terminated += await terminate_backends(database)
        finally:
            stop.set()
            results = await asyncio.gather(*browsers, return_exceptions=True)
        assert [result for result in results if result is not None] == []
        assert terminated >= TERMINATIONS  # the app's connections were killed under it
        assert set(statuses) <= {404, 503} and statuses[404] > 0

        # The same app, no restart: every request is answered from the database again.
        after = [(await http.get(page)).status_code for _ in range(2 * BROWSERS)]
        assert after == [404] * (2 * BROWSERS)


async def test_connections_closed_while_the_app_is_idle_are_replaced_before_a_request_uses_them(served, backend,
                                                                                               database_url):
    """A restart at a quiet moment: no request may pay for it, since the pool hands out no connection the server
    has closed."""
    if backend != "postgresql":
        pytest.skip("a PostgreSQL restart: SQLite has no server to lose")
    page = "/catalogue/innovations/424242"
    database = database_url.rsplit("/", 1)[1]
    async with httpx.AsyncClient(base_url=served, timeout=30) as http:
        # Fill the pool with connections that have served (several at once, so more than one is pooled).
        assert {response.status_code for response in await asyncio.gather(
            *(http.get(page) for _ in range(BROWSERS)))} == {404}
        assert await terminate_backends(database) > 0
        await asyncio.sleep(0.2)  # for the server's goodbye to reach the app's event loop, not for time to pass
        statuses = [response.status_code for response in await asyncio.gather(
            *(http.get(page) for _ in range(BROWSERS)))]
        assert statuses == [404] * BROWSERS
