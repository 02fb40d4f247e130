"""The contract made at the confirmation of an award, and its milestones (the payments it is made of)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from dps.db import utc_column


class Contract(SQLModel, table=True):
    __tablename__ = "contract"

    id: int = Field(default=None, primary_key=True)
    competition_id: int = Field(foreign_key="competition.id", unique=True)
    bid_id: int = Field(foreign_key="bid.id")
    buyer_organisation_id: int = Field(foreign_key="organisation.id", index=True)
    supplier_organisation_id: int = Field(foreign_key="organisation.id", index=True)
    title: str = Field(max_length=200)
    value_pence: int = Field(sa_type=sa.BigInteger)  # excluding VAT
    vat_pence: int = Field(default=0, sa_type=sa.BigInteger)
    starts_on: date
    ends_on: date
    state: str = Field(max_length=20)  # a dps.contracts.rules.ContractState
    # The fund commitment made at award: [{"allocation_id": int, "pence": int}, ...] (empty: not fund-backed).
    fund_lines: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    created_by_user_id: int = Field(foreign_key="user_account.id")
    created_at: datetime = Field(sa_column=utc_column())


class ContractMilestone(SQLModel, table=True):
    __tablename__ = "contract_milestone"
    __table_args__ = (sa.UniqueConstraint("contract_id", "sequence"),)

    id: int = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contract.id", index=True)
    sequence: int
    title: str = Field(max_length=200)
    due_on: date
    amount_pence: int = Field(sa_type=sa.BigInteger)
    state: str = Field(max_length=20)  # a dps.contracts.rules.MilestoneState
    # The supplier's latest delivery, and the buyer's decision on it (a rejection keeps its reason until the
    # supplier delivers again).
    delivery_note: str | None = Field(default=None, sa_type=sa.Text)
    delivered_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    decided_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    rejection_reason: str | None = Field(default=None, sa_type=sa.Text)
