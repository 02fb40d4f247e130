"""The open-data publication of award notices (RULES C8, C9): each published notice's release leaves through the
outbox to the configured publication endpoint as a valid OCDS release package, once per release, retried on failure."""

from __future__ import annotations

import dataclasses
import json

import httpx
import sqlalchemy as sa

from dps.competitions.services.notices import OCDS_PUBLICATION_TOPIC
from dps.db import make_engine, make_sessionmaker
from dps.outbox.models import OutboxMessage
from dps.outbox.worker import OutboxWorker
from dps.transparency.publication import ocds_publication_consumer
from tests.factories import make_competition_world
from tests.transparency.support import assert_valid, awarded_competition

ENDPOINT = "https://notices.example/ocds/releases"


async def _drain(settings, clock, handler) -> None:
    engine = make_engine(settings.database_url)
    try:
        consumer = ocds_publication_consumer(settings, transport=httpx.MockTransport(handler))
        await OutboxWorker(make_sessionmaker(engine), {OCDS_PUBLICATION_TOPIC: consumer}, clock).drain_once()
    finally:
        await engine.dispose()


async def test_c8_each_published_notice_reaches_the_publication_endpoint_as_valid_ocds(db, passwords, clock,
                                                                                     settings):
    world = await make_competition_world(db, passwords, clock, regime="pa2023_dynamic_market")
    _, competition_id = await awarded_competition(db, passwords, clock, world=world, vat=18_000_00)
    ocid = f"{settings.ocid_prefix}-{competition_id}"
    configured = dataclasses.replace(settings, ocds_publication_url=ENDPOINT)

    # The endpoint is down: nothing is lost, the messages wait for a retry.
    await _drain(configured, clock, lambda request: httpx.Response(503))
    waiting = (await db.scalars(sa.select(OutboxMessage).where(OutboxMessage.topic == OCDS_PUBLICATION_TOPIC))).all()
    await db.commit()
    assert len(waiting) == 2 and all(m.processed_at is None and m.last_error for m in waiting)

    sent: list[tuple[str, dict]] = []

    def accept(request: httpx.Request) -> httpx.Response:
        assert str(request.url) == ENDPOINT
        sent.append((request.headers["Idempotency-Key"], json.loads(request.content)))
        return httpx.Response(201)

    clock.advance(waiting[0].available_at - clock.now())
    await _drain(configured, clock, accept)
    assert [key for key, _ in sent] == [f"{ocid}-award", f"{ocid}-contract"]
    for key, package in sent:
        assert [release["id"] for release in package["releases"]] == [key]
        assert_valid(package)
    award = sent[0][1]["releases"][0]
    assert award["tag"] == ["award"] and award["awards"][0]["suppliers"][0]["name"] == world.bidders[0].name
    done = (await db.scalars(sa.select(OutboxMessage.processed_at).where(
        OutboxMessage.topic == OCDS_PUBLICATION_TOPIC))).all()
    await db.commit()
    assert all(done)


async def test_without_a_publication_endpoint_the_api_alone_serves_the_notices(db, passwords, clock, settings):
    await awarded_competition(db, passwords, clock)

    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError("nothing is sent without an endpoint")

    await _drain(settings, clock, refuse)
    done = (await db.scalars(sa.select(OutboxMessage.processed_at).where(
        OutboxMessage.topic == OCDS_PUBLICATION_TOPIC))).all()
    await db.commit()
    assert len(done) == 2 and all(done)
