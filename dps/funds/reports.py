"""What fund managers read: one row per allocation (dashboard, CSV and JSON share the rows), the year month by
month for the chart, ledgers and commitments. Reads only."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from dps.calendar import london_date
from dps.forms import whole_number
from dps.funds.models import Allocation, Commitment, CommitmentLine, Fund, LedgerEntry
from dps.funds.rules import Balance, is_lapsed, positions_by_month
from dps.identity.models import Organisation
from dps.identity.rules import BuyerType
from dps.money import pounds_for_csv

_YEAR = re.compile(r"[0-9]{4}/[0-9]{2}")
_ODS = re.compile(r"[A-Z0-9]{3,5}")


@dataclass(frozen=True)
class Filters:
    """Dashboard filters from the query string; a value that is not valid is ignored (shows everything)."""

    fund_id: int | None = None
    financial_year: str | None = None
    icb_ods_code: str | None = None

    @classmethod
    def from_query(cls, fund: str | None, year: str | None, icb: str | None) -> Filters:
        fund = (fund or "").strip()
        year = (year or "").strip()
        icb = (icb or "").strip().upper()
        return cls(fund_id=whole_number(fund),
                   financial_year=year if _YEAR.fullmatch(year) else None,
                   icb_ods_code=icb if _ODS.fullmatch(icb) else None)

    def as_query(self) -> dict[str, str]:
        return {key: str(value) for key, value in (("fund", self.fund_id), ("year", self.financial_year),
                                                    ("icb", self.icb_ods_code)) if value is not None}

    def as_dict(self) -> dict[str, Any]:
        return {"fund_id": self.fund_id, "financial_year": self.financial_year, "icb": self.icb_ods_code}


@dataclass(frozen=True)
class AllocationRow:
    allocation_id: int
    fund_id: int
    fund_name: str
    financial_year: str
    icb_ods_code: str
    icb_name: str
    budget_type: str
    allocated: int
    committed: int
    spent: int
    lapsed: bool

    @property
    def remaining(self) -> int:
        return self.allocated - self.committed - self.spent

    @property
    def balance(self) -> Balance:
        return Balance(self.allocated, self.committed, self.spent)

    def as_json(self) -> dict[str, Any]:
        return {"allocation_id": self.allocation_id, "fund_id": self.fund_id, "fund": self.fund_name,
                "financial_year": self.financial_year, "icb_ods_code": self.icb_ods_code, "icb": self.icb_name,
                "budget_type": self.budget_type, "allocated_pence": self.allocated,
                "committed_pence": self.committed, "spent_pence": self.spent, "remaining_pence": self.remaining,
                "lapsed": self.lapsed}


def _filtered(query: Any, filters: Filters, icb: Any) -> Any:
    if filters.fund_id is not None:
        query = query.where(col(Allocation.fund_id) == filters.fund_id)
    if filters.financial_year is not None:
        query = query.where(col(Allocation.financial_year) == filters.financial_year)
    if filters.icb_ods_code is not None:
        query = query.where(icb.ods_code == filters.icb_ods_code)
    return query


async def dashboard_rows(session: AsyncSession, filters: Filters, today: date) -> list[AllocationRow]:
    icb = aliased(Organisation)
    query = _filtered(
        sa.select(Allocation, col(Fund.name), col(Fund.lapses_at_year_end), col(icb.ods_code), col(icb.name))
        .join(Fund, col(Fund.id) == Allocation.fund_id).join(icb, col(icb.id) == col(Allocation.icb_organisation_id))
        .order_by(col(Fund.name), col(Allocation.financial_year), col(icb.name), col(Allocation.budget_type))
        .execution_options(populate_existing=True), filters, icb)
    return [AllocationRow(a.id or 0, a.fund_id, fund_name, a.financial_year, ods or "", icb_name, a.budget_type,
                          a.allocated_pence, a.committed_pence, a.spent_pence,
                          is_lapsed(a.financial_year, lapses, today))
            for a, fund_name, lapses, ods, icb_name in await session.execute(query)]


def totals(rows: list[AllocationRow]) -> Balance:
    return Balance(sum(r.allocated for r in rows), sum(r.committed for r in rows), sum(r.spent for r in rows))


def totals_by_budget_type(rows: list[AllocationRow]) -> dict[str, Balance]:
    """Capital and revenue are never netted: totals are shown for each separately."""
    return {kind: totals([r for r in rows if r.budget_type == kind]) for kind in ("capital", "revenue")
            if any(r.budget_type == kind for r in rows)}


# Money columns say their unit: pounds here, as the JSON's say pence.
CSV_COLUMNS = ("allocation_id", "fund", "financial_year", "icb_ods_code", "icb", "budget_type", "allocated_pounds",
               "committed_pounds", "spent_pounds", "remaining_pounds", "lapsed")


def _cell(text: str) -> str:
    # A spreadsheet runs a cell that starts with = + - @ as a formula: make such text plain.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def rows_csv(rows: list[AllocationRow]) -> str:
    """The dashboard's rows; money in pounds with two decimals (a spreadsheet reads them as numbers)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow([r.allocation_id, _cell(r.fund_name), r.financial_year, r.icb_ods_code, _cell(r.icb_name),
                         r.budget_type, pounds_for_csv(r.allocated), pounds_for_csv(r.committed),
                         pounds_for_csv(r.spent), pounds_for_csv(r.remaining), "yes" if r.lapsed else "no"])
    return out.getvalue()


