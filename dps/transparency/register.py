"""The public contracts register (RULES C10): awarded contracts worth £30,000 or more including VAT, and the public
page of each published award notice.

An award is listed from the moment its contract award notice is published, with no other step: under PA 2023 that
is before the standstill (the contract is made after it), under PCR 2015 when the contract is made. The threshold is
applied to the VAT-inclusive value stored with the notice (the winning bid's price plus the VAT it states, what the
buyer pays): no VAT rate is assumed. Below £30,000 an award is not listed, though its notice page is public.

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
from dps.forms import whole_number
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
    awarded_on: date  # the day the contract award notice was published
    starts_on: date
    ends_on: date
    funds: tuple[str, ...]
    contract_made_on: date | None = None  # None until the contract is made (PA 2023: after the standstill)
    standstill_ends_at: datetime | None = None  # while the contract is not made yet

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("awarded_on", "starts_on", "ends_on", "contract_made_on"):
            out[key] = out[key].isoformat() if out[key] else None
        out["standstill_ends_at"] = (self.standstill_ends_at.isoformat().replace("+00:00", "Z")
                                     if self.standstill_ends_at else None)
        out["funds"] = list(self.funds)
        return out


CSV_COLUMNS = ("ocid", "title", "buyer_name", "buyer_ods_code", "supplier_name", "supplier_companies_house_number",
               "category", "value_excl_vat_pounds", "value_incl_vat_pounds", "awarded_on", "starts_on", "ends_on",
               "funds", "contract_made_on")


def _published_notices() -> Any:
    buyer, supplier = aliased(Organisation), aliased(Organisation)
    return (sa.select(AwardNotice, Contract, buyer, supplier, Category)
            .outerjoin(Contract, Contract.id == AwardNotice.contract_id)
            .join(buyer, buyer.id == AwardNotice.buyer_organisation_id)
            .join(supplier, supplier.id == AwardNotice.supplier_organisation_id)
            .join(Category, Category.id == AwardNotice.category_id)
            .where(AwardNotice.published_at.is_not(None))), buyer, supplier


async def _fund_labels(session: AsyncSession, contracts: list[Contract | None]) -> dict[int, tuple[int, str]]:
    allocation_ids = {int(line["allocation_id"]) for contract in contracts if contract is not None
                      for line in contract.fund_lines}
    funds: dict[int, tuple[int, str]] = {}
    if allocation_ids:
        for allocation_id, fund_id, name, year, budget in (await session.execute(
                sa.select(Allocation.id, Fund.id, Fund.name, Allocation.financial_year, Allocation.budget_type)
                .join(Fund, Fund.id == Allocation.fund_id).where(Allocation.id.in_(allocation_ids)))).all():
            funds[allocation_id] = (fund_id, f"{name} {year} ({budget})")
    return funds


def _entry(ocid_prefix: str, notice: AwardNotice, contract: Contract | None, buyer_org: Organisation,
           supplier_org: Organisation, category: Category, lines: list[tuple[int, str]]) -> RegisterEntry:
    return RegisterEntry(
        ocid=f"{ocid_prefix}-{notice.competition_id}", title=notice.title, buyer_name=buyer_org.name,
        buyer_ods_code=buyer_org.ods_code, supplier_name=supplier_org.name,
        supplier_companies_house_number=supplier_org.companies_house_number, category=category.name,
        category_slug=category.slug, value_excl_vat_pence=notice.value_pence,
        value_incl_vat_pence=notice.value_incl_vat_pence,
        awarded_on=london_date(notice.published_at),  # type: ignore[arg-type] - filtered on not null
        starts_on=contract.starts_on if contract else notice.contract_starts_on,
        ends_on=contract.ends_on if contract else notice.contract_ends_on,
        funds=tuple(dict.fromkeys(label for _, label in lines)),
        contract_made_on=london_date(contract.created_at) if contract else None,
        standstill_ends_at=None if contract else notice.standstill_ends_at)


async def register_entries(session: AsyncSession, ocid_prefix: str,
                           filters: RegisterFilters = RegisterFilters()) -> list[RegisterEntry]:
    query, buyer, supplier = _published_notices()
    query = (query.where(AwardNotice.value_incl_vat_pence >= CONTRACTS_FINDER_THRESHOLD_PENCE)
             .order_by(AwardNotice.published_at.desc(), AwardNotice.id.desc()))
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
        query = query.where(AwardNotice.published_at >= london_instant(filters.awarded_from, datetime.min.time()))
    if filters.awarded_to:
        query = query.where(AwardNotice.published_at < london_instant(filters.awarded_to + timedelta(days=1),
                                                                      datetime.min.time()))
    rows = (await session.execute(query)).all()
    funds = await _fund_labels(session, [contract for _, contract, _, _, _ in rows])
    await session.commit()
    out = []
    for notice, contract, buyer_org, supplier_org, category in rows:
        lines = [funds[int(line["allocation_id"])] for line in (contract.fund_lines if contract else [])
                 if int(line["allocation_id"]) in funds]
        if filters.fund is not None and filters.fund not in {fund_id for fund_id, _ in lines}:
            continue
        out.append(_entry(ocid_prefix, notice, contract, buyer_org, supplier_org, category, lines))
    return out


@dataclass(frozen=True)
class PublishedNotice:
    """The public page of one published award notice: what the notices publish, nothing from the bids."""

    entry: RegisterEntry
    regime: str
    bids_received: int
    award_decided_on: date
    published_at: datetime
    contract_notice_published_at: datetime | None
    kpis: tuple[str, ...]
    on_register: bool  # £30,000 or more including VAT


async def published_notice(session: AsyncSession, ocid_prefix: str, ocid: str) -> PublishedNotice | None:
    head, _, tail = ocid.rpartition("-")
    competition_id = whole_number(tail)
    if head != ocid_prefix or competition_id is None:
        return None
    query, _, _ = _published_notices()
    row = (await session.execute(query.where(AwardNotice.competition_id == competition_id))).first()
    if row is None:
        await session.commit()
        return None
    notice, contract, buyer_org, supplier_org, category = row
    funds = await _fund_labels(session, [contract])
    await session.commit()
    lines = [funds[int(line["allocation_id"])] for line in (contract.fund_lines if contract else [])
             if int(line["allocation_id"]) in funds]
    return PublishedNotice(
        entry=_entry(ocid_prefix, notice, contract, buyer_org, supplier_org, category, lines), regime=notice.regime,
        bids_received=notice.bids_received, award_decided_on=london_date(notice.award_decided_at),
        published_at=notice.published_at,  # type: ignore[arg-type] - filtered on not null
        contract_notice_published_at=notice.contract_notice_published_at, kpis=tuple(notice.kpis),
        on_register=notice.value_incl_vat_pence >= CONTRACTS_FINDER_THRESHOLD_PENCE)


async def filter_choices(session: AsyncSession) -> dict[str, list[tuple[str, str]]]:
    """Buyers, categories and funds that appear in the register, for the filter form."""
    buyers = (await session.execute(
        sa.select(Organisation.ods_code, Organisation.name).join(
            AwardNotice, AwardNotice.buyer_organisation_id == Organisation.id)
        .where(AwardNotice.published_at.is_not(None), Organisation.ods_code.is_not(None)).distinct()
        .order_by(Organisation.name))).all()
    categories = (await session.execute(sa.select(Category.slug, Category.name).order_by(Category.name))).all()
    funds = (await session.execute(sa.select(Fund.id, Fund.name).order_by(Fund.name))).all()
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
            "; ".join(e.funds), e.contract_made_on.isoformat() if e.contract_made_on else "")])
    return buffer.getvalue()


def _safe(value: str) -> str:
    """No spreadsheet formulas from user-entered text (CSV injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
