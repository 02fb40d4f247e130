"""Helpers for fund tests: organisations, a fund with allocations, and the books as the ledger sees them."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import sqlalchemy as sa

from dps.agreements.models import Category
from dps.audit.models import AuditEvent
from dps.audit.services import Actor
from dps.funds import services
from dps.funds.models import Allocation, Fund, LedgerEntry
from dps.funds.rules import Balance, FundRules
from dps.identity.models import Organisation, OrganisationKind, Role
from tests.helpers import count_rows, make_trust, make_user, scalar

ACTOR = Actor.system("test")
POUND = 100


async def org(db: Any, ods: str) -> Organisation:
    return await scalar(db, sa.select(Organisation).where(Organisation.ods_code == ods))


async def authority(db: Any) -> Organisation:
    return await scalar(db, sa.select(Organisation).where(Organisation.kind == OrganisationKind.AUTHORITY))


async def category_id(db: Any, slug: str) -> int:
    return int(await scalar(db, sa.select(Category.id).where(Category.slug == slug)))


async def make_fund(db: Any, clock: Any, name: str = "Test Fund", **rules: Any) -> Fund:
    owner = await authority(db)
    fund = await services.define_fund(db, name=name, description="A fund for tests", owner_organisation_id=owner.id,
                                      rules=FundRules(name, **rules), actor=ACTOR, now=clock.now())
    await db.commit()
    return fund


async def make_allocation(db: Any, clock: Any, fund: Fund | int, ods: str = "QMF", pounds: int = 100_000,
                          budget: str = "revenue", year: str = "2025/26") -> int:
    icb_id = (await org(db, ods)).id
    fund_id = fund if isinstance(fund, int) else sa.inspect(fund).identity[0]  # no reload, even once expired
    allocation = await services.allocate(db, fund_id=fund_id, financial_year=year, icb_organisation_id=icb_id,
                                         budget_type=budget, pence=pounds * POUND, actor=ACTOR, now=clock.now())
    await db.commit()
    return allocation.id


async def balance(db: Any, allocation_id: int) -> Balance:
    row = (await db.execute(sa.select(Allocation.allocated_pence, Allocation.committed_pence, Allocation.spent_pence)
                            .where(Allocation.id == allocation_id))).one()
    await db.commit()
    return Balance(*row)


async def footprint(db: Any) -> tuple[int, int, dict[int, Balance]]:
    """What a refused request must leave untouched: ledger, audit trail and every balance."""
    rows = (await db.execute(sa.select(Allocation.id, Allocation.allocated_pence, Allocation.committed_pence,
                                       Allocation.spent_pence))).all()
    await db.commit()
    return (await count_rows(db, LedgerEntry), await count_rows(db, AuditEvent),
            {row[0]: Balance(*row[1:]) for row in rows})


async def fund_manager(db: Any, passwords: Any, clock: Any, ods: str = "QMF",
                       email: str = "finn@icb.example.nhs.uk") -> Any:
    return await make_user(db, passwords, clock, email, await org(db, ods), Role.FUND_MANAGER)


async def trust(db: Any, clock: Any) -> Organisation:
    organisation = await make_trust(db, clock, name="Guy's and St Thomas' NHS Foundation Trust", ods="RJ1")
    await db.commit()
    return organisation


class TableRows(HTMLParser):
    """The text of each cell of each <tr data-allocation-id=...> row of one table (by id)."""

    def __init__(self, table_id: str) -> None:
        super().__init__()
        self.table_id, self.in_table, self.rows = table_id, False, {}
        self.row: int | None = None
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "table" and attributes.get("id") == self.table_id:
            self.in_table = True
        elif self.in_table and tag == "tr" and attributes.get("data-allocation-id"):
            self.row = int(attributes["data-allocation-id"] or 0)
            self.rows[self.row] = []
        elif self.row is not None and tag in ("td", "th"):
            self.cell = []
        elif self.cell is not None and tag == "strong":  # a tag (Lapsed, You manage) is not part of the value
            self.cell.append("\x00")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self.in_table = False
        elif tag == "tr":
            self.row = None
        elif tag in ("td", "th") and self.cell is not None and self.row is not None:
            self.rows[self.row].append("".join(self.cell).split("\x00")[0].strip())
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def table_rows(html: str, table_id: str) -> dict[int, list[str]]:
    parser = TableRows(table_id)
    parser.feed(html)
    return parser.rows
