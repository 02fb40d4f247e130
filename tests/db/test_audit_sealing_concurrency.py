"""Concurrent writers never wait on a shared row, and the sealer still chains every committed event, in one
well-defined order, with no gap: on PostgreSQL an event with a smaller id often commits after a larger one.

These tests open some 45 PostgreSQL connections at once, so they run one at a time (see tests/conftest.py)."""

from __future__ import annotations

import asyncio
import random

import pytest
import sqlalchemy as sa

from dps.audit.models import AuditEvent
from dps.audit.sealing import seal_round
from dps.audit.services import Actor, record, verify_chain
from dps.db import make_engine, make_sessionmaker
from dps.settings import normalise_database_url
from tests.helpers import seal_audit_log

pytestmark = [pytest.mark.xdist_group("postgres_concurrency"), pytest.mark.usefixtures("postgres_concurrency_lock")]

WRITERS = 40


async def _chain(db) -> list[tuple[int, int | None, int]]:
    """(sequence, xid, id) of every sealed event, in chain order."""
    rows = (await db.execute(sa.select(AuditEvent.sequence, AuditEvent.xid, AuditEvent.id)
                             .where(AuditEvent.sequence.is_not(None)).order_by(AuditEvent.sequence))).all()
    await db.commit()
    return [(int(s), x, int(i)) for s, x, i in rows]


def _in_sealing_order(chain: list[tuple[int, int | None, int]]) -> bool:
    keys = [(xid or 0, event_id) for _, xid, event_id in chain]
    return keys == sorted(keys)


async def test_out_of_order_commits_are_sealed_in_transaction_order_without_gaps(database_url, backend, db, clock):
    if backend != "postgresql":
        pytest.skip("SQLite serialises its writers: nothing commits out of order")
    engine = make_engine(normalise_database_url(database_url), pool_size=20, max_overflow=0)
    sessions = make_sessionmaker(engine)
    count = 12
    writers = [sessions() for _ in range(count)]
    try:
        # Transaction ids are taken in the reverse order of the event ids the inserts then get.
        for writer in reversed(writers):
            await writer.execute(sa.text("SELECT pg_current_xact_id()"))
        events = []
        for n, writer in enumerate(writers):
            events.append(await record(writer, actor=Actor.system("race"), action="race.ran", entity_type="race",
                                       entity_id=n, now=clock.now()))
            await writer.flush()  # the insert now, in this order: each event's id and transaction id are known
        ids = [event.id for event in events]
        assert ids == sorted(ids) and [e.xid for e in events] == sorted((e.xid for e in events), reverse=True)

        committed: set[int] = set()
        for n in random.Random(19).sample(range(count), count):
            await writers[n].commit()
            committed.add(ids[n])
            async with sessions() as sealer:
                await seal_round(sealer, clock.now())
            chain = await _chain(db)
            raced = [event_id for _, _, event_id in chain if event_id in ids]
            # Only committed events are sealed, and always a prefix of the (transaction id, event id) order:
            # an event committed late is never skipped and never chained out of order.
            assert set(raced) <= committed
            assert raced == ids[::-1][:len(raced)]
            assert [sequence for sequence, _, _ in chain] == list(range(1, len(chain) + 1))

        await seal_audit_log(db, clock.now())
        chain = await _chain(db)
        assert [event_id for _, _, event_id in chain if event_id in ids] == ids[::-1]
        assert _in_sealing_order(chain) and await verify_chain(db) is None
    finally:
        for writer in writers:
            await writer.close()
        await engine.dispose()


async def test_concurrent_writers_with_the_sealer_running_leave_no_gap(database_url, backend, db, clock):
    pool = {"pool_size": WRITERS + 5, "max_overflow": 0} if backend == "postgresql" else {}
    engine = make_engine(normalise_database_url(database_url), **pool)
    sessions = make_sessionmaker(engine)
    start, stop = asyncio.Event(), asyncio.Event()
    rng = random.Random(7)
    pauses = [rng.choice([0, 0, 1, 3]) for _ in range(WRITERS)]

    async def write(number: int) -> None:
        async with sessions() as session:
            await session.execute(sa.select(1))
            await session.commit()
            await start.wait()
            await record(session, actor=Actor.system("race"), action="race.ran", entity_type="race",
                         entity_id=number, now=clock.now())
            for _ in range(pauses[number]):  # let others commit in between: commit order differs from id order
                await asyncio.sleep(0)
            await session.commit()

    async def seal_continuously() -> None:
        async with sessions() as session:
            while not stop.is_set():
                await seal_round(session, clock.now())
                await asyncio.sleep(0)

    try:
        sealer = asyncio.create_task(seal_continuously())
        writers = [asyncio.create_task(write(n)) for n in range(WRITERS)]
        await asyncio.sleep(0)
        start.set()
        await asyncio.gather(*writers)
        stop.set()
        await sealer
    finally:
        await engine.dispose()

    await seal_audit_log(db, clock.now())
    chain = await _chain(db)
    raced = await db.scalar(sa.select(sa.func.count()).where(AuditEvent.entity_type == "race"))
    total = await db.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
    await db.commit()
    assert raced == WRITERS and len(chain) == total
    assert [sequence for sequence, _, _ in chain] == list(range(1, total + 1))
    assert _in_sealing_order(chain)
    assert await verify_chain(db) is None
