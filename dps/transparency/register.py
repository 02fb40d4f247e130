"""The public contracts register (RULES C10): awarded contracts worth £30,000 or more including VAT.

Only what an award notice publishes: buyer, supplier, category, title, value, dates and the fund paying for it.
Never bids, scores, reasons, losing bidders or anything from before the award.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from dps.agreements.models import Category
from dps.calendar import london_date, london_instant
from dps.competitions.models import AwardNotice
from dps.competitions.rules import CONTRACTS_FINDER_THRESHOLD_PENCE
from dps.contracts.models import Contract
from dps.funds.models import Allocation, Fund
from dps.identity.models import Organisation
from dps.money import pounds_for_csv

PAGE_SIZE = 50


@dataclass(frozen=True)
class RegisterFilters:
    q: str = ""
    buyer: str = ""  # ODS code
    category: str = ""  # slug
    fund: int | None = None
    awarded_from: date | None = None
    awarded_to: date | None = None

    def as_query(self) -> dict[str, str]:
        out = {"q": self.q, "buyer": self.buyer, "category": self.category,
               "fund": str(self.fund) if self.fund else "",
               "awarded_from": self.awarded_from.isoformat() if self.awarded_from else "",
               "awarded_to": self.awarded_to.isoformat() if self.awarded_to else ""}
        return {k: v for k, v in out.items() if v}


@dataclass(frozen=True)
class RegisterEntry:
    ocid: str
    title: str
    buyer_name: str
    buyer_ods_code: str | None
    supplier_name: str
    supplier_companies_house_number: str | None
    category: str
    category_slug: str
    value_excl_vat_pence: int
    value_incl_vat_pence: int
    awarded_on: date
    starts_on: date
    ends_on: date
    funds: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("awarded_on", "starts_on", "ends_on"):
            out[key] = out[key].isoformat()
        out["funds"] = list(self.funds)
        return out


CSV_COLUMNS = ("ocid", "title", "buyer_name", "buyer_ods_code", "supplier_name", "supplier_companies_house_number",
               "category", "value_excl_vat_pounds", "value_incl_vat_pounds", "awarded_on", "starts_on", "ends_on",
               "funds")


async def register_entries(session: AsyncSession, ocid_prefix: str,
                           filters: RegisterFilters = RegisterFilters()) -> list[RegisterEntry]:
    buyer, supplier = aliased(Organisation), aliased(Organisation)
    query = (sa.select(AwardNotice, Contract, buyer, supplier, Category)
             .join(Contract, col(Contract.id) == AwardNotice.contract_id)
             .join(buyer, col(buyer.id) == col(AwardNotice.buyer_organisation_id))
             .join(supplier, col(supplier.id) == col(AwardNotice.supplier_organisation_id))
             .join(Category, col(Category.id) == AwardNotice.category_id)
             .where(col(AwardNotice.value_incl_vat_pence) >= CONTRACTS_FINDER_THRESHOLD_PENCE,
                    col(AwardNotice.contract_created_at).is_not(None))
             .order_by(col(AwardNotice.contract_created_at).desc(), col(AwardNotice.id).desc()))
    if filters.q:
        like = f"%{filters.q.lower()}%"
        query = query.where(sa.or_(sa.func.lower(col(AwardNotice.title)).like(like),
                                   sa.func.lower(col(buyer.name)).like(like),
                                   sa.func.lower(col(supplier.name)).like(like)))
    if filters.buyer:
        query = query.where(col(buyer.ods_code) == filters.buyer.upper())
    if filters.category:
        query = query.where(col(Category.slug) == filters.category)
    if filters.awarded_from:
        query = query.where(col(AwardNotice.contract_created_at) >= london_instant(filters.awarded_from,
                                                                              datetime.min.time()))
    if filters.awarded_to:
        query = query.where(col(AwardNotice.contract_created_at)
                            < london_instant(filters.awarded_to + timedelta(days=1), datetime.min.time()))
    rows = (await session.execute(query)).all()
    allocation_ids = {int(line["allocation_id"]) for _, contract, _, _, _ in rows for line in contract.fund_lines}
    funds: dict[int, tuple[int, str]] = {}
    if allocation_ids:
        for allocation_id, fund_id, name, year, budget in (await session.execute(
                sa.select(col(Allocation.id), col(Fund.id), col(Fund.name), col(Allocation.financial_year),
                          col(Allocation.budget_type))
                .join(Fund, col(Fund.id) == Allocation.fund_id).where(col(Allocation.id).in_(allocation_ids)))).all():
            funds[allocation_id] = (fund_id, f"{name} {year} ({budget})")
    await session.commit()
    out = []
    for notice, contract, buyer_org, supplier_org, category in rows:
        lines = [funds[int(line["allocation_id"])] for line in contract.fund_lines
                 if int(line["allocation_id"]) in funds]
        if filters.fund is not None and filters.fund not in {fund_id for fund_id, _ in lines}:
            continue
        out.append(RegisterEntry(
            ocid=f"{ocid_prefix}-{notice.competition_id}", title=notice.title, buyer_name=buyer_org.name,
            buyer_ods_code=buyer_org.ods_code, supplier_name=supplier_org.name,
            supplier_companies_house_number=supplier_org.companies_house_number, category=category.name,
            category_slug=category.slug, value_excl_vat_pence=notice.value_pence,
            value_incl_vat_pence=notice.value_incl_vat_pence,
            awarded_on=london_date(notice.contract_created_at),  # type: ignore[arg-type]  # filtered on not null
            starts_on=contract.starts_on, ends_on=contract.ends_on,
            funds=tuple(dict.fromkeys(label for _, label in lines))))
    return out


async def filter_choices(session: AsyncSession) -> dict[str, list[tuple[str, str]]]:
    """Buyers, categories and funds that appear in the register, for the filter form."""
    buyers = (await session.execute(
        sa.select(col(Organisation.ods_code), col(Organisation.name)).join(
            AwardNotice, col(AwardNotice.buyer_organisation_id) == Organisation.id)
        .where(col(AwardNotice.contract_id).is_not(None), col(Organisation.ods_code).is_not(None)).distinct()
        .order_by(col(Organisation.name)))).all()
    categories = (await session.execute(sa.select(col(Category.slug),
                                                  col(Category.name)).order_by(col(Category.name)))).all()
    funds = (await session.execute(sa.select(col(Fund.id), col(Fund.name)).order_by(col(Fund.name)))).all()
    await session.commit()
    return {"buyers": [(str(a), str(b)) for a, b in buyers],
            "categories": [(str(a), str(b)) for a, b in dict.fromkeys(categories)],
            "funds": [(str(a), str(b)) for a, b in funds]}


def register_csv(entries: list[RegisterEntry]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for e in entries:
        writer.writerow([_safe(v) for v in (
            e.ocid, e.title, e.buyer_name, e.buyer_ods_code or "", e.supplier_name,
            e.supplier_companies_house_number or "", e.category, pounds_for_csv(e.value_excl_vat_pence),
            pounds_for_csv(e.value_incl_vat_pence), e.awarded_on.isoformat(), e.starts_on.isoformat(),
            e.ends_on.isoformat(),
            "; ".join(e.funds))])
    return buffer.getvalue()


def _safe(value: str) -> str:
    """No spreadsheet formulas from user-entered text (CSV injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
