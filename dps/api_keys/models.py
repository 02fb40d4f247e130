"""Keys for the public API (/api/v1): the catalogue's search API and the open contracting data share them."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from dps.db import utc_column


class ApiKey(SQLModel, table=True):
    """A key for the public API. Only a SHA-256 of the key is stored; the key itself is shown once.

    A key a consumer made for themselves belongs to their API consumer organisation (`owner_organisation_id`); a key
    the authority issued by hand belongs to nobody (None). `last_used_at` is written in batches, not per request
    (dps.api_keys.usage), so it may lag a minute behind; today's count of requests is kept beside the rate limits."""

    __tablename__ = "api_key"

    id: int = Field(default=None, primary_key=True)
    name: str = Field(max_length=120)
    prefix: str = Field(max_length=16)
    key_hash: str = Field(max_length=64, unique=True)
    rate_limit_per_minute: int = Field(default=600)
    created_at: datetime = Field(sa_column=utc_column())
    created_by_user_id: int | None = Field(default=None, foreign_key="user_account.id")
    revoked_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    revoked_by_user_id: int | None = Field(default=None, foreign_key="user_account.id")
    owner_organisation_id: int | None = Field(default=None, foreign_key="organisation.id", index=True)
    rotated_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    last_used_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class ApiConsumer(SQLModel, table=True):
    """An API consumer organisation (identity's organisation of kind api_consumer) and what it uses the API for."""

    __tablename__ = "api_consumer"

    id: int = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", unique=True)
    purpose: str = Field(sa_type=sa.Text)
    created_at: datetime = Field(sa_column=utc_column())
