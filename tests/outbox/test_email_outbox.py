"""Email leaves through the outbox: only after commit, at least once, retried with backoff when SMTP is down."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise

import sqlalchemy as sa

from dps.mail import page_link, queue_email
from dps.outbox.models import OutboxMessage
from dps.outbox.worker import retry_delay
from tests.helpers import scalar


async def test_a_committed_email_is_sent_once(db, clock, smtp_server, drain_outbox):
    await queue_email(db, to="ann@acme.example", subject="Welcome", body="Hello Ann", dedupe_key="welcome:1",
                      now=clock.now())
    await db.commit()

    first = await drain_outbox()
    second = await drain_outbox()

    assert (first.delivered, second.delivered) == (1, 0)
    assert len(smtp_server.messages) == 1
    sent = smtp_server.messages[0]
    assert sent["To"] == "ann@acme.example"
    assert sent["Subject"] == "Welcome"
    assert sent.get_content().strip() == "Hello Ann"


async def test_a_link_queued_by_a_service_arrives_as_a_full_address(db, settings, clock, smtp_server, drain_outbox):
    """Services do not know the public address; the reader must still get a link a mail client can open."""
    await queue_email(db, to="ann@acme.example", subject="Invitation",
                      body="Bid here: " + page_link("/supplier/competitions/7"), dedupe_key="invite:7", now=clock.now())
    await db.commit()

    await drain_outbox()

    assert smtp_server.messages[0].get_content().strip() == f"Bid here: {settings.base_url}/supplier/competitions/7"
    assert settings.base_url.startswith("http")


async def test_an_email_in_a_rolled_back_transaction_never_leaves(db, clock, smtp_server, drain_outbox):
    await queue_email(db, to="ann@acme.example", subject="Nope", body="x", dedupe_key="nope", now=clock.now())
    await db.rollback()
    report = await drain_outbox()
    assert report.delivered == 0 and smtp_server.messages == []


async def test_smtp_down_means_retry_later_not_loss(db, clock, drain_outbox):
    # No smtp_server fixture: nothing listens on the SMTP port.
    await queue_email(db, to="ann@acme.example", subject="Later", body="x", dedupe_key="later", now=clock.now())
    await db.commit()

    report = await drain_outbox()

    assert (report.delivered, report.failed) == (0, 1)
    message = await scalar(db, sa.select(OutboxMessage))
    assert message.processed_at is None
    assert message.attempts == 1
    assert message.last_error
    assert message.available_at == clock.now() + retry_delay(1)
    # Not due again until the backoff has passed.
    assert (await drain_outbox()).failed == 0


def test_backoff_doubles_and_is_capped():
    delays = [retry_delay(n) for n in range(1, 12)]
    assert delays[0] == timedelta(seconds=30)
    assert all(later == min(earlier * 2, timedelta(hours=1)) for earlier, later in pairwise(delays))
    assert delays[-1] == timedelta(hours=1)
