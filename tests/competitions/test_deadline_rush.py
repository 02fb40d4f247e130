"""The deadline rush (C5): 50 bid submissions and revisions arrive in the last 5 seconds before the tender deadline
and 5 more in the 5 seconds after, all held in a queue behind the database until well after the deadline, then
served at once. Every one is accepted if and only if the server received it before the deadline: the received time
is taken as the request arrives, before the session, the user's load or any lock."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa

from dps.agreements.models import Category
from dps.audit.models import AuditEvent
from dps.clock import FixedClock
from dps.db import make_engine, make_sessionmaker
from dps.settings import normalise_database_url
from tests.competitions.support import bid_form
from tests.factories import make_admitted_supplier, make_competition_world, make_published_competition
from tests.helpers import csrf_token, scalar, sign_in

pytestmark = [pytest.mark.xdist_group("postgres_concurrency"), pytest.mark.usefixtures("postgres_concurrency_lock")]

DEADLINE = datetime(2026, 1, 16, 12, 0, tzinfo=UTC)  # the support form's tender deadline (GMT in January)
SUPPLIERS = 10
# 50 arrivals spread over the last 5 seconds (the last a microsecond before the deadline), then 5 over the 5 after
# (the first exactly at the deadline).
BEFORE = [DEADLINE - timedelta(seconds=5) + timedelta(milliseconds=100) * n for n in range(49)] + [
    DEADLINE - timedelta(microseconds=1)]
AFTER = [DEADLINE + timedelta(seconds=n) for n in range(5)]


@dataclass
class ReadCountingClock(FixedClock):
    """The test's clock, counting how often the app reads it: one read per request, as the request arrives."""

    reads: int = 0

    def now(self) -> datetime:
        self.reads += 1
        return super().now()


@pytest.fixture
def clock() -> ReadCountingClock:
    return ReadCountingClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))


async def _hold_the_database(database_url: str, backend: str):
    """A transaction that makes every request queue at its first database read (the signed-in user's load)."""
    engine = make_engine(normalise_database_url(database_url))  # BEGIN IMMEDIATE on SQLite: the write lock
    session = make_sessionmaker(engine)()
    if backend == "postgresql":
        await session.execute(sa.text("LOCK TABLE user_account IN ACCESS EXCLUSIVE MODE"))
    else:
        await session.execute(sa.text("SELECT 1"))
    return engine, session


async def test_every_bid_of_the_rush_is_accepted_iff_received_before_the_deadline(app, client, db, passwords, clock,
                                                                                  database_url, backend):
    world = await make_competition_world(db, passwords, clock)
    slug = await scalar(db, sa.select(Category.slug).where(Category.id == world.category_id))
    suppliers = [party.user.email for party in world.bidders]
    for n in range(SUPPLIERS - len(suppliers)):
        _, user = await make_admitted_supplier(db, passwords, clock, email=f"bids@rush{n}.example",
                                               name=f"Rush {n} Ltd", number=f"5500{n:04d}", categories=(slug,))
        suppliers.append(user.email)
    competition_id = await make_published_competition(db, clock, world=world)
    path = f"/supplier/competitions/{competition_id}/bid"

    browsers = [httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver.local")
                for _ in suppliers]
    try:
        tokens = []
        for browser, email in zip(browsers, suppliers, strict=True):
            assert (await sign_in(browser, email)).status_code == 303
            tokens.append(await csrf_token(browser, path))

        clock.set(DEADLINE - timedelta(seconds=5))
        engine, holder = await _hold_the_database(database_url, backend)
        arrivals = BEFORE + AFTER
        requests: list[asyncio.Task[httpx.Response]] = []
        try:
            for n, received in enumerate(arrivals):
                clock.set(received)
                reads = clock.reads
                who = n % len(suppliers)
                requests.append(asyncio.create_task(browsers[who].post(path, data={
                    **bid_form(price=f"{90_000 + n:,}"), "_csrf_token": tokens[who]})))
                waited = asyncio.get_running_loop().time() + 10
                while clock.reads == reads:  # the request has arrived when the app has read the time
                    assert asyncio.get_running_loop().time() < waited, f"request {n} never read the time on arrival"
                    await asyncio.sleep(0.001)
                assert clock.reads == reads + 1
            # Every request is in; none has been served. The queue clears well after the deadline.
            assert not any(request.done() for request in requests)
            clock.set(DEADLINE + timedelta(seconds=10))
        finally:
            await holder.rollback()
            await holder.close()
            await engine.dispose()
        responses = await asyncio.gather(*requests)
    finally:
        for browser in browsers:
            await browser.aclose()

    assert [r.status_code for r in responses] == [303] * len(BEFORE) + [409] * len(AFTER), [
        (n, r.status_code, r.text[-300:]) for n, r in enumerate(responses) if r.status_code >= 500][:3]
    assert all("The tender deadline passed" in r.text for r in responses[len(BEFORE):])
    # Each response says when its request was received: at its arrival, not when it left the queue.
    assert [datetime.fromisoformat(r.headers["x-received-at"]) for r in responses] == arrivals
    # Each accepted submission or revision is one audited step, at the time its request arrived; nothing later.
    steps = (await db.scalars(sa.select(AuditEvent.occurred_at).where(AuditEvent.action == "bid.sealed_step",
                                                                      AuditEvent.occurred_at >= BEFORE[0]))).all()
    await db.commit()
    assert Counter(steps) == Counter(BEFORE)

