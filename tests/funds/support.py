"""Helpers for fund tests: the books as the ledger sees them, and the rows of the allocation tables. Funds and
allocations are made with tests/factories.py (`make_fund`, `make_allocation`)."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import sqlalchemy as sa

from dps.audit.models import AuditEvent
from dps.funds.models import Allocation, LedgerEntry
from dps.funds.rules import Balance
from tests.helpers import count_rows


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


class TableRows(HTMLParser):
    """The text of each cell of each <tr data-allocation-id=...> row of one table (by id), without the column heading
    that a responsive table repeats in each cell for small screens."""

    def __init__(self, table_id: str) -> None:
        super().__init__()
        self.table_id, self.in_table, self.rows = table_id, False, {}
        self.row: int | None = None
        self.cell: list[str] | None = None
        self.in_heading = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "table" and attributes.get("id") == self.table_id:
            self.in_table = True
        elif self.in_table and tag == "tr" and attributes.get("data-allocation-id"):
            self.row = int(attributes["data-allocation-id"] or 0)
            self.rows[self.row] = []
        elif self.row is not None and tag in ("td", "th"):
            self.cell = []
        elif self.cell is not None and tag == "span" and "nhsuk-table__heading" in (attributes.get("class") or ""):
            self.in_heading = True
        elif self.cell is not None and tag == "strong":  # a tag (Lapsed, You manage) is not part of the value
            self.cell.append("\x00")

    def handle_endtag(self, tag: str) -> None:
        if tag == "span" and self.in_heading:
            self.in_heading = False
        elif tag == "table":
            self.in_table = False
        elif tag == "tr":
            self.row = None
        elif tag in ("td", "th") and self.cell is not None and self.row is not None:
            self.rows[self.row].append("".join(self.cell).split("\x00")[0].strip())
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None and not self.in_heading:
            self.cell.append(data)


def table_rows(html: str, table_id: str) -> dict[int, list[str]]:
    parser = TableRows(table_id)
    parser.feed(html)
    return parser.rows
