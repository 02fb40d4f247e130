"""The rules of API keys and of API consumers: names, rate limits typed into a form, how many keys a consumer may
hold, what a consumer must tell us, and which day a request counts towards."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dps.api_keys.rules import (
    KEY_NAME_MAX_LENGTH,
    MAX_ACTIVE_KEYS,
    MAX_RATE_LIMIT,
    ORGANISATION_NAME_MAX_LENGTH,
    PURPOSE_MAX_LENGTH,
    PURPOSE_MIN_LENGTH,
    consumer_details,
    key_name_problem,
    may_create_key,
    rate_limit_problem,
    usage_day,
)


@pytest.mark.parametrize(("raw", "name", "ok"), [
    ("ICB dashboard", "ICB dashboard", True),
    ("  ICB   dashboard \n (live) ", "ICB dashboard (live)", True),
    ("", "", False),
    ("   \n\t", "", False),
    ("x" * KEY_NAME_MAX_LENGTH, "x" * KEY_NAME_MAX_LENGTH, True),
    ("x" * (KEY_NAME_MAX_LENGTH + 1), "x" * (KEY_NAME_MAX_LENGTH + 1), False),
])
def test_a_key_name_is_one_line_of_1_to_120_characters(raw: str, name: str, ok: bool) -> None:
    cleaned, problem = key_name_problem(raw)
    assert cleaned == name
    assert (problem is None) is ok


@pytest.mark.parametrize(("raw", "limit"), [
    ("1", 1), ("600", 600), (" 1200 ", 1200), (str(MAX_RATE_LIMIT), MAX_RATE_LIMIT), ("0600", 600),
])
def test_a_rate_limit_is_a_whole_number_within_bounds(raw: str, limit: int) -> None:
    assert rate_limit_problem(raw) == (limit, None)


@pytest.mark.parametrize(("raw", "message"), [
    ("", "Enter the rate limit as a whole number of requests a minute"),
    (None, "Enter the rate limit as a whole number of requests a minute"),
    ("0", "The rate limit must be at least 1 request a minute"),
    ("000", "The rate limit must be at least 1 request a minute"),
    ("-5", "from 1 to 1,000,000"), ("1.5", "from 1 to 1,000,000"), ("1,200", "from 1 to 1,000,000"),
    ("²", "from 1 to 1,000,000"), ("٣٠٠", "from 1 to 1,000,000"), ("ten", "from 1 to 1,000,000"),
    (str(MAX_RATE_LIMIT + 1), "from 1 to 1,000,000"), ("9" * 40, "from 1 to 1,000,000"),
])
def test_a_wrong_rate_limit_says_what_to_type(raw: str | None, message: str) -> None:
    limit, problem = rate_limit_problem(raw)
    assert limit is None
    assert problem is not None and message in problem


@given(st.text(max_size=12))
def test_any_text_gives_a_limit_in_bounds_or_a_message(raw: str) -> None:
    limit, problem = rate_limit_problem(raw)
    assert (limit is None) != (problem is None)
    if limit is not None:
        assert 1 <= limit <= MAX_RATE_LIMIT and raw.strip().isascii()


def test_a_consumer_holds_at_most_five_keys_at_once() -> None:
    assert all(may_create_key(held) is None for held in range(MAX_ACTIVE_KEYS))
    refusal = may_create_key(MAX_ACTIVE_KEYS)
    assert refusal is not None and f"up to {MAX_ACTIVE_KEYS} keys" in refusal
    assert may_create_key(MAX_ACTIVE_KEYS + 3) is not None


def test_a_consumer_names_their_organisation_and_purpose() -> None:
    name, purpose, errors = consumer_details("  Leeds   Teaching\nHospitals data team ",
                                             "  A dashboard of what our ICB buys.\nUpdated nightly.  ")
    assert (name, purpose, errors.messages) == ("Leeds Teaching Hospitals data team",
                                                "A dashboard of what our ICB buys.\nUpdated nightly.", {})


@pytest.mark.parametrize(("organisation", "purpose", "fields"), [
    ("", "", {"organisation_name", "purpose"}),
    (" ", "Research into NHS procurement", {"organisation_name"}),
    ("x" * (ORGANISATION_NAME_MAX_LENGTH + 1), "Research into NHS procurement", {"organisation_name"}),
    ("x" * ORGANISATION_NAME_MAX_LENGTH, "Research into NHS procurement", set()),
    ("Newsroom", "x" * (PURPOSE_MIN_LENGTH - 1), {"purpose"}),
    ("Newsroom", "x" * PURPOSE_MIN_LENGTH, set()),
    ("Newsroom", "x" * PURPOSE_MAX_LENGTH, set()),
    ("Newsroom", "x" * (PURPOSE_MAX_LENGTH + 1), {"purpose"}),
])
def test_what_a_consumer_must_tell_us(organisation: str, purpose: str, fields: set[str]) -> None:
    _, _, errors = consumer_details(organisation, purpose)
    assert set(errors.messages) == fields


def test_requests_count_towards_the_london_day() -> None:
    # 11:30pm UTC on 30 June is 12:30am on 1 July in London (BST); in winter London is on UTC.
    assert usage_day(datetime(2026, 6, 30, 23, 30, tzinfo=UTC)) == date(2026, 7, 1)
    assert usage_day(datetime(2026, 12, 31, 23, 30, tzinfo=UTC)) == date(2026, 12, 31)
