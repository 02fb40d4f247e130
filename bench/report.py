"""How every benchmark reports: a table of figure, value and unit with the machine it ran on, and a JSON record of
the run so the next run can be compared with it."""

from __future__ import annotations

import json
import os
import platform
import sqlite3
import statistics
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console()


@dataclass(frozen=True)
class Figure:
    name: str
    value: float | int | str | None
    unit: str = ""
    target: str = ""  # what the issues ask for, when they say

    def shown(self) -> str:
        if self.value is None:
            return "-"
        if isinstance(self.value, float):
            return f"{self.value:,.1f}" if abs(self.value) >= 100 else f"{self.value:,.2f}"
        if isinstance(self.value, int):
            return f"{self.value:,}"
        return str(self.value)


@dataclass
class Machine:
    cores: int
    cpu: str
    memory_gb: float
    python: str
    database: str
    search_backend: str
    load_average: float  # 1-minute load when the run started: other work on the machine skews every figure

    @classmethod
    def detect(cls, database: str, search_backend: str) -> Machine:
        import psutil

        cpu = platform.processor() or "unknown CPU"
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        except OSError:
            pass
        return cls(os.cpu_count() or 1, cpu, round(psutil.virtual_memory().total / 2**30, 1),
                   platform.python_version(), database, search_backend, round(os.getloadavg()[0], 1))

    def line(self) -> str:
        return (f"{self.cores} cores ({self.cpu}), {self.memory_gb} GB, Python {self.python}, {self.database}, "
                f"search: {self.search_backend}, load average {self.load_average} at the start")


def sqlite_version() -> str:
    return f"SQLite {sqlite3.sqlite_version}"


@dataclass
class Section:
    """One benchmark's figures, printed as one table."""

    title: str
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None

    def add(self, name: str, value: float | int | str | None, unit: str = "", target: str = "") -> None:
        self.figures.append(Figure(name, value, unit, target))

    def value(self, name: str) -> Any:
        return next((figure.value for figure in self.figures if figure.name == name), None)


def print_section(section: Section, machine: Machine) -> None:
    if section.skipped:
        console.print(f"[bold]{section.title}[/bold]: skipped: {section.skipped}")
        return
    table = Table(title=section.title, caption=machine.line(), title_justify="left", caption_justify="left")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("unit")
    with_targets = any(figure.target for figure in section.figures)
    if with_targets:
        table.add_column("target")
    for figure in section.figures:
        table.add_row(figure.name, figure.shown(), figure.unit, *([figure.target] if with_targets else []))
    console.print(table)
    for note in section.notes:
        console.print(f"  {note}")


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)

    def pick(percent: float) -> float:
        return ordered[min(len(ordered) - 1, int(round(percent / 100 * (len(ordered) - 1))))]

    return {"p50": pick(50), "p95": pick(95), "p99": pick(99), "mean": statistics.fmean(ordered)}


def save_run(path: Path, command: str, machine: Machine, sections: list[Section], data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "command": command, "machine": asdict(machine),
              "data": data, "sections": [asdict(section) for section in sections]}
    path.write_text(json.dumps(record, indent=2, default=str))


def compare_with(previous_path: Path, sections: list[Section]) -> None:
    """Print the figures that changed since the previous run recorded at `previous_path`."""
    if not previous_path.exists():
        return
    previous = json.loads(previous_path.read_text())
    before = {(s["title"], f["name"]): f["value"] for s in previous["sections"] for f in s["figures"]}
    table = Table(title=f"Compared with the run of {previous['at']} ({previous['command']})", title_justify="left")
    for column in ("benchmark", "figure", "before", "now", "change"):
        table.add_column(column, justify="right" if column in ("before", "now", "change") else "left")
    for section in sections:
        for figure in section.figures:
            old = before.get((section.title, figure.name))
            if isinstance(old, int | float) and isinstance(figure.value, int | float) and old:
                change = (figure.value - old) / abs(old) * 100
                table.add_row(section.title.split(":")[0], figure.name, Figure("", old).shown(), figure.shown(),
                              f"{change:+.0f}%")
    if table.row_count:
        console.print(table)


def markdown(record: dict[str, Any]) -> str:
    """A saved run as Markdown tables (for bench/README.md)."""
    machine = Machine(**record["machine"])
    lines = [f"`{record['command']}`, {record['at'][:10]}; {machine.line()}.", ""]
    for section in record["sections"]:
        lines.append(f"**{section['title']}**" + (f": skipped: {section['skipped']}" if section["skipped"] else ""))
        if section["skipped"]:
            lines.append("")
            continue
        lines += ["", "| figure | value | unit |", "|---|---:|---|"]
        for figure in section["figures"]:
            shown = Figure(figure["name"], figure["value"]).shown()
            lines.append(f"| {figure['name']} | {shown} | {figure['unit']} |")
        lines += [""] + [f"{note}" for note in section["notes"]] + [""]
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    print(markdown(json.loads(Path(sys.argv[1]).read_text())))
