"""The migration that seals bids at rest handles the bids already in a database, both ways.

Bids of a competition still open are sealed by the upgrade (and unsealed by the downgrade); bids already opened stay
readable, with their scores (rows pointing at them, which SQLite's way of altering a table must keep).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic import command

from dps.clock import FixedClock
from dps.competitions.services import bidding, evaluating, loading
from dps.db import make_engine, make_sessionmaker
from dps.migrate import alembic_config
from dps.reference import load_reference_data
from dps.settings import normalise_database_url
from tests.conftest import BACKENDS, fresh_database_url
from tests.factories import BID_ANSWERS as ANSWERS
from tests.factories import make_competition_world, make_published_competition, signed_in

LATER = {"clarification_deadline-day": "23", "tender_deadline-day": "30"}


async def bid_rows(engine) -> dict[int, dict]:
    async with engine.connect() as connection:
        rows = (await connection.execute(sa.text("SELECT * FROM bid ORDER BY id"))).mappings().all()
    return {row["id"]: dict(row) for row in rows}


@pytest.mark.parametrize("backend", BACKENDS)
async def test_existing_bids_are_sealed_by_the_upgrade_and_unsealed_by_the_downgrade(backend, tmp_path, passwords):
    url, drop = await fresh_database_url(backend, tmp_path)
    url = normalise_database_url(url)
    config = alembic_config(url)
    engine = make_engine(url, immediate_transactions=False)
    clock = FixedClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    try:
        await asyncio.to_thread(command.upgrade, config, "heads")
        async with make_sessionmaker(engine)() as db:
            await load_reference_data(db, clock.now())
            await db.commit()
            world = await make_competition_world(db, passwords, clock)
            acme, bright, _ = world.bidders
            # One competition closes and is being evaluated (a score points at a bid); another is open.
            closed_id = await make_published_competition(db, clock, world=world)
            for party, price in ((acme, 9_100_000), (bright, 9_200_000)):
                await bidding.save_bid(db, await signed_in(db, party.user), closed_id,
                                       answers={**ANSWERS, "q1": "Closed one"}, price_pence=price, vat_pence=0,
                                       submit=True, now=clock.now())
            clock.set(datetime(2026, 1, 17, 9, 0, tzinfo=UTC))
            buyer = await signed_in(db, world.buyer.user)
            await evaluating.start_evaluation(db, buyer, closed_id, clock.now())
            evaluator = await signed_in(db, world.evaluators[0])
            await evaluating.declare_interest(db, evaluator, closed_id, conflict=False, note="", now=clock.now())
            scored = min((await bid_rows(engine)).values(), key=lambda row: row["id"])
            await evaluating.score_answer(db, evaluator, closed_id, scored["id"], "q1", score="4",
                                          justification="Good", now=clock.now())
            open_id = await make_published_competition(db, clock, world=world, **LATER)
            await bidding.save_bid(db, await signed_in(db, acme.user), open_id,
                                   answers={**ANSWERS, "q1": "Still sealed"}, price_pence=7_654_321, vat_pence=0,
                                   submit=False, now=clock.now())
            await db.commit()
        before = await bid_rows(engine)
        sealed_id = next(i for i, row in before.items() if row["competition_id"] == open_id)
        assert before[sealed_id]["organisation_id"] is None and before[sealed_id]["sealed_content"]

        await engine.dispose()  # (PostgreSQL connections cache statement plans of the old schema)
        await asyncio.to_thread(command.downgrade, config, "0010_bids_sealed_at_rest-1")
        unsealed = await bid_rows(engine)
        row = unsealed[sealed_id]
        assert "bidder_key" not in row and "sealed_content" not in row
        assert (row["organisation_id"], row["price_pence"]) == (acme.organisation.id, 7_654_321)
        assert "Still sealed" in str(row["answers"])
        assert "draft_saved" in str(row["sealed_steps"])
        assert {row["price_pence"] for row in unsealed.values() if row["competition_id"] == closed_id} == {
            9_100_000, 9_200_000}

        await engine.dispose()
        await asyncio.to_thread(command.upgrade, config, "heads")
        after = await bid_rows(engine)
        assert after[sealed_id]["organisation_id"] is None and after[sealed_id]["price_pence"] is None
        assert "Still sealed" not in str(after[sealed_id]) and after[sealed_id]["sealed_content"]
        assert (after[scored["id"]]["price_pence"], after[scored["id"]]["sealed_content"]) == (
            scored["price_pence"], None)
        async with make_sessionmaker(engine)() as db:
            own = await bidding.own_bid(db, open_id, acme.organisation.id)
            assert own is not None and (own.state, own.price_pence, own.answers) == ("draft", 7_654_321,
                                                                                      {**ANSWERS, "q1": "Still sealed"})
            assert (await bidding.own_bid(db, closed_id, bright.organisation.id)).price_pence == 9_200_000
            await db.commit()
            # The open competition's bids open at its deadline as if they had always been sealed.
            clock.set(datetime(2026, 1, 30, 12, 1, tzinfo=UTC))
            await loading.competition_for_buyer(db, await signed_in(db, world.buyer.user), open_id, clock.now())
            await db.commit()
        opened = (await bid_rows(engine))[sealed_id]
        assert (opened["organisation_id"], opened["price_pence"]) == (acme.organisation.id, 7_654_321)
    finally:
        await engine.dispose()
        if drop:
            await drop()
