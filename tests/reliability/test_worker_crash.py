"""`kill -9` of `dps worker` in the middle of a batch. Each email is marked sent as soon as the mail server took it,
so the worker's death re-sends at most the one it was sending, and with the same Message-ID (the mail system drops
the copy); the rest of the batch stays claimed until the lease runs out, then another worker sends it, once.
(The search index consumer applies a change only if its index_version is newer, so a replay changes nothing:
tests/catalogue/test_search_outbox.py.)"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import threading
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from dps.clock import SystemClock
from dps.mail import queue_email
from dps.outbox.models import OutboxMessage
from tests.helpers import scalar
from tests.test_cli import DPS

EMAILS = 10
SENT_BEFORE_THE_KILL = 3
STARTUP_SECONDS = 120  # a bound for a busy machine, not a wait


class StallingSmtpHandler:
    """A mail server that takes the first emails, then receives the next one and never answers it (the worker is
    killed while it waits). Every email it received is kept, answered or not."""

    def __init__(self, answer: int) -> None:
        self.answer = answer
        self.received: list[Any] = []
        self.stalled = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd's name
        from email import message_from_bytes
        from email.policy import default

        self.received.append(message_from_bytes(envelope.content, policy=default))
        if len(self.received) > self.answer and not self.release.is_set():
            self.stalled.set()
            while not self.release.is_set():
                await asyncio.sleep(0.01)
        return "250 Message accepted for delivery"


async def test_a_worker_killed_mid_batch_leaves_the_rest_to_be_sent_once_after_its_lease(
        db, clock, settings, smtp_port, drain_outbox):
    from aiosmtpd.controller import Controller

    messages = [await queue_email(db, to=f"person{number}@trust.example.nhs.uk", subject=f"Notice {number}",
                                  body="Something happened.", dedupe_key=f"crash-{number}", now=clock.now())
                for number in range(EMAILS)]
    await db.commit()
    ids = [message.id for message in messages]

    handler = StallingSmtpHandler(answer=SENT_BEFORE_THE_KILL)
    controller = Controller(handler, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    env = {**os.environ, "DPS_ENV": "test", "DATABASE_URL": settings.database_url,
           "DPS_VAR_DIR": str(settings.var_dir), "SMTP_URL": settings.smtp_url}
    worker = subprocess.Popen([DPS, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STARTUP_SECONDS
        while not handler.stalled.is_set():
            assert worker.poll() is None, "dps worker exited"
            assert loop.time() < deadline, "dps worker never sent the batch"
            await asyncio.sleep(0.05)
        killed_at = SystemClock().now()
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        handler.release.set()

    try:
        rows = (await db.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)
                                 .execution_options(populate_existing=True))).all()
        await db.commit()
        sent = [row.id for row in rows if row.processed_at is not None]
        assert sent == ids[:SENT_BEFORE_THE_KILL]  # each marked as soon as it was sent
        held = [row for row in rows if row.processed_at is None]
        assert len(held) == EMAILS - SENT_BEFORE_THE_KILL
        assert all(row.attempts == 1 and row.available_at > killed_at for row in held)  # claimed, under lease

        # Another worker: nothing to do while the dead worker's lease holds ...
        clock.set(killed_at)
        assert (await drain_outbox()).delivered == 0
        assert len(handler.received) == SENT_BEFORE_THE_KILL + 1
        # ... and once it has run out, the rest of the batch is sent.
        clock.advance(timedelta(seconds=settings.outbox_lease_seconds))
        assert (await drain_outbox()).delivered == EMAILS - SENT_BEFORE_THE_KILL
        assert (await drain_outbox()).delivered == 0
    finally:
        controller.stop()

    message_ids = [str(email["Message-ID"]) for email in handler.received]
    assert sorted(set(message_ids)) == sorted(f"<outbox-{id_}@127.0.0.1>" for id_ in ids)
    # The email in flight at the kill reached the server and is sent again with the same Message-ID, so the mail
    # system keeps one; every other email was sent exactly once.
    in_flight = f"<outbox-{ids[SENT_BEFORE_THE_KILL]}@127.0.0.1>"
    assert message_ids.count(in_flight) == 2
    assert all(message_ids.count(other) == 1 for other in set(message_ids) - {in_flight})
    assert await scalar(db, sa.select(sa.func.count()).select_from(OutboxMessage)
                        .where(OutboxMessage.processed_at.is_(None))) == 0
