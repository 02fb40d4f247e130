"""The Jinja environment: our templates first, then the NHS.UK frontend macros."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from jinja2 import ChainableUndefined, ChoiceLoader, Environment, FileSystemLoader, PackageLoader, select_autoescape

from dps.settings import PROJECT_ROOT

LONDON = ZoneInfo("Europe/London")


def format_pence(pence: int | None) -> str:
    """Integer pence shown as pounds: 123456 -> '£1,234.56'."""
    if pence is None:
        return ""
    sign = "-" if pence < 0 else ""
    pounds, pennies = divmod(abs(pence), 100)
    return f"{sign}£{pounds:,}.{pennies:02d}"


def format_london(value: datetime | date | None, fmt: str = "%-d %B %Y %H:%M") -> str:
    """Times are stored in UTC and shown in Europe/London."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(LONDON).strftime(fmt)
    return value.strftime(fmt.replace(" %H:%M", ""))


def build_environment() -> Environment:
    environment = Environment(
        loader=ChoiceLoader([FileSystemLoader(PROJECT_ROOT / "templates"), PackageLoader("nhsuk_frontend_jinja")]),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=ChainableUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["pounds"] = format_pence
    environment.filters["london"] = format_london
    return environment
