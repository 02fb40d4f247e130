"""Working days, London instants and the deadlines of RULES.md sections 1-3.

Expected dates come from the published UK bank holiday calendars, not from running the code.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dps.calendar import (
    LONDON,
    WorkingDayCalendar,
    describe_period_end,
    evaluation_due,
    financial_year,
    financial_year_bounds,
    london_date,
    london_instant,
    minimum_tender_deadline,
    refresh_due,
    standstill_end,
    tender_period_last_day,
)
from dps.competitions.rules import can_confirm_award
from dps.errors import ValidationFailed
from dps.regimes import Regime

PCR = Regime.PCR2015_DPS
PA = Regime.PA2023_DYNAMIC_MARKET
ENGLAND_AND_WALES = WorkingDayCalendar.for_regime(PCR)
ALL_UK = WorkingDayCalendar.for_regime(PA)

PROPERTY_SETTINGS = settings(max_examples=60, deadline=None)
dates = st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31))
instants = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)
)
regimes = st.sampled_from(list(Regime))
calendars = st.sampled_from([ENGLAND_AND_WALES, ALL_UK])


def end_of_london_day(day: date) -> datetime:
    return datetime.combine(day, time(23, 59, 59), tzinfo=LONDON).astimezone(UTC)


def at_london(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LONDON).astimezone(UTC)


# --- which days are working days ---------------------------------------------------------------

# (day, working day in England & Wales?, working day everywhere in the UK?, why)
KNOWN_DAYS = [
    (date(2026, 1, 7), True, True, "an ordinary Wednesday"),
    (date(2026, 1, 10), False, False, "a Saturday"),
    (date(2026, 1, 11), False, False, "a Sunday"),
    (date(2025, 12, 25), False, False, "Christmas Day"),
    (date(2025, 12, 26), False, False, "Boxing Day"),
    (date(2026, 1, 1), False, False, "New Year's Day"),
    (date(2026, 1, 2), True, False, "2 January: a Scottish bank holiday only"),
    (date(2026, 3, 17), True, False, "St Patrick's Day: Northern Ireland only"),
    (date(2026, 4, 3), False, False, "Good Friday 2026"),
    (date(2026, 4, 6), False, False, "Easter Monday 2026 (England, Wales, Northern Ireland)"),
    (date(2026, 5, 4), False, False, "Early May bank holiday 2026"),
    (date(2026, 5, 25), False, False, "Spring bank holiday 2026"),
    (date(2026, 7, 13), True, False, "Battle of the Boyne observed: 12 July 2026 is a Sunday"),
    (date(2026, 8, 3), True, False, "Scottish summer bank holiday 2026"),
    (date(2026, 8, 31), False, False, "Summer bank holiday 2026 (England and Wales)"),
    (date(2026, 11, 30), True, False, "St Andrew's Day 2026 is a Monday: Scotland only"),
    (date(2026, 12, 28), False, False, "Boxing Day observed: 26 December 2026 is a Saturday"),
    (date(2027, 1, 4), True, False, "Scottish 2 January holiday observed: 2 January 2027 is a Saturday"),
    (date(2027, 3, 29), False, False, "Easter Monday 2027"),
    (date(2027, 7, 12), True, False, "Battle of the Boyne 2027, a Monday: Northern Ireland only"),
    (date(2027, 12, 27), False, False, "Christmas Day observed: 25 December 2027 is a Saturday"),
    (date(2027, 12, 28), False, False, "Boxing Day observed: 26 December 2027 is a Sunday"),
]


@pytest.mark.parametrize(("day", "england_and_wales", "all_uk", "why"), KNOWN_DAYS)
def test_known_working_days_and_bank_holidays(day: date, england_and_wales: bool, all_uk: bool, why: str) -> None:
    assert ENGLAND_AND_WALES.is_working_day(day) is england_and_wales, why
    assert ALL_UK.is_working_day(day) is all_uk, why


def test_for_regime_picks_the_subdivisions_of_rules_section_3() -> None:
    assert ENGLAND_AND_WALES.subdivisions == ("ENG",)
    assert set(ALL_UK.subdivisions) == {"ENG", "WLS", "SCT", "NIR"}
    assert WorkingDayCalendar.for_regime("pcr2015_dps") == ENGLAND_AND_WALES
    with pytest.raises(ValueError):
        WorkingDayCalendar.for_regime("pcr2006")


def test_dates_must_be_plain_dates_not_instants() -> None:
    # Passing an instant would silently use its UTC date instead of the London date.
    instant = datetime(2026, 1, 7, 12, tzinfo=UTC)
    for call in (
        lambda: ENGLAND_AND_WALES.is_working_day(instant),
        lambda: ENGLAND_AND_WALES.add_working_days(instant, 1),
        lambda: ENGLAND_AND_WALES.working_days_between(instant, date(2026, 1, 9)),
        lambda: ENGLAND_AND_WALES.next_working_day_on_or_after(instant),
        lambda: financial_year(instant),
        lambda: london_instant(instant),
    ):
        with pytest.raises(TypeError):
            call()


# --- counting working days -----------------------------------------------------------------------


def test_add_working_days_does_not_count_the_start_day() -> None:
    assert ENGLAND_AND_WALES.add_working_days(date(2026, 1, 5), 1) == date(2026, 1, 6)  # Mon -> Tue
    assert ENGLAND_AND_WALES.add_working_days(date(2026, 1, 9), 1) == date(2026, 1, 12)  # Fri -> Mon
    assert ENGLAND_AND_WALES.add_working_days(date(2026, 1, 10), 1) == date(2026, 1, 12)  # Sat -> Mon
    assert ENGLAND_AND_WALES.add_working_days(date(2026, 1, 5), 5) == date(2026, 1, 12)  # one week


def test_add_zero_working_days_is_the_start_even_on_a_holiday() -> None:
    assert ENGLAND_AND_WALES.add_working_days(date(2025, 12, 25), 0) == date(2025, 12, 25)


def test_add_working_days_skips_easter() -> None:
    # Thu 2 Apr 2026 -> (Good Friday, weekend, Easter Monday skipped) Tue 7 Apr.
    assert ENGLAND_AND_WALES.add_working_days(date(2026, 4, 2), 1) == date(2026, 4, 7)


def test_add_negative_working_days_is_refused() -> None:
    with pytest.raises(ValueError):
        ENGLAND_AND_WALES.add_working_days(date(2026, 1, 5), -1)


def test_working_days_between() -> None:
    assert ENGLAND_AND_WALES.working_days_between(date(2026, 1, 5), date(2026, 1, 5)) == 0
    assert ENGLAND_AND_WALES.working_days_between(date(2026, 1, 5), date(2026, 1, 12)) == 5
    assert ENGLAND_AND_WALES.working_days_between(date(2026, 1, 12), date(2026, 1, 5)) == -5
    # Over Christmas 2025: 22, 23, 24, 29, 30, 31 Dec, then 2 Jan in England only.
    assert ENGLAND_AND_WALES.working_days_between(date(2025, 12, 19), date(2026, 1, 2)) == 7
    assert ALL_UK.working_days_between(date(2025, 12, 19), date(2026, 1, 2)) == 6


def test_next_working_day_on_or_after() -> None:
    assert ENGLAND_AND_WALES.next_working_day_on_or_after(date(2026, 1, 7)) == date(2026, 1, 7)
    assert ENGLAND_AND_WALES.next_working_day_on_or_after(date(2025, 12, 25)) == date(2025, 12, 29)
    assert ENGLAND_AND_WALES.next_working_day_on_or_after(date(2026, 1, 1)) == date(2026, 1, 2)
    assert ALL_UK.next_working_day_on_or_after(date(2026, 1, 1)) == date(2026, 1, 5)


@PROPERTY_SETTINGS
@given(calendars, dates, st.integers(min_value=1, max_value=60))
def test_adding_working_days_always_lands_on_a_working_day(
    calendar: WorkingDayCalendar, start: date, n: int
) -> None:
    assert calendar.is_working_day(calendar.add_working_days(start, n))


@PROPERTY_SETTINGS
@given(calendars, dates, st.integers(min_value=0, max_value=60))
def test_working_days_between_inverts_add_working_days(calendar: WorkingDayCalendar, start: date, n: int) -> None:
    end = calendar.add_working_days(start, n)
    assert calendar.working_days_between(start, end) == n
    assert calendar.working_days_between(end, start) == -n


@PROPERTY_SETTINGS
@given(calendars, dates, st.integers(min_value=0, max_value=60))
def test_add_working_days_is_strictly_increasing_in_n(calendar: WorkingDayCalendar, start: date, n: int) -> None:
    assert calendar.add_working_days(start, n) < calendar.add_working_days(start, n + 1)


@PROPERTY_SETTINGS
@given(calendars, dates, dates, dates)
def test_working_days_between_adds_up(calendar: WorkingDayCalendar, a: date, b: date, c: date) -> None:
    assert calendar.working_days_between(a, b) + calendar.working_days_between(b, c) == (
        calendar.working_days_between(a, c)
    )


@PROPERTY_SETTINGS
@given(dates)
def test_all_uk_working_days_are_england_and_wales_working_days(day: date) -> None:
    if ALL_UK.is_working_day(day):
        assert ENGLAND_AND_WALES.is_working_day(day)


@PROPERTY_SETTINGS
@given(calendars, dates)
def test_next_working_day_is_the_first_working_day_on_or_after(calendar: WorkingDayCalendar, day: date) -> None:
    found = calendar.next_working_day_on_or_after(day)
    assert found >= day and calendar.is_working_day(found)
    assert calendar.working_days_between(day, found) == (0 if found == day else 1)


# --- London instants --------------------------------------------------------------------------------


def test_london_instant_follows_british_summer_time() -> None:
    assert london_instant(date(2026, 1, 7)) == datetime(2026, 1, 7, 12, tzinfo=UTC)
    assert london_instant(date(2026, 7, 7)) == datetime(2026, 7, 7, 11, tzinfo=UTC)
    assert london_instant(date(2026, 7, 7), time(23, 59, 59)) == datetime(2026, 7, 7, 22, 59, 59, tzinfo=UTC)
    assert london_instant(date(2026, 7, 7)).tzinfo is UTC


def test_london_instant_refuses_an_aware_wall_clock_time() -> None:
    with pytest.raises(ValueError):
        london_instant(date(2026, 7, 7), time(12, tzinfo=UTC))


def test_london_date_differs_from_the_utc_date_late_on_summer_evenings() -> None:
    assert london_date(datetime(2025, 6, 30, 23, 30, tzinfo=UTC)) == date(2025, 7, 1)
    assert london_date(datetime(2025, 12, 31, 23, 30, tzinfo=UTC)) == date(2025, 12, 31)
    assert london_date(datetime(2025, 7, 1, 0, 30, tzinfo=timezone(timedelta(hours=2)))) == date(2025, 6, 30)


@PROPERTY_SETTINGS
@given(dates, st.times())
def test_london_instant_and_london_date_round_trip(day: date, wall_clock: time) -> None:
    assert london_date(london_instant(day, wall_clock)) == day


# --- A3/A4 evaluation clock -------------------------------------------------------------------------


def test_worked_example_evaluation_due_ten_working_days() -> None:
    received = at_london(2025, 12, 19)  # Friday 19 December 2025
    assert evaluation_due(received, PCR) == end_of_london_day(date(2026, 1, 7))


def test_worked_example_evaluation_due_extended_to_fifteen_working_days() -> None:
    received = at_london(2025, 12, 19)
    assert evaluation_due(received, PCR, extended=True) == end_of_london_day(date(2026, 1, 14))


def test_evaluation_due_under_the_all_uk_calendar_skips_the_scottish_2_january() -> None:
    received = at_london(2025, 12, 19)
    assert evaluation_due(received, PA) == end_of_london_day(date(2026, 1, 8))
    assert evaluation_due(received, PA, extended=True) == end_of_london_day(date(2026, 1, 15))


def test_evaluation_clock_starts_from_the_london_date_of_receipt() -> None:
    # 23:30 UTC on Thu 2 Jul 2026 is 00:30 on Fri 3 Jul in London: the clock counts from Friday.
    received = datetime(2026, 7, 2, 23, 30, tzinfo=UTC)
    assert evaluation_due(received, PCR) == end_of_london_day(date(2026, 7, 17))


def test_evaluation_due_is_end_of_day_london_in_summer() -> None:
    received = at_london(2026, 6, 1)  # Monday; ten working days later is Mon 15 June
    assert evaluation_due(received, PCR) == datetime(2026, 6, 15, 22, 59, 59, tzinfo=UTC)


def test_application_received_at_the_weekend_counts_from_monday() -> None:
    received = at_london(2026, 1, 10)  # Saturday
    assert evaluation_due(received, PCR) == end_of_london_day(date(2026, 1, 23))


@PROPERTY_SETTINGS
@given(instants, regimes, st.booleans())
def test_evaluation_due_is_after_receipt_on_a_working_day(received: datetime, regime: Regime, extended: bool) -> None:
    due = evaluation_due(received, regime, extended)
    calendar = WorkingDayCalendar.for_regime(regime)
    assert due > received
    assert calendar.is_working_day(london_date(due))
    assert calendar.working_days_between(london_date(received), london_date(due)) == (15 if extended else 10)
    assert due.astimezone(LONDON).time() == time(23, 59, 59)


# --- A6 refresh --------------------------------------------------------------------------------------


def test_refresh_due_is_five_working_days() -> None:
    assert refresh_due(at_london(2026, 3, 2), PCR) == end_of_london_day(date(2026, 3, 9))


def test_refresh_due_skips_st_patricks_day_under_the_all_uk_calendar() -> None:
    requested = at_london(2026, 3, 16)  # Monday; Tue 17 March is a holiday in Northern Ireland
    assert refresh_due(requested, PCR) == end_of_london_day(date(2026, 3, 23))
    assert refresh_due(requested, PA) == end_of_london_day(date(2026, 3, 24))


def test_refresh_period_is_a_per_agreement_setting() -> None:
    assert refresh_due(at_london(2026, 3, 2), PCR, working_days=10) == end_of_london_day(date(2026, 3, 16))


# --- C8 standstill ------------------------------------------------------------------------------------
# A standstill ends at midnight at the end of its last day (London): its end is that instant, 00:00 the day after.


def midnight_at_end_of(day: date) -> datetime:
    """The end of a London day as the service writes it: 23:59:59 (the standstill is over at the next midnight)."""
    return datetime.combine(day, time(23, 59, 59), tzinfo=LONDON).astimezone(UTC)


def test_c8_worked_example_pa2023_standstill_over_christmas() -> None:
    # Day 1 Mon 22 Dec; 23, 24, 29, 30, 31 Dec; 2 Jan is a Scottish holiday; 5 Jan; day 8 is Tue 6 Jan.
    published = at_london(2025, 12, 22, 9)
    assert standstill_end(published, PA) == midnight_at_end_of(date(2026, 1, 6))
    assert describe_period_end(standstill_end(published, PA)) == "midnight at the end of 6 January 2026"


def test_c8_pa2023_standstill_published_on_a_non_working_day_starts_on_the_next_working_day() -> None:
    published = at_london(2026, 1, 10)  # Saturday: day 1 is Mon 12 Jan, day 8 Wed 21 Jan
    assert standstill_end(published, PA) == midnight_at_end_of(date(2026, 1, 21))


def test_c8_pa2023_standstill_published_late_in_the_day_still_counts_that_day() -> None:
    published = at_london(2026, 1, 12, 22, 30)  # Monday evening: still day 1
    assert standstill_end(published, PA) == midnight_at_end_of(date(2026, 1, 21))


def test_c8_pcr_standstill_is_ten_calendar_days() -> None:
    decided = at_london(2026, 1, 9)  # Friday; the tenth day is Mon 19 Jan, a working day
    assert standstill_end(decided, PCR) == midnight_at_end_of(date(2026, 1, 19))


def test_c8_pcr_standstill_ending_at_a_weekend_moves_to_monday() -> None:
    decided = at_london(2026, 1, 7)  # Wednesday; the tenth day is Sat 17 Jan
    assert standstill_end(decided, PCR) == midnight_at_end_of(date(2026, 1, 19))


def test_c8_pcr_standstill_ending_on_a_bank_holiday_moves_to_the_next_working_day() -> None:
    decided = at_london(2025, 12, 22)  # the tenth day is New Year's Day; 2 Jan is a working day in England
    assert standstill_end(decided, PCR) == midnight_at_end_of(date(2026, 1, 2))


def test_c8_pcr_standstill_over_easter_ends_at_midnight_london_summer_time() -> None:
    # Sent Tue 24 Mar 2026: the tenth day is Good Friday 3 Apr; Easter Monday 6 Apr is a bank holiday too; so the
    # standstill ends at midnight at the end of Tue 7 Apr, which is 23:00 UTC (British Summer Time).
    decided = at_london(2026, 3, 24, 16)
    assert standstill_end(decided, PCR) == datetime(2026, 4, 7, 22, 59, 59, tzinfo=UTC)
    assert describe_period_end(standstill_end(decided, PCR)) == "midnight at the end of 7 April 2026"


def test_c8_pcr_standstill_counts_from_the_london_date_the_letters_are_sent() -> None:
    # 00:30 on Sun 21 Jun 2026 in London is still 20 Jun in UTC: the London date counts (day 10 is Wed 1 Jul).
    sent = datetime(2026, 6, 20, 23, 30, tzinfo=UTC)
    assert standstill_end(sent, PCR) == midnight_at_end_of(date(2026, 7, 1))


def test_c8_a_standstill_is_not_over_until_midnight() -> None:
    end = standstill_end(at_london(2026, 1, 9), PCR)  # the tenth day is Mon 19 Jan
    assert end == datetime(2026, 1, 19, 23, 59, 59, tzinfo=LONDON)
    assert not can_confirm_award(datetime(2026, 1, 19, 23, 59, 59, 500000, tzinfo=LONDON), end, False)
    assert can_confirm_award(datetime(2026, 1, 20, 0, 0, tzinfo=LONDON), end, False)


def test_c8_a_period_end_that_is_not_midnight_reads_as_a_time() -> None:
    assert describe_period_end(datetime(2026, 1, 21, 14, 5, tzinfo=UTC)) == "2:05pm on 21 January 2026"
    assert describe_period_end(datetime(2026, 7, 1, 11, 0, tzinfo=UTC)) == "midday on 1 July 2026"


@PROPERTY_SETTINGS
@given(instants, regimes)
def test_c8_standstill_ends_at_the_end_of_a_working_day(decided: datetime, regime: Regime) -> None:
    end = standstill_end(decided, regime)
    assert end > decided
    assert end.astimezone(LONDON).time() == time(23, 59, 59)
    last_day = london_date(end)
    assert WorkingDayCalendar.for_regime(regime).is_working_day(last_day)
    if regime is PCR:
        assert last_day >= london_date(decided) + timedelta(days=10)
    else:
        assert ALL_UK.working_days_between(london_date(decided), last_day) >= 7


# --- C2 minimum tender period: Regulation 1182/71, whole London days --------------------------------------
#
# The day of sending is not counted; the period runs from the start of the next London day to the end of the
# 10th. "The end of the 10th day" is the day boundary, 00:00 London on the 11th day, and a deadline is lawful when it
# is at or after it: bids are taken while now < deadline, so that deadline leaves suppliers the whole 10th day.

# Instants around the changes of clocks in London (01:00 UTC on the last Sunday of March and of October).
CLOCK_CHANGES = [datetime(year, month, day, 1, 0, tzinfo=UTC) for year, month, day in (
    (2024, 3, 31), (2024, 10, 27), (2025, 3, 30), (2025, 10, 26), (2026, 3, 29), (2026, 10, 25), (2027, 3, 28),
    (2027, 10, 31))]
near_clock_changes = st.builds(lambda change, minutes: change + timedelta(minutes=minutes),
                               st.sampled_from(CLOCK_CHANGES), st.integers(-12 * 24 * 60, 12 * 24 * 60))
sending_times = st.one_of(instants, near_clock_changes)
tender_days = st.integers(min_value=1, max_value=60)


def end_of_day_in_london(day: date) -> datetime:
    return datetime.combine(day, time(23, 59, 59), tzinfo=LONDON).astimezone(UTC)


def test_c2_worked_example_sent_at_two_pm_on_1_june_the_earliest_deadline_is_23_59_59_on_11_june() -> None:
    sent = at_london(2026, 6, 1, 14, 0)  # Monday, British Summer Time
    floor = minimum_tender_deadline(sent)
    assert tender_period_last_day(sent) == date(2026, 6, 11)
    assert floor == datetime(2026, 6, 11, 22, 59, 59, tzinfo=UTC)
    assert floor.astimezone(LONDON).replace(tzinfo=None) == datetime(2026, 6, 11, 23, 59, 59)
    # The old count of 240 hours, 14:00 on 11 June, is short by ten hours.
    assert at_london(2026, 6, 11, 14, 0) < floor


def test_c2_the_hour_of_sending_does_not_matter_only_its_london_day() -> None:
    first_instant = datetime.combine(date(2026, 6, 1), time(0, 0), tzinfo=LONDON).astimezone(UTC)
    last_instant = first_instant + timedelta(days=1) - timedelta(microseconds=1)
    assert minimum_tender_deadline(first_instant) == minimum_tender_deadline(last_instant) \
        == end_of_day_in_london(date(2026, 6, 11))
    next_day = last_instant + timedelta(microseconds=1)
    assert minimum_tender_deadline(next_day) == end_of_day_in_london(date(2026, 6, 12))


def test_c2_the_day_of_sending_is_the_london_day_not_the_utc_day() -> None:
    # 23:30 UTC on 1 June is 00:30 on 2 June in London (summer): the period starts on 3 June.
    summer = datetime(2026, 6, 1, 23, 30, tzinfo=UTC)
    assert tender_period_last_day(summer) == date(2026, 6, 12)
    assert minimum_tender_deadline(summer) == datetime(2026, 6, 12, 22, 59, 59, tzinfo=UTC)
    # In winter London keeps UTC: 23:30 UTC on 5 January is still 5 January.
    winter = datetime(2026, 1, 5, 23, 30, tzinfo=UTC)
    assert minimum_tender_deadline(winter) == datetime(2026, 1, 15, 23, 59, 59, tzinfo=UTC)


@pytest.mark.parametrize(("sent", "last_day"), [
    # Clocks go forward on Sunday 29 March 2026: the period holds a 23-hour day.
    (at_london(2026, 3, 20, 23, 0), date(2026, 3, 30)),
    # Sent at 00:30 GMT on the day the clocks go forward (before 01:00 UTC): that day is not counted.
    (datetime(2026, 3, 29, 0, 30, tzinfo=UTC), date(2026, 4, 8)),
    # Clocks go back on Sunday 25 October 2026: the period holds a 25-hour day.
    (at_london(2026, 10, 20, 0, 0), date(2026, 10, 30)),
    # Sent at 01:30 BST, the first of the two 01:30s on 25 October: the 25th is the day of sending.
    (datetime(2026, 10, 25, 0, 30, tzinfo=UTC), date(2026, 11, 4)),
    # ... and the second 01:30 (GMT) is still 25 October.
    (datetime(2026, 10, 25, 1, 30, tzinfo=UTC), date(2026, 11, 4)),
])
def test_c2_across_a_change_of_clocks_the_period_still_ends_at_the_end_of_a_london_day(sent, last_day):
    assert tender_period_last_day(sent) == last_day
    floor = minimum_tender_deadline(sent)
    assert floor == end_of_day_in_london(last_day)
    assert floor.astimezone(LONDON).time() == time(23, 59, 59)


def test_c2_a_longer_period_counts_the_same_way() -> None:
    sent = at_london(2026, 2, 2, 9, 15)
    assert minimum_tender_deadline(sent, days=15) == end_of_day_in_london(date(2026, 2, 17))
    assert minimum_tender_deadline(sent, days=10) == end_of_day_in_london(date(2026, 2, 12))


def test_c2_weekends_and_bank_holidays_count_as_days() -> None:
    # Sent on Friday 18 December 2025: the 10 days hold two weekends, Christmas Day and Boxing Day.
    assert tender_period_last_day(at_london(2025, 12, 18, 16, 0)) == date(2025, 12, 28)


def test_c2_minimum_tender_deadline_returns_utc() -> None:
    deadline = minimum_tender_deadline(datetime(2026, 6, 1, 10, 0, tzinfo=LONDON))
    assert deadline.tzinfo is UTC


def test_c2_minimum_tender_deadline_refuses_negative_days() -> None:
    with pytest.raises(ValueError):
        minimum_tender_deadline(datetime(2026, 2, 2, tzinfo=UTC), days=-1)


@PROPERTY_SETTINGS
@given(sending_times, tender_days)
def test_c2_the_floor_is_the_last_second_of_the_last_london_day(sent: datetime, days: int) -> None:
    floor = minimum_tender_deadline(sent, days)
    last_day = tender_period_last_day(sent, days)
    assert floor.tzinfo is UTC
    assert floor.astimezone(LONDON).time() == time(23, 59, 59)
    assert london_date(floor) == last_day
    assert london_date(floor + timedelta(seconds=1)) == last_day + timedelta(days=1)
    assert (last_day - london_date(sent)).days == days


@PROPERTY_SETTINGS
@given(sending_times, tender_days)
def test_c2_the_floor_is_about_n_whole_days_after_sending(sent: datetime, days: int) -> None:
    period = minimum_tender_deadline(sent, days) - sent
    # At least the n whole days after the day of sending (less an hour when the clocks go forward in between)...
    assert period > timedelta(days=days) - timedelta(hours=1)
    # ... and never more than the rest of the sending day plus those n days (plus an hour when they go back).
    assert period <= timedelta(days=days + 1) + timedelta(hours=1)


@PROPERTY_SETTINGS
@given(sending_times, sending_times, tender_days)
def test_c2_a_later_invitation_never_has_an_earlier_floor(a: datetime, b: datetime, days: int) -> None:
    earlier, later = sorted((a, b))
    assert minimum_tender_deadline(earlier, days) <= minimum_tender_deadline(later, days)


@PROPERTY_SETTINGS
@given(sending_times, tender_days)
def test_c2_a_longer_period_has_a_later_floor_by_whole_days(sent: datetime, days: int) -> None:
    shorter, longer = minimum_tender_deadline(sent, days), minimum_tender_deadline(sent, days + 1)
    assert longer > shorter
    assert london_date(longer) - london_date(shorter) == timedelta(days=1)


# --- naive datetimes are refused everywhere --------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda naive: london_date(naive),
        lambda naive: evaluation_due(naive, PCR),
        lambda naive: refresh_due(naive, PA),
        lambda naive: standstill_end(naive, PCR),
        lambda naive: standstill_end(naive, PA),
        lambda naive: minimum_tender_deadline(naive),
    ],
)
def test_naive_datetimes_are_refused(call) -> None:
    with pytest.raises(ValueError):
        call(datetime(2026, 1, 7, 12, 0))


# --- financial years -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "label"),
    [
        (date(2025, 4, 1), "2025/26"),
        (date(2026, 3, 31), "2025/26"),
        (date(2026, 4, 1), "2026/27"),
        (date(2026, 1, 15), "2025/26"),
        (date(1999, 4, 1), "1999/00"),
        (date(2000, 3, 31), "1999/00"),
        (date(2009, 12, 31), "2009/10"),
    ],
)
def test_financial_year_label(day: date, label: str) -> None:
    assert financial_year(day) == label


def test_financial_year_bounds() -> None:
    assert financial_year_bounds("2025/26") == (date(2025, 4, 1), date(2026, 3, 31))
    assert financial_year_bounds("1999/00") == (date(1999, 4, 1), date(2000, 3, 31))
    assert financial_year_bounds(" 2023/24 ") == (date(2023, 4, 1), date(2024, 3, 31))
    # 2027/28 ends in a leap year, but 31 March is the end either way.
    assert financial_year_bounds("2027/28") == (date(2027, 4, 1), date(2028, 3, 31))


@pytest.mark.parametrize("label", ["", "2025", "2025/27", "2025-26", "25/26", "2025/2026", "abcd/ef", "0000/01",
                                   "٢٠٢٥/٢٦"])
def test_invalid_financial_year_labels_are_refused(label: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        financial_year_bounds(label)
    assert refused.value.field == "financial_year"
    assert str(refused.value) == "Enter a financial year like 2025/26"


@PROPERTY_SETTINGS
@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31)))
def test_financial_year_round_trips_with_its_bounds(day: date) -> None:
    label = financial_year(day)
    first, last = financial_year_bounds(label)
    assert first <= day <= last
    assert (first.month, first.day, last.month, last.day) == (4, 1, 3, 31)
    assert last.year == first.year + 1
    assert financial_year(first) == financial_year(last) == label
    assert financial_year(first - timedelta(days=1)) != label
    assert financial_year(last + timedelta(days=1)) != label
