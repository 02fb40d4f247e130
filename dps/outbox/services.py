from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from dps.outbox.models import OutboxMessage


async def enqueue(
    session: AsyncSession, *, topic: str, dedupe_key: str, payload: dict[str, Any], now: datetime
) -> OutboxMessage:
    """Add a message in the caller's transaction; it leaves the process only once that transaction commits."""
    message = OutboxMessage(
        topic=topic, dedupe_key=dedupe_key, payload=payload, created_at=now, available_at=now
    )
    session.add(message)
    await session.flush()
    return message
