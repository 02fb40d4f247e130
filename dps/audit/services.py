"""Writing and verifying the audit chain. Callers pass their open session: the event commits with their change."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dps.audit.chain import event_hash
from dps.audit.models import GENESIS_HASH, AuditChainHead, AuditEvent
from dps.db import table_of


@dataclass(frozen=True)
class Actor:
    """Who made a change: a signed-in user, or a named part of the system (seed, worker, clock)."""

    user_id: int | None
    label: str

    @classmethod
    def system(cls, part: str) -> Actor:
        return cls(user_id=None, label=f"system:{part}")


def _plain(value: dict[str, Any] | None) -> dict[str, Any] | None:
    # Round-trip through JSON so the hash is computed over exactly what the database will give back.
    return None if value is None else json.loads(json.dumps(value, default=str))


async def record(
    session: AsyncSession,
    *,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: int | str,
    now: datetime,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    head_table = table_of(AuditChainHead)
    claimed = await session.execute(
        sa.update(head_table)
        .where(head_table.c.id == 1)
        .values(last_sequence=head_table.c.last_sequence + 1)
        .returning(head_table.c.last_sequence, head_table.c.last_hash)
    )
    row = claimed.first()
    if row is None:  # first event ever: create the head row
        session.add(AuditChainHead(id=1, last_sequence=1, last_hash=GENESIS_HASH))
        await session.flush()
        sequence, prev_hash = 1, GENESIS_HASH
    else:
        sequence, prev_hash = row
    event = AuditEvent(
        sequence=sequence,
        occurred_at=now,
        actor_user_id=actor.user_id,
        actor_label=actor.label,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        before=_plain(before),
        after=_plain(after),
        prev_hash=prev_hash,
        hash="",
    )
    event.hash = event_hash(
        sequence=sequence,
        occurred_at=now,
        actor_user_id=actor.user_id,
        actor_label=actor.label,
        action=action,
        entity_type=entity_type,
        entity_id=event.entity_id,
        before=event.before,
        after=event.after,
        prev_hash=prev_hash,
    )
    session.add(event)
    await session.execute(sa.update(head_table).where(head_table.c.id == 1).values(last_hash=event.hash))
    await session.flush()
    return event


@dataclass(frozen=True)
class ChainProblem:
    sequence: int
    event_id: int
    reason: str


async def verify_chain(session: AsyncSession, batch_size: int = 1000) -> ChainProblem | None:
    """Walk the chain in order; return the first event that does not hash or link correctly."""
    prev_hash = GENESIS_HASH
    expected_sequence = 1
    last_seen = 0
    while True:
        events = (
            await session.scalars(
                sa.select(AuditEvent).where(col(AuditEvent.sequence) > last_seen)
                    .order_by(col(AuditEvent.sequence)).limit(batch_size)
            )
        ).all()
        if not events:
            return None
        for event in events:
            if event.sequence != expected_sequence:
                return ChainProblem(event.sequence, event.id or 0, f"sequence gap: expected {expected_sequence}")
            if event.prev_hash != prev_hash:
                return ChainProblem(event.sequence, event.id or 0, "does not link to the previous event's hash")
            recomputed = event_hash(
                sequence=event.sequence,
                occurred_at=event.occurred_at,
                actor_user_id=event.actor_user_id,
                actor_label=event.actor_label,
                action=event.action,
                entity_type=event.entity_type,
                entity_id=event.entity_id,
                before=event.before,
                after=event.after,
                prev_hash=event.prev_hash,
            )
            if recomputed != event.hash:
                return ChainProblem(event.sequence, event.id or 0, "content does not match its hash")
            prev_hash = event.hash
            expected_sequence += 1
            last_seen = event.sequence


@dataclass(frozen=True)
class AuditFilter:
    entity_type: str | None = None
    entity_id: str | None = None
    actor: str | None = None  # matches the actor's label (email or system part), case-insensitive substring
    since: datetime | None = None
    until: datetime | None = None


def _filtered(query: Any, criteria: AuditFilter) -> Any:
    if criteria.entity_type:
        query = query.where(col(AuditEvent.entity_type) == criteria.entity_type)
    if criteria.entity_id:
        query = query.where(col(AuditEvent.entity_id) == criteria.entity_id)
    if criteria.actor:
        query = query.where(sa.func.lower(col(AuditEvent.actor_label)).contains(criteria.actor.lower()))
    if criteria.since:
        query = query.where(col(AuditEvent.occurred_at) >= criteria.since)
    if criteria.until:
        query = query.where(col(AuditEvent.occurred_at) < criteria.until)
    return query


async def find_events(session: AsyncSession, criteria: AuditFilter, *, limit: int = 50,
                      offset: int = 0) -> tuple[list[AuditEvent], int]:
    """Events matching the filter, newest first, and how many match in all."""
    total = await session.scalar(_filtered(sa.select(sa.func.count()).select_from(AuditEvent), criteria))
    events = (await session.scalars(_filtered(sa.select(AuditEvent), criteria)
                                    .order_by(col(AuditEvent.sequence).desc()).limit(limit).offset(offset))).all()
    return list(events), int(total or 0)


async def stream_events(session: AsyncSession, criteria: AuditFilter, batch_size: int = 1000) -> Any:
    """Every matching event, oldest first, in batches (for exports)."""
    last = 0
    while True:
        batch = (await session.scalars(_filtered(sa.select(AuditEvent), criteria)
                                       .where(col(AuditEvent.sequence) > last)
                                       .order_by(col(AuditEvent.sequence)).limit(batch_size))).all()
        if not batch:
            return
        for event in batch:
            yield event
        last = batch[-1].sequence


async def entity_types(session: AsyncSession) -> list[str]:
    return list((await session.scalars(sa.select(col(AuditEvent.entity_type)).distinct()
                                       .order_by(col(AuditEvent.entity_type)))).all())
