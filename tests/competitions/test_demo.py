"""The demo data holds a competition in each state for Guy's and St Thomas', and every page of each renders."""

from __future__ import annotations

import sqlalchemy as sa

from dps.competitions.models import Competition
from dps.competitions.rules import CompetitionState
from dps.db import make_engine, make_sessionmaker
from dps.demo import DEMO_PASSWORD
from dps.outbox.models import OutboxMessage
from dps.wiring import seed_demo_data
from tests.helpers import sign_in

BUYER_PAGES = ("", "/edit", "/clarifications", "/moderation", "/ranking", "/letters", "/confirm")


async def test_demo_competitions_in_every_state_and_their_pages(client, db, settings):
    engine = make_engine(settings.database_url)
    try:
        await seed_demo_data(make_sessionmaker(engine), settings, only_if_empty=False)
        await seed_demo_data(make_sessionmaker(engine), settings, only_if_empty=False)  # idempotent
    finally:
        await engine.dispose()
    rows = (await db.execute(sa.select(Competition.id, Competition.state))).all()
    unsent = await db.scalar(sa.select(sa.func.count()).select_from(OutboxMessage).where(
        OutboxMessage.processed_at.is_(None), OutboxMessage.dedupe_key.like("email:competition:%")))
    await db.commit()
    states = [state for _, state in rows]
    assert sorted(states) == sorted(CompetitionState)  # one of each, not two
    assert unsent == 0  # demo history does not email anyone

    team = (("buyer@gstt.example.nhs.uk", BUYER_PAGES), ("evaluator@gstt.example.nhs.uk", ("/evaluation",)))
    for email, pages in team:
        client.cookies.clear()
        assert (await sign_in(client, email, DEMO_PASSWORD)).status_code == 303
        index = await client.get("/buyer/competitions")
        assert index.status_code == 200 and index.text.count("/buyer/competitions/") >= len(rows)
        for competition_id, state in rows:
            for page in pages:
                response = await client.get(f"/buyer/competitions/{competition_id}{page}")
                assert response.status_code in (200, 409), (email, state, page, response.text[-500:])
    client.cookies.clear()
    assert (await sign_in(client, "supplier.admin@heartflow.example", DEMO_PASSWORD)).status_code == 303
    inbox = await client.get("/supplier/competitions")
    assert inbox.status_code == 200 and "CT-derived FFR analysis for chest pain" in inbox.text
    for competition_id, state in rows:
        for page in ("", "/bid"):
            response = await client.get(f"/supplier/competitions/{competition_id}{page}")
            assert response.status_code in (200, 404), (state, page, response.text[-500:])
