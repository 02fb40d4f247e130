"""Dates and times as people type and read them: the NHS.UK date input, and instants shown in Europe/London. Pure.

Times are stored as aware UTC instants and shown in London time. A date is typed into three fields named
`<prefix>-day`, `<prefix>-month` and `<prefix>-year`; every form reads them through parse_date_input. Filters and
the API take a date as YYYY-MM-DD, read by parse_iso_date.
The working-day and deadline rules built on London dates are in dps.calendar.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from zoneinfo import ZoneInfo

from dps.errors import ValidationFailed
from dps.forms import label_in_sentence

LONDON = ZoneInfo("Europe/London")

DATE_PARTS = ("day", "month", "year")
DATE_EXAMPLE = "31 3 2027"
_DAY_OR_MONTH = re.compile(r"[0-9]{1,2}", re.ASCII)
_NUMBER = re.compile(r"[0-9]+", re.ASCII)
_YEAR = re.compile(r"[0-9]{4}", re.ASCII)  # four digits: never a year date() cannot hold
_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})", re.ASCII)
ISO_DATE_EXAMPLE = "2026-01-31"


def parse_date_input(values: Mapping[str, str], prefix: str, label: str) -> date:
    """The date typed into the NHS.UK date input `prefix` (fields `<prefix>-day`, `-month`, `-year`).

    `label` is the question as the page shows it ("Certificate expiry date"); an error names it and belongs to the
    field `prefix`. Only the digits 0-9 are read; the year has four of them.
    """
    day, month, year = (str(values.get(f"{prefix}-{part}", "")).strip() for part in DATE_PARTS)
    missing = [part for part, text in zip(DATE_PARTS, (day, month, year), strict=True) if not text]
    if len(missing) == len(DATE_PARTS):
        raise ValidationFailed(f"Enter the {label_in_sentence(label)}", field=prefix)
    if missing:
        raise ValidationFailed(f"{label} must include a {' and '.join(missing)}", field=prefix)
    real_date = f"{label} must be a real date, like {DATE_EXAMPLE}"
    if not (_DAY_OR_MONTH.fullmatch(day) and _DAY_OR_MONTH.fullmatch(month) and _NUMBER.fullmatch(year)):
        raise ValidationFailed(real_date, field=prefix)
    if not _YEAR.fullmatch(year):
        raise ValidationFailed(f"{label} must include a year with 4 numbers, like 2027", field=prefix)
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        raise ValidationFailed(real_date, field=prefix) from None


def parse_iso_date(raw: str, field: str) -> date:
    """A date written as YYYY-MM-DD, as an HTML date field or an API parameter sends it (digits 0-9 only)."""
    match = _ISO_DATE.fullmatch(raw.strip())
    if match is not None:
        try:
            return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        except ValueError:
            pass
    raise ValidationFailed(f"Enter a date like {ISO_DATE_EXAMPLE}", field=field)


def date_input_values(prefix: str, day: date) -> dict[str, str]:
    """A date put back into the NHS.UK date input `prefix`, so that parse_date_input reads the same date."""
    return {f"{prefix}-day": str(day.day), f"{prefix}-month": str(day.month), f"{prefix}-year": str(day.year)}


def format_day(value: datetime | date | str | None) -> str:
    """The `day` filter: a day as people read it, "31 March 2026". An instant is first put on the London clock; a
    date stored as text (YYYY-MM-DD, as answers keep it) is read first. Nothing for a missing value."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        match = _ISO_DATE.fullmatch(value.strip())
        if match is None:
            return value
        value = date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    if isinstance(value, datetime):
        value = value.astimezone(LONDON).date()
    return f"{value.day} {value.strftime('%B %Y')}"


def format_clock_time(instant: datetime) -> str:
    """A time on the London clock as people say it: "9am", "9:15am", "12pm", "11:59pm", "12am"."""
    local = instant.astimezone(LONDON)
    hour = (local.hour - 1) % 12 + 1
    minutes = f":{local.minute:02d}" if local.minute else ""
    return f"{hour}{minutes}{'am' if local.hour < 12 else 'pm'}"


def format_moment(value: datetime | None) -> str:
    """The `moment` filter: an instant in London, "12pm on 31 March 2026". Nothing for a missing value."""
    if value is None:
        return ""
    return f"{format_clock_time(value)} on {format_day(value)}"


def format_london(value: datetime | date | str | None, fmt: str | None = None) -> str:
    """The `london` filter: an instant as `format_moment` writes it ("9am on 7 January 2026"), a day as `format_day`
    does ("7 January 2026"); `fmt` (strftime, London time) only where a page needs another shape."""
    if value is None or value == "":
        return ""
    if fmt is not None and isinstance(value, (datetime, date)):
        if isinstance(value, datetime):
            return value.astimezone(LONDON).strftime(fmt)
        return value.strftime(fmt.replace(" %H:%M", ""))
    if isinstance(value, datetime):
        return format_moment(value)
    return format_day(value)


def london_moment(instant: datetime) -> str:
    """A moment as GOV.UK writes it, in London: "9:15am on Monday 5 January 2026", "midday on ...", "midnight on..."."""
    local = instant.astimezone(LONDON)
    if (local.hour, local.minute) == (12, 0):
        clock = "midday"
    elif (local.hour, local.minute) == (0, 0):
        clock = "midnight"
    else:
        clock = f"{(local.hour - 1) % 12 + 1}:{local.minute:02d}{'am' if local.hour < 12 else 'pm'}"
    return f"{clock} on {local.strftime('%A %-d %B %Y')}"


def london_day_at_time(instant: datetime) -> str:
    """An instant as an email states it, in London: "7 January 2026 at 09:00"."""
    return instant.astimezone(LONDON).strftime("%-d %B %Y at %H:%M")
