"""Writing and verifying the audit chain. Callers pass their open session: the event commits with their change;
the sealer (dps.audit.sealing) chains it afterwards."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dps.audit.chain import event_hash
from dps.audit.models import GENESIS_HASH, AuditCheckpoint, AuditEvent


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
    """Append one event to the log, unsealed: an insert of its own row and nothing else, so concurrent writers never
    wait for one another here. On PostgreSQL the row takes the writer's transaction id from the column's default
    (`pg_current_xact_id()`); the sealer (dps.audit.sealing) gives it its place in the hash chain once committed."""
    event = AuditEvent(
        occurred_at=now,
        actor_user_id=actor.user_id,
        actor_label=actor.label,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        before=_plain(before),
        after=_plain(after),
    )
    # No flush here: the row goes out with the transaction's next flush, in one INSERT with its other events.
    session.add(event)
    return event


def hash_of(event: AuditEvent, *, sequence: int, prev_hash: str) -> str:
    """The event's hash at `sequence` after `prev_hash`: its content and its place in the chain."""
    return event_hash(
        sequence=sequence,
        occurred_at=event.occurred_at,
        actor_user_id=event.actor_user_id,
        actor_label=event.actor_label,
        action=event.action,
        entity_type=event.entity_type,
        entity_id=event.entity_id,
        before=event.before,
        after=event.after,
        prev_hash=prev_hash,
    )


@dataclass(frozen=True)
class ChainHead:
    """The last sealed event: how many events the chain holds and the hash it ends in."""

    sequence: int
    hash: str

    def __str__(self) -> str:
        return f"{self.sequence}:{self.hash}"

    @classmethod
    def parse(cls, text: str) -> ChainHead:
        """`SEQUENCE:HASH`, as `dps audit checkpoint` prints it and the publication page shows it."""
        sequence, _, digest = text.strip().partition(":")
        if not sequence.isascii() or not sequence.isdigit() or len(digest) != 64:
            raise ValueError("a checkpoint looks like 1234:<64 hex digits>")
        return cls(int(sequence), digest.lower())


async def chain_head(session: AsyncSession) -> ChainHead:
    row = (await session.execute(
        sa.select(col(AuditEvent.sequence), col(AuditEvent.hash)).where(col(AuditEvent.sequence).is_not(None))
        .order_by(col(AuditEvent.sequence).desc()).limit(1))).first()
    return ChainHead(0, GENESIS_HASH) if row is None else ChainHead(int(row[0] or 0), str(row[1]))


@dataclass(frozen=True)
class UnsealedTail:
    """Committed events the sealer has not chained yet, and when the oldest of them happened."""

    count: int
    oldest_at: datetime | None

    def age(self, now: datetime) -> timedelta:
        return max(now - self.oldest_at, timedelta(0)) if self.oldest_at else timedelta(0)


# The unsealed tail's size and age, read from its partial index alone. SQLite's planner would otherwise pick the unique
# index on `sequence` (it expects few rows for IS NULL there) and read every unsealed event's row, so on SQLite the
# index is named (INDEXED BY, which SQLAlchemy's hints do not render for SQLite).
UNSEALED_TAIL = (sa.select(sa.func.count(), sa.func.min(col(AuditEvent.occurred_at)))
                 .where(col(AuditEvent.sequence).is_(None)))
UNSEALED_TAIL_ON_SQLITE: sa.Select[int, Any] = (sa.select(sa.func.count(), sa.func.min(sa.column("occurred_at")))
                           .select_from(sa.text("audit_event INDEXED BY ix_audit_event_unsealed"))
                           .where(sa.column("sequence").is_(None)))


def unsealed_tail_statement(dialect_name: str) -> sa.Select[int, Any]:
    return UNSEALED_TAIL_ON_SQLITE if dialect_name == "sqlite" else UNSEALED_TAIL


