"""No overspend under any interleaving: 50 commitments race for one allocation over real connections and real
transactions, on SQLite (writers serialised by BEGIN IMMEDIATE) and PostgreSQL (row locks, READ COMMITTED).

Each race holds some 50 PostgreSQL connections (the server allows 100), so these tests run one at a time: in one
xdist group (the suite runs with `--dist loadgroup`), and holding the suite's PostgreSQL advisory lock, which keeps
apart the races of test runs that share the server."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from dps.db import make_engine, make_sessionmaker
from dps.errors import Conflict
from dps.funds import services
from dps.funds.models import Allocation, Commitment
from dps.funds.rules import Refused
from dps.settings import normalise_database_url
from tests.factories import ACTOR, icb, make_allocation, make_fund
from tests.helpers import count_rows

ATTEMPTS = 50
ALLOCATED = 100_000  # £1,000.00
AMOUNT = 7_000  # £70.00: exactly 14 fit

pytestmark = [pytest.mark.xdist_group("postgres_concurrency"), pytest.mark.usefixtures("postgres_concurrency_lock")]


@pytest.mark.parametrize("friendly_check", [True, False], ids=["with-precheck", "update-alone"])
async def test_fifty_concurrent_commitments_never_overspend(database_url, backend, db, clock, monkeypatch,
                                                            friendly_check):
    fund = await make_fund(db, clock)
    allocation_id = await make_allocation(db, clock, fund=fund, pounds=ALLOCATED // 100)
    buyer_id = (await icb(db, ods="QMF")).id
    if not friendly_check:
        # Without the read-then-check, only the conditional UPDATE stands between the racers and an overspend.
        monkeypatch.setattr(services, "check_commit", lambda balance, pence, label: balance)

    # The app's own engine settings (BEGIN IMMEDIATE on SQLite); on PostgreSQL one connection per racer.
    pool = {"pool_size": ATTEMPTS, "max_overflow": 0} if backend == "postgresql" else {}
    engine = make_engine(normalise_database_url(database_url), **pool)
    sessions = make_sessionmaker(engine)
    start = asyncio.Event()
    done = asyncio.Event()

    async def attempt(number: int) -> bool:
        async with sessions() as session:
            await session.execute(sa.select(1))  # connection checked out and ready before the start
            await session.rollback()
            await start.wait()
            try:
                await services.commit_funds(session, buyer_org_id=buyer_id, category_id=None,
                                            lines=[(allocation_id, AMOUNT)], total_pence=AMOUNT,
                                            reference=f"RACE-{number}", actor=ACTOR, now=clock.now())
                await session.commit()
                return True
            except (Refused, Conflict):
                await session.rollback()
                return False

    async def watch() -> int:
        """Reads the allocation over and over while the race runs; returns the lowest remaining seen."""
        lowest = ALLOCATED
        async with sessions() as session:
            while not done.is_set():
                remaining = Allocation.allocated_pence - Allocation.committed_pence - Allocation.spent_pence
                row = (await session.execute(sa.select(remaining).where(Allocation.id == allocation_id))).one()
                await session.rollback()
                lowest = min(lowest, row[0])
                await asyncio.sleep(0)
        return lowest

    racers = [asyncio.create_task(attempt(number)) for number in range(ATTEMPTS)]
    watcher = asyncio.create_task(watch())
    try:
        await asyncio.sleep(0.05)
        start.set()
        results = await asyncio.gather(*racers)
        done.set()
        lowest = await watcher
    finally:
        # However the race ended, every task has finished, and so given its connection back, before the pool is
        # closed: dispose() leaves a checked-out connection open, and a watcher left running would never stop.
        unfinished = [task for task in (*racers, watcher) if not task.done()]
        for task in unfinished:
            task.cancel()
        await asyncio.gather(*unfinished, return_exceptions=True)
        await engine.dispose()

    expected = ALLOCATED // AMOUNT
    assert sum(results) == expected
    assert await count_rows(db, Commitment) == expected
    remaining = ALLOCATED - expected * AMOUNT
    row = (await db.execute(sa.select(Allocation.committed_pence, Allocation.allocated_pence)
                            .where(Allocation.id == allocation_id))).one()
    await db.commit()
    assert row == (expected * AMOUNT, ALLOCATED)
    assert lowest >= remaining >= 0
    assert await services.check_books(db) == []
    await db.commit()
