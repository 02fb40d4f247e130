"""Working days, London dates and the deadlines built from them (RULES.md sections 1, 2 and 3).

Pure functions: every instant is passed in (the clock is never read) and must be timezone-aware.
Deadlines are instants returned in UTC. The due instants of the evaluation, refresh and standstill clocks are the
last second of a London day (23:59:59 Europe/London), a clock that is overdue only after it (`now > due`); so is
the tender deadline floor (C2): see `minimum_tender_deadline`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import MAXYEAR, UTC, date, datetime, time, timedelta
from functools import cache

import holidays

from dps.dates import LONDON
from dps.errors import ValidationFailed
from dps.regimes import Regime

END_OF_DAY = time(23, 59, 59)
MIDNIGHT = time(0, 0)
ONE_DAY = timedelta(days=1)

# A3/A4: the evaluation clock, and its extension in an individual justified case.
EVALUATION_WORKING_DAYS = 10
EXTENDED_EVALUATION_WORKING_DAYS = 15
# A6: how long an admitted supplier has to refresh its declaration ([check]: a per-agreement default).
REFRESH_WORKING_DAYS = 5
# C2: minimum tender period in calendar days, the regime's floor (an agreement may set a longer period, never a
# shorter one; see dps.competitions.rules.minimum_tender_days).
MINIMUM_TENDER_CALENDAR_DAYS = 10
# C8: standstill under each regime.
PCR_STANDSTILL_CALENDAR_DAYS = 10
PA_STANDSTILL_WORKING_DAYS = 8

# RULES.md section 3: England & Wales under PCR 2015; any part of the UK under the Procurement Act 2023.
_UK_SUBDIVISIONS_BY_REGIME: dict[Regime, tuple[str, ...]] = {
    Regime.PCR2015_DPS: ("ENG",),
    Regime.PA2023_DYNAMIC_MARKET: ("ENG", "WLS", "SCT", "NIR"),
}


@cache
def _bank_holidays(subdivisions: tuple[str, ...], year: int) -> frozenset[date]:
    """Bank holidays of one year in any of the subdivisions; observed (substitute) days included."""
    days: set[date] = set()
    for subdivision in subdivisions:
        days.update(holidays.country_holidays("GB", subdiv=subdivision, years=year, observed=True))
    return frozenset(days)


def _require_aware(instant: datetime) -> datetime:
    if not isinstance(instant, datetime):
        raise TypeError(f"Expected a datetime, got {type(instant).__name__}")
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("A naive datetime is ambiguous: pass a timezone-aware instant")
    return instant


def _require_plain_date(day: date) -> date:
    # A datetime is a date subclass; accepting one would silently use its own (often UTC) calendar date
    # instead of the London date. Callers convert with london_date() first.
    if isinstance(day, datetime) or not isinstance(day, date):
        raise TypeError(f"Expected a date (use london_date() for instants), got {type(day).__name__}")
    return day


@dataclass(frozen=True)
class WorkingDayCalendar:
    """Monday to Friday, except bank holidays in any of `subdivisions` (holidays' GB subdivision codes)."""

    subdivisions: tuple[str, ...]

    @classmethod
    def for_regime(cls, regime: Regime | str) -> WorkingDayCalendar:
        return cls(_UK_SUBDIVISIONS_BY_REGIME[Regime(regime)])

    def is_working_day(self, day: date) -> bool:
        return self._is_working_day(_require_plain_date(day))

    def add_working_days(self, start: date, n: int) -> date:
        """The n-th working day after `start` (`start` itself is not counted; n=0 gives `start`)."""
        day = _require_plain_date(start)
        if n < 0:
            raise ValueError("n must be 0 or more")
        remaining = n
        while remaining:
            day += ONE_DAY
            if self._is_working_day(day):
                remaining -= 1
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """How many working days d have start < d <= end; negative (mirrored) when end is before start."""
        _require_plain_date(start)
        _require_plain_date(end)
        if end < start:
            return -self.working_days_between(end, start)
        span = (end - start).days
        return sum(1 for offset in range(1, span + 1) if self._is_working_day(start + timedelta(days=offset)))

    def next_working_day_on_or_after(self, day: date) -> date:
        day = _require_plain_date(day)
        while not self._is_working_day(day):
            day += ONE_DAY
        return day

    def _is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in _bank_holidays(self.subdivisions, day.year)


def london_instant(day: date, at: time = time(12, 0)) -> datetime:
    """The UTC instant at which London's wall clock shows `at` on `day`."""
    _require_plain_date(day)
    if at.tzinfo is not None:
        raise ValueError("`at` is a London wall-clock time and must not carry a timezone")
    return datetime.combine(day, at, tzinfo=LONDON).astimezone(UTC)


def london_date(instant: datetime) -> date:
    """The calendar date in London at `instant` (which may differ from its UTC date)."""
    return _require_aware(instant).astimezone(LONDON).date()


def _end_of_working_day_after(start: datetime, regime: Regime | str, working_days: int) -> datetime:
    calendar = WorkingDayCalendar.for_regime(regime)
    due_day = calendar.add_working_days(london_date(start), working_days)
    return london_instant(due_day, END_OF_DAY)


def evaluation_due(received_at: datetime, regime: Regime | str, extended: bool = False) -> datetime:
    """A3/A4: end of the 10th (15th if extended) working day after the London date of receipt."""
    working_days = EXTENDED_EVALUATION_WORKING_DAYS if extended else EVALUATION_WORKING_DAYS
    return _end_of_working_day_after(received_at, regime, working_days)


def refresh_due(
    requested_at: datetime, regime: Regime | str, working_days: int = REFRESH_WORKING_DAYS
) -> datetime:
    """A6: end of the 5th working day (or the agreement's setting) after the London date of the request."""
    return _end_of_working_day_after(requested_at, regime, working_days)


def standstill_end(started_at: datetime, regime: Regime | str) -> datetime:
    """C8: the instant a standstill ends: the end of its last day, London time, written as 23:59:59 like every
    other end-of-day deadline here (`END_OF_DAY`); the contract may be entered into only after it (`now > end`).

    pcr2015_dps (reg 87): started by the award decision notices to every bidder; ten calendar days counted from
    the day after they are sent, ending at midnight at the end of the tenth; if that day is not a working day in
    England, at midnight at the end of the next working day.
    pa2023_dynamic_market (s.51): started by the publication of the contract award notice; eight working days
    (any part of the UK) beginning with the publication day, which is day 1 if it is a working day.

    """
    regime = Regime(regime)
    calendar = WorkingDayCalendar.for_regime(regime)
    start_day = london_date(started_at)
    if regime is Regime.PCR2015_DPS:
        last_day = calendar.next_working_day_on_or_after(start_day + timedelta(days=PCR_STANDSTILL_CALENDAR_DAYS))
    else:
        first_day = calendar.next_working_day_on_or_after(start_day)
        last_day = calendar.add_working_days(first_day, PA_STANDSTILL_WORKING_DAYS - 1)
    return london_instant(last_day, END_OF_DAY)


def describe_period_end(end: datetime) -> str:
    """How the end of a period reads to people: "midnight at the end of 6 January 2026" for a period that ends at
    the end of a London day, else the London time and date ("2:05pm on 6 January 2026", after a paused standstill)."""
    local = _require_aware(end).astimezone(LONDON)
    if local.time().replace(microsecond=0) == END_OF_DAY:
        return f"midnight at the end of {local.date():%-d %B %Y}"
    if local.time() == MIDNIGHT:
        return f"midnight at the end of {(local.date() - ONE_DAY):%-d %B %Y}"
    clock = f"{(local.hour - 1) % 12 + 1}:{local.minute:02d}{'am' if local.hour < 12 else 'pm'}"
    if (local.hour, local.minute) == (12, 0):
        clock = "midday"
    return f"{clock} on {local:%-d %B %Y}"


def start_of_london_day(day: date) -> datetime:
    """The first instant of a London day (00:00 Europe/London), in UTC. London changes its clocks at 01:00 UTC,
    never at midnight, so every London day has exactly one midnight: in winter 00:00 UTC, in summer 23:00 UTC on
    the day before."""
    return london_instant(_require_plain_date(day), time(0, 0))


def tender_period_last_day(invited_at: datetime, days: int = MINIMUM_TENDER_CALENDAR_DAYS) -> date:
    """C2: the last London day of a tender period of `days` days from an invitation sent at `invited_at`.

    Regulation 1182/71 (applied by PCR 2015 reg 2(5); the Procurement Act 2023 dynamic market is counted the same
    way, RULES.md C2): the day on which the invitation is sent is not counted, so the period starts at the
    beginning of the next London day and its last day is the `days`-th day after the day of sending. Sent at
    14:00 on 1 June, a 10-day period runs from the start of 2 June to the end of 11 June. Weekends and bank holidays
    count like any other day.
    """
    if days < 0:
        raise ValueError("days must be 0 or more")
    return london_date(invited_at) + timedelta(days=days)


def minimum_tender_deadline(invited_at: datetime, days: int = MINIMUM_TENDER_CALENDAR_DAYS) -> datetime:
    """C2: the earliest lawful tender deadline for an invitation sent at `invited_at`, in UTC.

    The period ends "at the end of the last day" (`tender_period_last_day`), which this service writes as 23:59:59
    Europe/London on that day, as it writes every other end-of-day deadline (`END_OF_DAY`). A tender deadline D is
    lawful when D >= this instant. Sent at 14:00 on 1 June 2026 (BST), a 10-day period runs from the start of 2 June
    to 23:59:59 on 11 June (22:59:59 UTC), not to 14:00 on 11 June as a count of 240 hours would have it. A buyer
    typing 11:59pm on the last day means its end: the competition form stores that minute as 23:59:59.
    """
    return london_instant(tender_period_last_day(invited_at, days), END_OF_DAY)


_FINANCIAL_YEAR_LABEL = re.compile(r"([0-9]{4})/([0-9]{2})")
_FINANCIAL_YEAR_START_MONTH = 4


def financial_year(day: date) -> str:
    """The NHS financial year (1 April to 31 March) containing `day`, labelled like "2025/26"."""
    _require_plain_date(day)
    start_year = day.year if day.month >= _FINANCIAL_YEAR_START_MONTH else day.year - 1
    return f"{start_year:04d}/{(start_year + 1) % 100:02d}"


def financial_year_bounds(label: str) -> tuple[date, date]:
    """First and last day (1 April, 31 March) of the financial year labelled like "2025/26"."""
    match = _FINANCIAL_YEAR_LABEL.fullmatch(label.strip())
    start_year = int(match.group(1)) if match else 0
    if not match or int(match.group(2)) != (start_year + 1) % 100 or not 1 <= start_year < MAXYEAR:
        raise ValidationFailed("Enter a financial year like 2025/26", field="financial_year")
    return date(start_year, _FINANCIAL_YEAR_START_MONTH, 1), date(start_year + 1, 3, 31)
