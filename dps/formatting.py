"""How money and times are shown to people: pence as pounds, UTC instants in Europe/London."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

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


def london_moment(instant: datetime) -> str:
    """A moment as GOV.UK writes it, in Europe/London: '9:15am on Monday 5 January 2026', 'midday on ...'."""
    local = instant.astimezone(LONDON)
    if (local.hour, local.minute) == (12, 0):
        clock = "midday"
    elif (local.hour, local.minute) == (0, 0):
        clock = "midnight"
    else:
        clock = f"{(local.hour - 1) % 12 + 1}:{local.minute:02d}{'am' if local.hour < 12 else 'pm'}"
    return f"{clock} on {local.strftime('%A %-d %B %Y')}"
