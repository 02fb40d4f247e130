"""Tables on a phone: every table of data in the templates is the NHS.UK responsive table (as nhsuk-frontend's table
macro writes it with `responsive: true`), so below desktop width each row stacks and each cell shows its column's
heading; no page relies on a stylesheet or script of its own to stack a table. The one exception, the side-by-side
comparison (its columns are innovations, not fields), scrolls within its own box. tests/browser/test_small_screens.py
checks the pages themselves at 375 px."""

from __future__ import annotations

import re
from pathlib import Path

from dps.settings import PROJECT_ROOT

TEMPLATES = PROJECT_ROOT / "templates"
SCROLLS_IN_ITS_BOX = {"catalogue/compare.html"}
TABLE = re.compile(r"<table\b[^>]*>.*?</table>", re.S)
CELL = re.compile(r"<td\b[^>]*>(.*?)</td>|\{\{ money\(([^{}]*)\) \}\}", re.S)


def tables() -> list[tuple[str, str]]:
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        name = str(path.relative_to(TEMPLATES))
        found += [(name, table) for table in TABLE.findall(path.read_text(encoding="utf-8"))]
    return found


def test_every_table_is_the_nhsuk_responsive_table_with_a_heading_in_each_cell():
    assert len(tables()) > 30
    problems = []
    for name, table in tables():
        opening = table.split(">", 1)[0]
        if name in SCROLLS_IN_ITS_BOX:
            continue
        if "nhsuk-table--responsive" not in opening or 'role="table"' not in opening:
            problems.append(f"{name}: {opening}> is not the responsive table")
            continue
        if 'role="rowgroup"' not in table or 'role="columnheader"' not in table:
            problems.append(f"{name}: a responsive table's head needs the rowgroup and columnheader roles")
        body = table.split("<tbody", 1)[1]
        for cell, money in CELL.findall(body):
            if money:
                if "," not in money:
                    problems.append(f"{name}: money({money}) without its column's heading")
            elif 'class="nhsuk-table__heading" aria-hidden="true"' not in cell and "<form" not in cell:
                problems.append(f"{name}: a cell without its column's heading: {cell.strip()[:80]}")
    assert not problems, "\n".join(problems)


def test_the_comparison_scrolls_within_its_own_box_and_no_script_stacks_tables():
    compare = (TEMPLATES / "catalogue" / "compare.html").read_text(encoding="utf-8")
    assert '<div class="nhsuk-table-container">\n<table' in compare
    for asset in ("app.js", "app.css"):
        assert "data-label" not in (Path(PROJECT_ROOT) / "static" / "app" / asset).read_text(encoding="utf-8")
