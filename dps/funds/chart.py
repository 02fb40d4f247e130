"""The dashboard's chart: commitments and spend over the financial year, drawn server-side as SVG by matplotlib.

Uses the object-oriented API with the Agg-family SVG canvas (no pyplot: no global figure state, safe in worker
threads). Pages embed the SVG as a data: image, so the page's Content-Security-Policy (no inline styles) does not
apply to the chart's own styling; the page also gives the same numbers as a table for screen readers.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from functools import cache

from dps.funds.reports import MonthPoint
from dps.funds.rules import month_ends

# NHS identity colours: blue, dark green, and mid grey for the allocation line.
COMMITTED_COLOUR = "#005eb8"
SPENT_COLOUR = "#007f3b"
ALLOCATED_COLOUR = "#768692"


def _money_axis(value: float, _position: object) -> str:
    pounds = value / 100
    if abs(pounds) >= 1_000_000:
        return f"£{pounds / 1_000_000:,.1f}m"
    if abs(pounds) >= 1_000:
        return f"£{pounds / 1_000:,.0f}k"
    return f"£{pounds:,.0f}"


@cache
def _configure_matplotlib() -> None:
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text: smaller, and selectable
    matplotlib.rcParams["svg.hashsalt"] = "dps-funds"  # the same data draws the same file
    matplotlib.rcParams["font.family"] = "sans-serif"


def render_svg(points: Sequence[MonthPoint], title: str, financial_year: str) -> str:
    """A line chart of committed and spent (and the allocation) at each month end; the axis runs April to March
    even while the year is under way."""
    # matplotlib is imported on the first chart drawn, not with the app: it and numpy hold about 50 MiB of every
    # server process that only the funds dashboard uses.
    _configure_matplotlib()
    from matplotlib.backends.backend_svg import FigureCanvasSVG  # after choosing the backend
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    figure = Figure(figsize=(8, 3.6), dpi=96)
    FigureCanvasSVG(figure)
    axes = figure.add_subplot()
    labels = [end.strftime("%b") for end in month_ends(financial_year)]
    positions = range(len(points))
    axes.plot(positions, [p.balance.allocated for p in points], color=ALLOCATED_COLOUR, linestyle="--",
              linewidth=1.5, label="Allocated")
    axes.plot(positions, [p.balance.committed for p in points], color=COMMITTED_COLOUR, marker="o", markersize=3,
              linewidth=2, label="Committed (not yet paid)")
    axes.plot(positions, [p.balance.spent for p in points], color=SPENT_COLOUR, marker="s", markersize=3,
              linewidth=2, label="Spent")
    axes.set_xticks(list(range(len(labels))), labels)
    axes.set_xlim(-0.5, len(labels) - 0.5)
    axes.yaxis.set_major_formatter(FuncFormatter(_money_axis))
    highest = max([p.balance.allocated for p in points] + [p.balance.committed + p.balance.spent for p in points] + [1])
    axes.set_ylim(0, highest * 1.1)
    axes.set_title(title, fontsize=11, loc="left")
    axes.grid(axis="y", color="#d8dde0", linewidth=0.8)
    axes.spines[["top", "right"]].set_visible(False)
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=3, fontsize=8, frameon=False)
    figure.tight_layout()
    out = io.StringIO()
    figure.savefig(out, format="svg", metadata={"Date": None, "Creator": None})
    return out.getvalue()


def svg_data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")
