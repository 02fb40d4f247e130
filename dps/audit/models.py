from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from dps.db import utc_column

GENESIS_HASH = "0" * 64


class AuditEvent(SQLModel, table=True):
    """One state change. A writer only inserts the row (no shared row is touched); the sealer later gives it its
    place in the chain: `sequence`, `prev_hash` and `hash` are empty until then (see docs/CONVENTIONS.md)."""

    __tablename__ = "audit_event"
    __table_args__ = (
        sa.Index("ix_audit_event_entity", "entity_type", "entity_id"),
        # What the sealer reads each round: the unsealed tail, in sealing order; with each event's time, so the
        # tail's size and age (/health, `dps audit verify`) read only this index (SQLite needs `sequence` in it too).
        sa.Index("ix_audit_event_unsealed", "xid", "id", "occurred_at", "sequence",
                 postgresql_where=sa.text("sequence IS NULL"), sqlite_where=sa.text("sequence IS NULL")),
    )
    # The insert returns the database's xid at once, so the writer's object never has to reload it.
    __mapper_args__ = {"eager_defaults": True}

    id: int = Field(default=None, primary_key=True)
    # The writer's PostgreSQL transaction id (pg_current_xact_id()); empty on SQLite, whose writes are serialised.
    # (The default is the database's, set by the migration on PostgreSQL only.)
    xid: int | None = Field(default=None, sa_type=sa.BigInteger,
                            sa_column_kwargs={"server_default": sa.FetchedValue()})
    sequence: int | None = Field(default=None, unique=True)
    occurred_at: datetime = Field(sa_column=utc_column(index=True))
    actor_user_id: int | None = Field(default=None, index=True)
    actor_label: str = Field(max_length=320)
    action: str = Field(max_length=80)
    entity_type: str = Field(max_length=60)
    entity_id: str = Field(max_length=60)
    before: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    after: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    prev_hash: str | None = Field(default=None, max_length=64)
    hash: str | None = Field(default=None, max_length=64)
    sealed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class AuditCheckpoint(SQLModel, table=True):
    """The sealed chain's head, taken once a day and shown on the public publication page: a history rewritten
    before a published checkpoint no longer ends in the hash everyone saw."""

    __tablename__ = "audit_checkpoint"

    id: int = Field(default=None, primary_key=True)
    taken_on: datetime = Field(sa_column=utc_column(index=True))
    sequence: int
    hash: str = Field(max_length=64)