def rows_json(rows: list[AllocationRow], filters: Filters) -> dict[str, Any]:
    """The dashboard's rows for reporting tools; money in integer pence."""
    by_type = totals_by_budget_type(rows)
    return {"filters": filters.as_dict(), "currency": "GBP", "amounts_in": "pence",
            "rows": [r.as_json() for r in rows],
            "totals": {kind: {"allocated_pence": b.allocated, "committed_pence": b.committed, "spent_pence": b.spent,
                              "remaining_pence": b.remaining} for kind, b in by_type.items()}}


@dataclass(frozen=True)
class FilterOptions:
    funds: list[tuple[int, str]]
    years: list[str]
    icbs: list[tuple[str, str]]


async def filter_options(session: AsyncSession) -> FilterOptions:
    funds = [(fund_id, name) for fund_id, name in
             await session.execute(sa.select(col(Fund.id), col(Fund.name)).order_by(col(Fund.name)))]
    years = list((await session.scalars(sa.select(col(Allocation.financial_year)).distinct()
                                        .order_by(col(Allocation.financial_year).desc()))).all())
    icbs = [(ods, name) for ods, name in await session.execute(
        sa.select(col(Organisation.ods_code),
                  col(Organisation.name)).where(col(Organisation.buyer_type) == BuyerType.ICB)
        .order_by(col(Organisation.name))) if ods is not None]
    return FilterOptions(funds, years, icbs)


def chart_year(filters: Filters, rows: list[AllocationRow]) -> str | None:
    """The year the chart shows: the filtered one, else the latest year among the rows."""
    if filters.financial_year:
        return filters.financial_year
    years = sorted({r.financial_year for r in rows})
    return years[-1] if years else None


@dataclass(frozen=True)
class MonthPoint:
    month_end: date
    balance: Balance

    @property
    def label(self) -> str:
        return self.month_end.strftime("%b %Y")


async def monthly_positions(session: AsyncSession, filters: Filters, financial_year: str,
                            today: date) -> list[MonthPoint]:
    """Allocated, committed and spent at each month end of the year, over the filtered allocations of that year;
    months that have not started yet are left out (a month under way shows its position so far)."""
    icb = aliased(Organisation)
    year_filter = Filters(filters.fund_id, financial_year, filters.icb_ods_code)
    query = _filtered(sa.select(col(LedgerEntry.at), col(LedgerEntry.kind), col(LedgerEntry.amount_pence))
                      .join(Allocation, col(Allocation.id) == LedgerEntry.allocation_id)
                      .join(icb, col(icb.id) == col(Allocation.icb_organisation_id)), year_filter, icb)
    entries = [(london_date(at), kind, amount) for at, kind, amount in await session.execute(query)]
    return [MonthPoint(end, balance) for end, balance in positions_by_month(entries, financial_year)
            if end.replace(day=1) <= today]


async def ledger_of(session: AsyncSession, allocation_id: int) -> list[LedgerEntry]:
    return list((await session.scalars(sa.select(LedgerEntry).where(col(LedgerEntry.allocation_id) == allocation_id)
                                       .order_by(col(LedgerEntry.id)))).all())


@dataclass(frozen=True)
class CommitmentSummary:
    commitment: Commitment
    buyer_name: str
    spent: int
    released: int

    @property
    def outstanding(self) -> int:
        return self.commitment.total_pence - self.spent - self.released


async def commitment_summaries(session: AsyncSession, *, allocation_id: int | None = None,
                               limit: int = 200) -> list[CommitmentSummary]:
    query = (sa.select(Commitment, col(Organisation.name), sa.func.sum(col(CommitmentLine.spent_pence)),
                       sa.func.sum(col(CommitmentLine.released_pence)))
             .join(Organisation, col(Organisation.id) == Commitment.buyer_organisation_id)
             .join(CommitmentLine, col(CommitmentLine.commitment_id) == Commitment.id)
             .group_by(col(Commitment.id), col(Organisation.name))
             .order_by(col(Commitment.created_at).desc(), col(Commitment.id).desc()).limit(limit)
             .execution_options(populate_existing=True))
    if allocation_id is not None:
        query = query.where(col(Commitment.id).in_(sa.select(col(CommitmentLine.commitment_id))
                                              .where(col(CommitmentLine.allocation_id) == allocation_id)))
    return [CommitmentSummary(c, name, int(spent or 0), int(released or 0))
            for c, name, spent, released in await session.execute(query)]

