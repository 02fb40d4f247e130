"""The sealer: links committed audit events into the hash chain, in a well-defined order, with no gaps.

Writers only insert (dps.audit.services.record). One sealer at a time gives each committed event its `sequence`,
`prev_hash` and `hash`, in rounds, each round one short transaction:
- PostgreSQL: the round holds a transaction-level advisory lock (a second sealer skips its round), reads the
  watermark `pg_snapshot_xmin(pg_current_snapshot())` - every transaction whose id is below it has finished - and
  seals only events whose writer's transaction id (`xid`) is below it, ordered by (xid, id). An event with a
  smaller id that commits after a larger one simply waits until its transaction is under the watermark; nothing
  below the watermark can appear later, so the chain never needs a gap or a reordering.
- SQLite: every write transaction holds the database's write lock (BEGIN IMMEDIATE), so whatever the sealer sees
  is committed and nothing can commit under it: it seals in id order.
The design and its reasons are in docs/CONVENTIONS.md ("The audit log").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dps.audit.models import AuditEvent
from dps.audit.services import chain_head, hash_of
from dps.clock import Clock

logger = logging.getLogger("dps.audit")

# The key of the PostgreSQL advisory lock that makes the sealer one at a time ("dpsa").
SEALER_LOCK_KEY = 0x6470_7361
BATCH_SIZE = 500
SEAL_EVERY_SECONDS = 1.0

_WATERMARK = sa.text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")


async def seal_round(session: AsyncSession, now: datetime, batch_size: int = BATCH_SIZE) -> int:
    """Seal at most `batch_size` committed events in one transaction (committed here); returns how many."""
    if session.get_bind().dialect.name == "postgresql":
        if not await session.scalar(sa.select(sa.func.pg_try_advisory_xact_lock(SEALER_LOCK_KEY))):
            await session.commit()  # another sealer is at work (commit, not rollback: nothing is expired)
            return 0
        watermark = int(await session.scalar(_WATERMARK) or 0)
        pending = (sa.select(AuditEvent).where(col(AuditEvent.sequence).is_(None), col(AuditEvent.xid) < watermark)
                   .order_by(col(AuditEvent.xid), col(AuditEvent.id)))
    else:
        pending = sa.select(AuditEvent).where(col(AuditEvent.sequence).is_(None)).order_by(col(AuditEvent.id))
    # populate_existing: hash what the database holds, not an object this session loaded earlier.
    events = list((await session.scalars(pending.limit(batch_size)
                                         .execution_options(populate_existing=True))).all())
    if not events:
        await session.commit()
        return 0
    head = await chain_head(session)
    sequence, prev_hash = head.sequence, head.hash
    for event in events:
        sequence += 1
        event.hash = hash_of(event, sequence=sequence, prev_hash=prev_hash)
        event.sequence, event.prev_hash, event.sealed_at = sequence, prev_hash, now
        prev_hash = event.hash
    # One batched UPDATE by primary key; a second sealer could only collide on the unique sequence, and fail.
    await session.commit()
    return len(events)


async def seal_pending(sessions: Any, now: datetime, batch_size: int = BATCH_SIZE, max_rounds: int = 1000) -> int:
    """Seal everything that may be sealed now, round after round; returns how many events were sealed."""
    sealed = 0
    for _ in range(max_rounds):
        async with sessions() as session:
            done = await seal_round(session, now, batch_size)
        sealed += done
        if done < batch_size:
            break
    return sealed


class AuditSealer:
    """The long-running sealer of `dps worker` and of the in-process worker of `dps serve`."""

    def __init__(self, sessionmaker: Any, clock: Clock, every_seconds: float = SEAL_EVERY_SECONDS) -> None:
        self._sessionmaker = sessionmaker
        self._clock = clock
        self._every_seconds = every_seconds

    async def seal_now(self) -> int:
        return await seal_pending(self._sessionmaker, self._clock.now())

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.seal_now()
            except Exception:  # a database hiccup must not kill the sealer; the tail's age shows on /health
                logger.exception("audit sealing failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._every_seconds)
