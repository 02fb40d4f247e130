from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from dps.db import utc_column

GENESIS_HASH = "0" * 64


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"
    __table_args__ = (sa.Index("ix_audit_event_entity", "entity_type", "entity_id"),)

    id: int = Field(default=None, primary_key=True)
    sequence: int = Field(unique=True)
    occurred_at: datetime = Field(sa_column=utc_column(index=True))
    actor_user_id: int | None = Field(default=None, index=True)
    actor_label: str = Field(max_length=320)
    action: str = Field(max_length=80)
    entity_type: str = Field(max_length=60)
    entity_id: str = Field(max_length=60)
    before: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    after: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditChainHead(SQLModel, table=True):
    """One row. Updating it takes a row lock, so concurrent writers append to the chain one at a time."""

    __tablename__ = "audit_chain_head"

    id: int = Field(default=1, primary_key=True)
    last_sequence: int = Field(default=0)
    last_hash: str = Field(default=GENESIS_HASH, max_length=64)
