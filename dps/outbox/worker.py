"""Drains the outbox at least once per message. Consumers must be idempotent (the dedupe key tells them apart).

A batch is claimed with a short lease (and SKIP LOCKED on PostgreSQL, so several workers share the work),
the transaction ends, and only then does the consumer talk to the outside world: a slow SMTP server or
Stripe never holds a database lock. A consumer that can take a batch (a `BatchConsumer`, the search index) gets
all of its topic's claimed messages in one call; the delivered messages of a batch are marked done in one
statement.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol, runtime_checkable

import sqlalchemy as sa
from sqlmodel import col

from dps.clock import Clock
from dps.outbox.models import OutboxMessage

logger = logging.getLogger("dps.outbox")

Consumer = Callable[[OutboxMessage], Awaitable[None]]


@runtime_checkable
class BatchConsumer(Protocol):
    """A consumer that also takes several messages at once."""

    async def __call__(self, message: OutboxMessage) -> None: ...

    async def batch(self, messages: Sequence[OutboxMessage]) -> list[str | None]:
        """Deliver these messages; one entry each: None if delivered, else why it failed (retried later)."""
        ...

LEASE = timedelta(minutes=5)
MAX_BACKOFF = timedelta(hours=1)
MAX_ATTEMPTS = 10
STOPPED_MIDWAY = "no outcome recorded: the worker stopped while delivering it (its lease ran out)"


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff: 30 s, 1 min, 2 min ... capped at an hour."""
    return min(timedelta(seconds=30 * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)


@dataclass(frozen=True)
class DrainReport:
    delivered: int
    failed: int
    dead: int = 0


class OutboxWorker:
    def __init__(self, sessionmaker: Any, consumers: Mapping[str, Consumer], clock: Clock,
                 batch_size: int = 50, bulk_batch_size: int = 500, *, max_attempts: int = MAX_ATTEMPTS,
                 lease: timedelta = LEASE) -> None:
        """`batch_size` messages are claimed at a time for consumers that take one message at a time (each may
        talk to a slow server within the lease); `bulk_batch_size` for those that take a batch (one call).
        A message that failed `max_attempts` times becomes a dead letter; `lease` is how long a claim holds."""
        self._sessionmaker = sessionmaker
        self._consumers = consumers
        self._clock = clock
        self._batch_size = batch_size
        self._bulk_batch_size = bulk_batch_size
        self._max_attempts = max_attempts
        self._lease = lease

    @classmethod
    def for_settings(cls, sessionmaker: Any, consumers: Mapping[str, Consumer], clock: Clock,
                     settings: Any) -> OutboxWorker:
        """A worker with the settings' OUTBOX_MAX_ATTEMPTS and OUTBOX_LEASE_SECONDS."""
        return cls(sessionmaker, consumers, clock, max_attempts=settings.outbox_max_attempts,
                   lease=timedelta(seconds=settings.outbox_lease_seconds))

    async def _claim(self) -> tuple[list[OutboxMessage], int]:
        """The messages this worker now holds for `lease`, and how many it found dead instead: claimed
        `max_attempts` times already and never finished (each time a worker died delivering it)."""
        now = self._clock.now()
        bulk = [topic for topic, consumer in self._consumers.items() if isinstance(consumer, BatchConsumer)]
        single = [topic for topic in self._consumers if topic not in bulk]
        async with self._sessionmaker() as session:
            messages: list[OutboxMessage] = []
            for topics, limit in ((single, self._batch_size), (bulk, self._bulk_batch_size)):
                if not topics:
                    continue
                query = (
                    sa.select(OutboxMessage)
                    .where(col(OutboxMessage.processed_at).is_(None), col(OutboxMessage.dead_at).is_(None),
                           col(OutboxMessage.available_at) <= now, col(OutboxMessage.topic).in_(topics))
                    .order_by(col(OutboxMessage.id))
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
                messages += (await session.scalars(query)).all()
            claimed: list[OutboxMessage] = []
            dead = 0
            for message in messages:
                if message.attempts >= self._max_attempts:
                    message.dead_at = now
                    message.last_error = message.last_error or STOPPED_MIDWAY
                    logger.error("outbox message %s (%s) is a dead letter after %s attempts", message.id,
                                 message.topic, message.attempts)
                    dead += 1
                    continue
                message.attempts += 1
                message.available_at = now + self._lease
                message.first_attempt_at = message.first_attempt_at or now
                message.last_attempt_at = now
                claimed.append(message)
            await session.commit()
            return claimed, dead

    async def _finish(self, message: OutboxMessage, error: str | None) -> bool:
        """Record the outcome of one delivery; True if the message is now a dead letter."""
        now = self._clock.now()
        dead = error is not None and message.attempts >= self._max_attempts
        values: dict[str, Any] = (
            {"processed_at": now, "last_error": None} if error is None
            else {"last_error": error[:2000], "dead_at": now} if dead
            else {"last_error": error[:2000], "available_at": now + retry_delay(message.attempts)}
        )
        if error is not None:
            log = logger.error if dead else logger.warning
            log("outbox message %s (%s) failed%s: %s", message.id, message.topic,
                f" {message.attempts} times, now a dead letter" if dead else "", error)
        async with self._sessionmaker() as session:
            await session.execute(sa.update(OutboxMessage).where(col(OutboxMessage.id) == message.id).values(**values))
            await session.commit()
        return dead

    async def _finish_delivered(self, message_ids: list[int]) -> None:
        if not message_ids:
            return
        async with self._sessionmaker() as session:
            await session.execute(sa.update(OutboxMessage).where(col(OutboxMessage.id).in_(message_ids))
                                  .values(processed_at=self._clock.now(), last_error=None))
            await session.commit()

    async def drain_once(self) -> DrainReport:
        """Claim a batch and deliver it: batch consumers once per topic (the delivered messages marked done in one
        statement), the others one message at a time, each marked done as soon as it is delivered, so a worker
        killed midway re-sends at most the message it was sending."""
        messages, dead = await self._claim()
        by_topic: dict[str, list[OutboxMessage]] = {}
        for message in messages:
            by_topic.setdefault(message.topic, []).append(message)
        delivered = failed = 0
        for topic, group in by_topic.items():
            consumer = self._consumers[topic]
            if isinstance(consumer, BatchConsumer) and len(group) > 1:
                try:
                    errors = await consumer.batch(group)
                except Exception as error:  # the whole batch is retried later; the reason is kept
                    errors = [f"{type(error).__name__}: {error}"] * len(group)
                done = [message.id or 0 for message, problem in zip(group, errors, strict=True) if problem is None]
                await self._finish_delivered(done)
                delivered += len(done)
                for message, problem in zip(group, errors, strict=True):
                    if problem is not None:
                        failed += 1
                        dead += await self._finish(message, problem)
                continue
            for message in group:
                try:
                    await consumer(message)
                except Exception as error:  # any failure is retried later; the reason is kept
                    failed += 1
                    dead += await self._finish(message, f"{type(error).__name__}: {error}")
                else:
                    delivered += 1
                    await self._finish(message, None)
        return DrainReport(delivered, failed, dead)

    async def drain_all(self, max_rounds: int = 100) -> DrainReport:
        """Drain until nothing is due (tests and the CLI); stops after `max_rounds` batches."""
        delivered = failed = dead = 0
        for _ in range(max_rounds):
            report = await self.drain_once()
            delivered, failed, dead = delivered + report.delivered, failed + report.failed, dead + report.dead
            if report.delivered + report.failed + report.dead == 0:
                break
        return DrainReport(delivered, failed, dead)

    async def run(self, stop: asyncio.Event, idle_seconds: float = 2.0) -> None:
        """The long-running loop of `dps worker` and of the in-process worker."""
        while not stop.is_set():
            try:
                report = await self.drain_once()
            except Exception:  # a database hiccup must not kill the worker
                logger.exception("outbox drain failed")
                report = DrainReport(0, 0)
            if report.delivered + report.failed + report.dead == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=idle_seconds)
