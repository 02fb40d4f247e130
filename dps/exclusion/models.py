"""The debarment list kept by the DPS authority (PA 2023 s.62 central list, PCR 2015 reg 57 grounds)."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from dps.db import utc_column


class DebarmentEntry(SQLModel, table=True):
    __tablename__ = "debarment_entry"

    id: int = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    grounds: list[str] = Field(default_factory=list, sa_type=sa.JSON)  # MandatoryGround values
    details: str = Field(default="", sa_type=sa.Text)
    source: str = Field(max_length=40)
    listed_from: date
    listed_until: date | None = Field(default=None)
    added_at: datetime = Field(sa_column=utc_column())
    added_by_user_id: int | None = Field(default=None, foreign_key="user_account.id")
    removed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    removed_by_user_id: int | None = Field(default=None, foreign_key="user_account.id")
    removal_reason: str | None = Field(default=None, sa_type=sa.Text)
