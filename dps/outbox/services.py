from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dps.audit.services import Actor, record
from dps.errors import NotFound
from dps.outbox.models import OutboxMessage


async def enqueue(
    session: AsyncSession, *, topic: str, dedupe_key: str, payload: dict[str, Any], now: datetime
) -> OutboxMessage:
    """Add a message in the caller's transaction; it leaves the process only once that transaction commits."""
    message = OutboxMessage(
        topic=topic, dedupe_key=dedupe_key, payload=payload, created_at=now, available_at=now
    )
    session.add(message)  # inserted at the transaction's next flush, in one INSERT with its other messages
    return message


async def dead_letters(session: AsyncSession) -> list[OutboxMessage]:
    """Messages that failed OUTBOX_MAX_ATTEMPTS times and wait for a person, the most recent first."""
    query = (sa.select(OutboxMessage).where(col(OutboxMessage.dead_at).is_not(None))
             .order_by(col(OutboxMessage.dead_at).desc(), col(OutboxMessage.id).desc()))
    return list((await session.scalars(query)).all())


# The two lookups /health makes on every call. Each reads only one of the outbox's partial indexes, never the
# processed messages the outbox keeps (tests/outbox/test_outbox_indexes.py plans these very statements).
DEAD_LETTER_COUNT = (sa.select(sa.func.count()).select_from(OutboxMessage)
                     .where(col(OutboxMessage.dead_at).is_not(None)))
OLDEST_WAITING_DUE = (sa.select(sa.func.min(OutboxMessage.available_at))
                      .where(col(OutboxMessage.processed_at).is_(None), col(OutboxMessage.dead_at).is_(None)))


async def dead_letter_count(session: AsyncSession) -> int:
    return int(await session.scalar(DEAD_LETTER_COUNT) or 0)


async def oldest_waiting_due(session: AsyncSession) -> datetime | None:
    """When the longest-waiting message not yet processed (nor dead) became due; None when none waits."""
    return await session.scalar(OLDEST_WAITING_DUE)


async def retry_dead_letter(session: AsyncSession, message_id: int, *, actor: Actor, now: datetime) -> OutboxMessage:
    """Give a dead letter another round of attempts, due now; audited. The command ends the transaction."""
    message = await session.scalar(sa.select(OutboxMessage).where(col(OutboxMessage.id) == message_id)
                                   .with_for_update())
    if message is None or message.dead_at is None:
        raise NotFound("No such dead letter: it may have been retried already")
    before = {"attempts": message.attempts, "dead_at": message.dead_at.isoformat(),
              "last_error": message.last_error}
    message.dead_at = None
    message.attempts = 0
    message.available_at = now
    await record(session, actor=actor, action="outbox.dead_letter_retried", entity_type="outbox_message",
                 entity_id=message.id, now=now, before=before, after={"topic": message.topic, "attempts": 0})
    await session.commit()
    return message
