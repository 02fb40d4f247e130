"""Outages of what the marketplace talks to: the mail server down for ten minutes, Stripe answering 500 or not at all.
Messages back off, retry and arrive when the service is back; /health names the part that is down; a message that
fails every attempt becomes a dead letter on the authority's page, retried from there (audited), never dropped.
(A dead search engine is tests/catalogue/test_search_outbox.py.)"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from dps.audit.models import AuditEvent
from dps.identity.models import Role
from dps.mail import queue_email
from dps.outbox.models import OutboxMessage
from dps.outbox.worker import DrainReport, retry_delay
from tests.conftest import RecordingSmtpHandler
from tests.factories import make_authority_user
from tests.helpers import csrf_token, scalar, sign_in


@contextlib.contextmanager
def smtp_up(port: int, handler: RecordingSmtpHandler) -> Iterator[RecordingSmtpHandler]:
    """A real SMTP server (aiosmtpd) on `port` until the block ends: then it is down again."""
    from aiosmtpd.controller import Controller

    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler
    finally:
        controller.stop()


async def an_email(db, clock, number: int) -> int:
    message = await queue_email(db, to=f"someone{number}@trust.example.nhs.uk", subject=f"Update {number}",
                                body="Your application has moved on.", dedupe_key=f"outage-{number}",
                                now=clock.now())
    await db.commit()
    return message.id or 0


async def outbox_row(db, message_id: int) -> OutboxMessage:
    message = await scalar(db, sa.select(OutboxMessage).where(OutboxMessage.id == message_id)
                           .execution_options(populate_existing=True))
    assert message is not None
    return message


async def test_mail_queued_while_smtp_is_down_for_ten_minutes_backs_off_and_arrives_once_it_is_back(
        client, db, clock, settings, smtp_port, drain_outbox):
    received = RecordingSmtpHandler()
    with smtp_up(smtp_port, received):
        first = await an_email(db, clock, 1)
        assert (await drain_outbox()).delivered == 1
        assert (await client.get("/health")).json()["smtp"] == "ok"
    assert len(received.messages) == 1

    # The mail server stops. An email queued now is tried, and tried again with growing gaps, for ten minutes.
    down_since = clock.now()
    second = await an_email(db, clock, 2)
    tries = 0
    while clock.now() - down_since < timedelta(minutes=10):
        report = await drain_outbox()
        assert (report.delivered, report.failed, report.dead) == (0, 1, 0)
        tries += 1
        message = await outbox_row(db, second)
        assert message.attempts == tries and message.processed_at is None and message.dead_at is None
        assert "Error" in (message.last_error or "")
        assert message.available_at == clock.now() + retry_delay(tries)  # 30 s, 1 min, 2 min, 4 min ...
        assert (await drain_outbox()).failed == 0  # nothing is tried again before its time
        clock.set(message.available_at)
    assert tries == 5  # at 0, 30 s, 1 min 30, 3 min 30 and 7 min 30
    health = await client.get("/health")
    assert health.status_code == 200  # still serving: degraded, not down
    assert (health.json()["status"], health.json()["smtp"]) == ("degraded", "unavailable")

    with smtp_up(smtp_port, received):
        assert (await drain_outbox()).delivered == 1
        assert (await client.get("/health")).json()["smtp"] == "ok"
    assert [str(email["Subject"]) for email in received.messages] == ["Update 1", "Update 2"]
    assert [str(email["Message-ID"]).split("@")[0] for email in received.messages] == [f"<outbox-{first}",
                                                                                       f"<outbox-{second}"]
    assert (await outbox_row(db, second)).processed_at == clock.now()
    assert (await drain_outbox()).delivered == 0  # delivered once


@pytest.fixture
def few_attempts(settings):
    return dataclasses.replace(settings, outbox_max_attempts=3)


async def test_a_message_that_fails_every_attempt_becomes_a_dead_letter_that_the_authority_retries(
        client, db, passwords, clock, settings, few_attempts, smtp_port, drain_outbox):
    message_id = await an_email(db, clock, 7)
    queued_at = clock.now()
    for attempt in range(1, 4):
        report = await drain_outbox(settings=few_attempts)
        assert (report.failed, report.dead) == (1, 1 if attempt == 3 else 0)
        clock.advance(retry_delay(attempt))
    letter = await outbox_row(db, message_id)
    assert letter.dead_at is not None and letter.attempts == 3 and letter.processed_at is None
    assert letter.first_attempt_at == queued_at and letter.last_attempt_at < clock.now()
    clock.advance(timedelta(days=2))
    assert await drain_outbox(settings=few_attempts) == DrainReport(0, 0, 0)  # kept, not retried, not dropped
    assert (await outbox_row(db, message_id)).attempts == 3
    health = (await client.get("/health")).json()
    assert health["status"] == "degraded" and health["outbox"]["dead_letters"] == 1

    evaluator = await make_authority_user(db, passwords, clock, email="eve@authority.example")
    await sign_in(client, evaluator.email)
    assert (await client.get("/authority/dead-letters")).status_code == 403
    await client.get("/logout")
    admin = await make_authority_user(db, passwords, clock, email="ada@authority.example", role=Role.AUTHORITY_ADMIN)
    await sign_in(client, admin.email)
    home = await client.get("/authority")
    assert 'href="/authority/dead-letters"' in home.text and "1 waiting" in home.text
    page = await client.get("/authority/dead-letters")
    assert page.status_code == 200
    assert "Email" in page.text and f"number {message_id}" in page.text
    assert letter.last_error and letter.last_error.split(":")[0] in page.text
    assert ">3<" in page.text.replace(" ", "").replace("\n", "")  # attempts

    token = await csrf_token(client, "/authority/dead-letters")
    retried = await client.post(f"/authority/dead-letters/{message_id}/retry", data={"_csrf_token": token})
    assert retried.status_code == 303
    assert retried.headers["location"].endswith(f"/authority/dead-letters?retried={message_id}")
    again = await client.post(f"/authority/dead-letters/{message_id}/retry", data={"_csrf_token": token})
    assert again.status_code == 404  # retried already
    event = await scalar(db, sa.select(AuditEvent).where(AuditEvent.action == "outbox.dead_letter_retried"))
    assert event.actor_user_id == admin.id and event.entity_id == str(message_id)
    assert event.before["attempts"] == 3

    received = RecordingSmtpHandler()
    with smtp_up(smtp_port, received):
        assert (await drain_outbox(settings=few_attempts)).delivered == 1
    assert [str(email["To"]) for email in received.messages] == ["someone7@trust.example.nhs.uk"]
    assert "no dead letters" in (await client.get("/authority/dead-letters")).text
    assert (await client.get("/health")).json()["outbox"] == {"backlog": "ok", "dead_letters": 0}


async def test_a_message_whose_worker_dies_every_time_becomes_a_dead_letter_too(
        db, clock, settings, few_attempts, drain_outbox):
    """A message that kills its worker (claimed, never finished, its lease run out) OUTBOX_MAX_ATTEMPTS times is not
    claimed again for ever: it is a dead letter, with the reason."""
    message_id = await an_email(db, clock, 8)
    await db.execute(sa.update(OutboxMessage).where(OutboxMessage.id == message_id)
                     .values(attempts=3, first_attempt_at=clock.now(), last_attempt_at=clock.now()))
    await db.commit()
    assert await drain_outbox(settings=few_attempts) == DrainReport(0, 0, 1)
    letter = await outbox_row(db, message_id)
    assert letter.dead_at == clock.now() and letter.attempts == 3
    assert letter.last_error and "worker stopped" in letter.last_error


async def test_health_says_the_outbox_is_behind_when_nothing_drains_it(client, db, clock):
    await an_email(db, clock, 9)
    assert (await client.get("/health")).json()["outbox"]["backlog"] == "ok"
    clock.advance(timedelta(minutes=6))
    health = (await client.get("/health")).json()
    assert health["outbox"]["backlog"] == "behind" and health["status"] == "degraded"


# --- Stripe answering 500, or not answering ---------------------------------------------------------------------


class FlakyStripe:
    """A tiny HTTP server standing in for Stripe on a bad day: it answers 500 to everything, or holds every request
    without answering."""

    def __init__(self) -> None:
        self.mode = "500"
        self.requests = 0
        self._server: asyncio.Server | None = None
        self._held: list[asyncio.StreamWriter] = []

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            while (await reader.readline()) not in (b"\r\n", b""):
                pass
            self.requests += 1
            if self.mode == "hang":
                self._held.append(writer)
                return
            body = b'{"error": {"type": "api_error", "message": "An unknown error occurred"}}'
            writer.write(b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
                         b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
            await writer.drain()
            writer.close()

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        for writer in self._held:
            writer.close()
        assert self._server is not None
        self._server.close()


@pytest.fixture
async def flaky_stripe() -> AsyncIterator[tuple[FlakyStripe, str]]:
    server = FlakyStripe()
    base = await server.start()
    yield server, base
    await server.stop()


async def test_stripe_answering_500_or_timing_out_is_retried_and_the_payment_goes_through_once_it_is_back(
        db, passwords, clock, settings, localstripe, flaky_stripe, drain_outbox):
    from dps.payments import services
    from dps.payments.models import MilestonePayment
    from dps.web.health import check_stripe
    from tests.payments.support import buyer_of, make_deal, row
    from tests.payments.test_end_to_end import intents_of, stripe_only

    flaky, flaky_base = flaky_stripe
    deal = await make_deal(db, passwords, clock)
    payment = await services.raise_milestone_payment(db, await buyer_of(db, deal), contract_id=deal.contract_id,
                                                     milestone_id=deal.milestone_ids[0], now=clock.now())
    on_a_bad_day = stripe_only(settings, clock, flaky_base, max_retries=0, timeout=0.5)

    assert (await drain_outbox(consumers=on_a_bad_day)).failed == 1
    error, attempts = await row(db, sa.select(OutboxMessage.last_error, OutboxMessage.attempts)
                                .where(OutboxMessage.topic == "stripe"))
    assert attempts == 1 and "StripeServerError" in error
    with_stripe = dataclasses.replace(settings, stripe_secret_key="sk_test_local")
    assert await check_stripe(dataclasses.replace(with_stripe, stripe_api_base=flaky_base)) == "unavailable"

    flaky.mode = "hang"
    clock.advance(retry_delay(1))
    assert (await drain_outbox(consumers=on_a_bad_day)).failed == 1
    error, attempts = await row(db, sa.select(OutboxMessage.last_error, OutboxMessage.attempts)
                                .where(OutboxMessage.topic == "stripe"))
    assert attempts == 2 and "StripeConnectionError" in error
    assert flaky.requests >= 2
    assert (await row(db, sa.select(MilestonePayment.state).where(MilestonePayment.id == payment.id)))[0] == \
        "requested"

    clock.advance(retry_delay(2))  # Stripe is back
    assert (await drain_outbox(consumers=stripe_only(settings, clock, localstripe))).delivered == 1
    state, intent_id = await row(db, sa.select(MilestonePayment.state, MilestonePayment.stripe_payment_intent_id)
                                 .where(MilestonePayment.id == payment.id))
    assert state == "awaiting_payment" and intent_id
    customer = (await row(db, sa.select(sa.text("stripe_customer_id")).select_from(sa.table("stripe_customer"))))[0]
    assert [intent["id"] for intent in await intents_of(localstripe, customer)] == [intent_id]
    assert await check_stripe(dataclasses.replace(with_stripe, stripe_api_base=localstripe)) == "ok"
