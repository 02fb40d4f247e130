"""Funds, their allocations, the commitments drawn on them and the append-only ledger behind every balance.

Money is integer pence. An allocation's stored balances are a cache of its ledger (`services.rebuild_balances`
recomputes them); the CHECK constraints are the database's own backstop against an overspend.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlmodel import Field, SQLModel

from dps.db import utc_column


class BudgetType(StrEnum):
    """Capital and revenue are separate pots: never netted against each other."""

    CAPITAL = "capital"
    REVENUE = "revenue"


class LedgerKind(StrEnum):
    ALLOCATE = "allocate"  # money given to an allocation when it is created
    ADJUST = "adjust"  # allocated moved up (+) or down (-), with a reason
    COMMIT = "commit"  # remaining -> committed (an award, or an off-platform commitment)
    PAY = "pay"  # committed -> spent
    REFUND = "refund"  # spent -> committed
    RELEASE = "release"  # committed -> remaining (a contract ended under budget)


class CommitmentSource(StrEnum):
    AWARD = "award"  # a competition's award, recorded by the competitions module
    OFF_PLATFORM = "off_platform"  # entered by a fund manager for an award made elsewhere


class CommitmentState(StrEnum):
    OPEN = "open"
    RELEASED = "released"


class Fund(SQLModel, table=True):
    """A named pot of money with its rules (RULES.md 5: eligibility, match funding, cap, lapse, national)."""

    __tablename__ = "fund"
    __table_args__ = (
        sa.CheckConstraint("match_funding_bps >= 0 AND match_funding_bps < 10000", name="match_funding_share"),
        sa.CheckConstraint("per_award_cap_pence IS NULL OR per_award_cap_pence > 0", name="cap_positive"),
    )

    id: int = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    description: str = Field(default="", sa_type=sa.Text)
    owner_organisation_id: int = Field(foreign_key="organisation.id", index=True)
    # Empty list: every category (or buyer type) is eligible.
    eligible_category_ids: list[int] = Field(default_factory=list, sa_type=sa.JSON)
    eligible_buyer_types: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    # Share of an award that must come from other sources, in basis points (2500 = 25%); 0 by default.
    match_funding_bps: int = Field(default=0)
    per_award_cap_pence: int | None = Field(default=None, sa_type=sa.BigInteger)
    lapses_at_year_end: bool = Field(default=True)
    # A national fund's allocations are open to every buyer; any other fund's only to its ICB and that ICB's trusts.
    national: bool = Field(default=False)
    created_at: datetime = Field(sa_column=utc_column())
    updated_at: datetime = Field(sa_column=utc_column())


class Allocation(SQLModel, table=True):
    """Money of one fund for one ICB in one financial year, capital or revenue.

    remaining = allocated - committed - spent, never below zero (the CHECK constraint and the conditional
    updates in services.py both hold that line)."""

    __tablename__ = "fund_allocation"
    __table_args__ = (
        sa.UniqueConstraint("fund_id", "financial_year", "icb_organisation_id", "budget_type"),
        sa.CheckConstraint("committed_pence >= 0 AND spent_pence >= 0", name="non_negative"),
        sa.CheckConstraint("committed_pence + spent_pence <= allocated_pence", name="not_overspent"),
        sa.CheckConstraint("budget_type IN ('capital', 'revenue')", name="budget_type"),
    )

    id: int = Field(default=None, primary_key=True)
    fund_id: int = Field(foreign_key="fund.id", index=True)
    financial_year: str = Field(max_length=7, index=True)  # "2025/26"
    icb_organisation_id: int = Field(foreign_key="organisation.id", index=True)
    budget_type: str = Field(max_length=10)
    allocated_pence: int = Field(default=0, sa_type=sa.BigInteger)
    committed_pence: int = Field(default=0, sa_type=sa.BigInteger)
    spent_pence: int = Field(default=0, sa_type=sa.BigInteger)
    # Goes up by one with every change of a balance (an entity version for consumers and caches).
    version: int = Field(default=1)
    created_at: datetime = Field(sa_column=utc_column())
    updated_at: datetime = Field(sa_column=utc_column())


class Commitment(SQLModel, table=True):
    """Money promised to one award, split over one or more allocations (its lines)."""

    __tablename__ = "fund_commitment"
    __table_args__ = (
        sa.UniqueConstraint("source", "reference"),
        sa.CheckConstraint("total_pence > 0", name="total_positive"),
    )

    id: int = Field(default=None, primary_key=True)
    source: str = Field(max_length=20)
    reference: str = Field(max_length=100)
    buyer_organisation_id: int = Field(foreign_key="organisation.id", index=True)
    category_id: int | None = Field(default=None, foreign_key="category.id")
    description: str = Field(default="", sa_type=sa.Text)
    total_pence: int = Field(sa_type=sa.BigInteger)
    state: str = Field(max_length=20, index=True)
    created_by_user_id: int | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = Field(sa_column=utc_column())
    updated_at: datetime = Field(sa_column=utc_column())
    released_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class CommitmentLine(SQLModel, table=True):
    """The part of a commitment drawn on one allocation; outstanding = amount - spent - released."""

    __tablename__ = "fund_commitment_line"
    __table_args__ = (
        sa.UniqueConstraint("commitment_id", "allocation_id"),
        sa.CheckConstraint("amount_pence > 0", name="amount_positive"),
        sa.CheckConstraint("spent_pence >= 0 AND released_pence >= 0", name="non_negative"),
        sa.CheckConstraint("spent_pence + released_pence <= amount_pence", name="within_amount"),
    )

    id: int = Field(default=None, primary_key=True)
    commitment_id: int = Field(foreign_key="fund_commitment.id", index=True)
    allocation_id: int = Field(foreign_key="fund_allocation.id", index=True)
    amount_pence: int = Field(sa_type=sa.BigInteger)
    spent_pence: int = Field(default=0, sa_type=sa.BigInteger)
    released_pence: int = Field(default=0, sa_type=sa.BigInteger)


class LedgerEntry(SQLModel, table=True):
    """One movement of money on one allocation. Append-only: never updated, never deleted.

    `amount_pence` is positive, except for an adjustment down, which is negative."""

    __tablename__ = "fund_ledger_entry"
    __table_args__ = (sa.Index("ix_fund_ledger_entry_allocation_at", "allocation_id", "at"),)

    id: int = Field(default=None, primary_key=True)
    allocation_id: int = Field(foreign_key="fund_allocation.id")
    kind: str = Field(max_length=10)
    amount_pence: int = Field(sa_type=sa.BigInteger)
    commitment_id: int | None = Field(default=None, foreign_key="fund_commitment.id", index=True)
    reason: str = Field(default="", sa_type=sa.Text)
    actor_user_id: int | None = Field(default=None, foreign_key="user_account.id")
    actor_label: str = Field(max_length=320)
    at: datetime = Field(sa_column=utc_column())


def _refuse_change(_mapper: Any, _connection: Any, target: LedgerEntry) -> None:
    raise RuntimeError(f"The fund ledger is append-only: entry {target.id} cannot be changed or deleted")


event.listen(LedgerEntry, "before_update", _refuse_change)
event.listen(LedgerEntry, "before_delete", _refuse_change)
