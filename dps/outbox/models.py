from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from dps.db import utc_column

_DEAD = sa.text("dead_at IS NOT NULL")
_WAITING = sa.text("processed_at IS NULL AND dead_at IS NULL")


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox_message"
    __table_args__ = (sa.Index("ix_outbox_message_pending", "topic", "processed_at", "available_at"),
                      # Partial indexes: the few dead letters, and the messages still waiting (the health check's
                      # oldest), so neither query reads the processed messages the outbox keeps.
                      sa.Index("ix_outbox_message_dead", "dead_at", sqlite_where=_DEAD, postgresql_where=_DEAD),
                      sa.Index("ix_outbox_message_waiting", "available_at",
                               sqlite_where=_WAITING, postgresql_where=_WAITING))

    id: int = Field(default=None, primary_key=True)
    topic: str = Field(max_length=60)
    # Consumers are idempotent on this key (entity id + version, event id, idempotency key).
    dedupe_key: str = Field(max_length=200, unique=True)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    created_at: datetime = Field(sa_column=utc_column())
    available_at: datetime = Field(sa_column=utc_column())
    attempts: int = Field(default=0)
    processed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    # When a worker first and last claimed it (a dead letter tells both).
    first_attempt_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    last_attempt_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    # Set when it failed OUTBOX_MAX_ATTEMPTS times: a dead letter, left alone by the worker until an authority
    # user retries it from the dead letters page. Never deleted, never silently dropped.
    dead_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
