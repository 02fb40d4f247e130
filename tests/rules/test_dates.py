"""Dates typed into the NHS.UK date input and YYYY-MM-DD fields, and instants shown in London time."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dps import calendar
from dps.dates import (
    LONDON,
    date_input_values,
    format_day,
    format_london,
    format_moment,
    london_day_at_time,
    london_moment,
    parse_date_input,
    parse_iso_date,
)
from dps.errors import ValidationFailed
from dps.settings import PROJECT_ROOT

LABEL = "Certificate expiry date"


def typed(day: str, month: str, year: str) -> dict[str, str]:
    return {"expiry-day": day, "expiry-month": month, "expiry-year": year}


def refusal(values: dict[str, str]) -> str:
    with pytest.raises(ValidationFailed) as refused:
        parse_date_input(values, "expiry", LABEL)
    assert refused.value.field == "expiry"  # the error summary links to the date input
    return str(refused.value)


@pytest.mark.parametrize(("values", "expected"), [
    (typed("31", "3", "2027"), date(2027, 3, 31)),
    (typed(" 01 ", "03", " 2027"), date(2027, 3, 1)),
    (typed("29", "2", "2028"), date(2028, 2, 29)),
])
def test_a_real_date_is_read(values, expected):
    assert parse_date_input(values, "expiry", LABEL) == expected


def test_nothing_typed_asks_for_the_date_by_its_question():
    assert refusal({}) == "Enter the certificate expiry date"
    assert refusal(typed(" ", "", "")) == "Enter the certificate expiry date"


@pytest.mark.parametrize(("values", "message"), [
    (typed("", "3", "2027"), "Certificate expiry date must include a day"),
    (typed("31", "", "2027"), "Certificate expiry date must include a month"),
    (typed("", "3", ""), "Certificate expiry date must include a day and year"),
])
def test_a_date_with_a_part_missing_says_which(values, message):
    assert refusal(values) == message


@pytest.mark.parametrize("values", [
    typed("31", "2", "2027"), typed("0", "1", "2027"), typed("1", "13", "2027"), typed("1", "1", "0000"),
    typed("١", "1", "2027"), typed("1", "1", "２０２７"), typed("+1", "1", "2027"), typed("1.5", "1", "2027"),
    typed("-1", "1", "2027"), typed("001", "1", "2027"), typed("1", "March", "2027"), typed("1_0", "1", "2027"),
])
def test_an_impossible_or_garbled_date_is_refused(values):
    assert refusal(values) == "Certificate expiry date must be a real date, like 31 3 2027"


@pytest.mark.parametrize("year", ["27", "202", "20270", "99999999999999999999999"])
def test_the_year_has_four_numbers_and_a_huge_one_is_refused_cleanly(year):
    assert refusal(typed("1", "1", year)) == "Certificate expiry date must include a year with 4 numbers, like 2027"


@given(st.dates(min_value=date(1000, 1, 1)))
def test_a_date_put_back_into_the_input_reads_as_the_same_date(day):
    assert parse_date_input(date_input_values("expiry", day), "expiry", LABEL) == day


@given(st.text(max_size=12), st.text(max_size=12), st.text(max_size=25))
def test_whatever_is_typed_the_answer_is_a_date_or_a_clear_refusal(day, month, year):
    try:
        parse_date_input(typed(day, month, year), "expiry", LABEL)
    except ValidationFailed as refused:
        assert str(refused).startswith(("Enter the certificate expiry date", "Certificate expiry date must"))


def test_a_yyyy_mm_dd_date_is_read_strictly():
    assert parse_iso_date(" 2026-01-31 ", "since") == date(2026, 1, 31)
    for raw in ("", "2026-02-30", "20260131", "2026-W05-1", "２０２６-01-31", "31/01/2026", "2026-1-31", "yesterday"):
        with pytest.raises(ValidationFailed, match="^Enter a date like 2026-01-31$") as refused:
            parse_iso_date(raw, "since")
        assert refused.value.field == "since"


def test_instants_are_shown_on_the_london_clock():
    summer, winter = datetime(2026, 6, 15, 11, 0, tzinfo=UTC), datetime(2026, 1, 7, 9, 0, tzinfo=UTC)
    assert format_london(summer) == "12pm on 15 June 2026"
    assert format_london(winter) == "9am on 7 January 2026"
    assert format_london(summer, "%-d %b %Y %H:%M:%S") == "15 Jun 2026 12:00:00"
    assert format_london(date(2026, 1, 7)) == "7 January 2026"
    assert format_london(None) == ""
    assert london_day_at_time(winter) == "7 January 2026 at 09:00"
    assert london_day_at_time(summer) == "15 June 2026 at 12:00"


@pytest.mark.parametrize(("instant", "words"), [
    (datetime(2026, 1, 5, 9, 15, tzinfo=UTC), "9:15am on Monday 5 January 2026"),
    (datetime(2026, 6, 15, 11, 0, tzinfo=UTC), "midday on Monday 15 June 2026"),
    (datetime(2026, 6, 14, 23, 0, tzinfo=UTC), "midnight on Monday 15 June 2026"),
    (datetime(2026, 1, 5, 13, 5, tzinfo=UTC), "1:05pm on Monday 5 January 2026"),
])
def test_a_moment_is_written_as_gov_uk_writes_it(instant, words):
    assert london_moment(instant) == words


@pytest.mark.parametrize(("value", "words"), [
    (date(2026, 3, 31), "31 March 2026"),
    ("2026-03-31", "31 March 2026"),  # as answers keep a date
    (datetime(2026, 3, 31, 23, 30, tzinfo=UTC), "1 April 2026"),  # London is an hour ahead in summer
    (None, ""),
    ("", ""),
])
def test_a_day_reads_as_people_write_it(value, words):
    assert format_day(value) == words


@pytest.mark.parametrize(("instant", "words"), [
    (datetime(2026, 3, 31, 11, 0, tzinfo=UTC), "12pm on 31 March 2026"),
    (datetime(2026, 1, 5, 9, 0, tzinfo=UTC), "9am on 5 January 2026"),
    (datetime(2026, 1, 5, 9, 15, tzinfo=UTC), "9:15am on 5 January 2026"),
    (datetime(2026, 1, 5, 23, 59, 59, tzinfo=UTC), "11:59pm on 5 January 2026"),
    (datetime(2026, 1, 5, 0, 0, tzinfo=UTC), "12am on 5 January 2026"),
    (datetime(2026, 1, 5, 13, 5, tzinfo=UTC), "1:05pm on 5 January 2026"),
])
def test_a_time_reads_as_people_say_it(instant, words):
    assert format_moment(instant) == words


@given(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)))
def test_every_moment_names_its_london_day_and_an_am_or_pm_time(instant):
    words = format_moment(instant)
    clock, day = words.split(" on ")
    assert day == format_day(instant.astimezone(LONDON).date())
    assert re.fullmatch(r"(1[0-2]|[1-9])(:[0-5]\d)?[ap]m", clock)


def test_templates_format_dates_only_through_the_dates_filters():
    """Pages show dates and times only through dps.dates (the day, moment and london filters)."""
    offenders = []
    for template in (PROJECT_ROOT / "templates").rglob("*.html"):
        text = template.read_text()
        if "strftime" in text or (re.search(r"london\(", text) and template.name != "audit.html"):
            offenders.append(template.name)  # the audit log alone keeps times to the second
    assert not offenders


def test_there_is_one_london():
    assert calendar.LONDON is LONDON