async def unsealed_tail(session: AsyncSession) -> UnsealedTail:
    statement = unsealed_tail_statement(session.get_bind().dialect.name)
    count, oldest = (await session.execute(statement)).one()
    if isinstance(oldest, datetime) and oldest.tzinfo is None:  # SQLite's aggregate skips the column type
        oldest = oldest.replace(tzinfo=UTC)
    elif isinstance(oldest, str):
        oldest = datetime.fromisoformat(oldest).replace(tzinfo=UTC)
    return UnsealedTail(int(count or 0), oldest)


@dataclass(frozen=True)
class ChainProblem:
    sequence: int
    event_id: int
    reason: str


async def verify_chain(session: AsyncSession, batch_size: int = 1000, *,
                       checkpoints: Sequence[ChainHead] = ()) -> ChainProblem | None:
    """Walk the sealed chain in order; return the first event that does not hash or link correctly, or that
    disagrees with a checkpoint (one stored by the daily job, or one given, e.g. from the publication page).
    The unsealed tail is not judged here: see `unsealed_tail`."""
    stored = (await session.execute(sa.select(col(AuditCheckpoint.sequence), col(AuditCheckpoint.hash)))).all()
    expected = {int(sequence): str(digest) for sequence, digest in stored}
    expected.update({point.sequence: point.hash for point in checkpoints})
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
            break
        for event in events:
            sequence = event.sequence or 0
            if sequence != expected_sequence:
                return ChainProblem(sequence, event.id or 0, f"sequence gap: expected {expected_sequence}")
            if event.prev_hash != prev_hash:
                return ChainProblem(sequence, event.id or 0, "does not link to the previous event's hash")
            if hash_of(event, sequence=sequence, prev_hash=prev_hash) != event.hash:
                return ChainProblem(sequence, event.id or 0, "content does not match its hash")
            if sequence in expected and expected.pop(sequence) != event.hash:
                return ChainProblem(sequence, event.id or 0, "does not match the checkpoint taken at this event")
            prev_hash = event.hash
            expected_sequence += 1
            last_seen = sequence
    if expected:  # a checkpoint names an event the chain no longer reaches: history was cut short
        missing = min(expected)
        return ChainProblem(missing, 0, f"the chain ends at {last_seen}, before the checkpoint at {missing}")
    return None


async def take_checkpoint(session: AsyncSession, now: datetime) -> AuditCheckpoint | None:
    """Record today's checkpoint of the sealed chain (once a day; the caller commits). None if one exists for
    today's date (UTC) or nothing is sealed yet."""
    day_start = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    taken = await session.scalar(sa.select(sa.func.count()).select_from(AuditCheckpoint)
                                 .where(col(AuditCheckpoint.taken_on) >= day_start))
    head = await chain_head(session)
    if taken or head.sequence == 0:
        return None
    checkpoint = AuditCheckpoint(taken_on=now, sequence=head.sequence, hash=head.hash)
    session.add(checkpoint)
    await session.flush()
    return checkpoint


async def latest_checkpoint(session: AsyncSession) -> AuditCheckpoint | None:
    return (await session.scalars(sa.select(AuditCheckpoint).order_by(col(AuditCheckpoint.sequence).desc())
                                  .limit(1))).first()


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
                                    .order_by(col(AuditEvent.id).desc()).limit(limit).offset(offset))).all()
    return list(events), int(total or 0)


async def stream_events(session: AsyncSession, criteria: AuditFilter, batch_size: int = 1000) -> Any:
    """Every matching event, oldest first, in batches (for exports)."""
    last = 0
    while True:
        batch = (await session.scalars(_filtered(sa.select(AuditEvent), criteria)
                                       .where(col(AuditEvent.id) > last)
                                       .order_by(col(AuditEvent.id)).limit(batch_size))).all()
        if not batch:
            return
        for event in batch:
            yield event
        last = batch[-1].id


async def entity_types(session: AsyncSession) -> list[str]:
    return list((await session.scalars(sa.select(col(AuditEvent.entity_type)).distinct()
                                       .order_by(col(AuditEvent.entity_type)))).all())
