"""A8: the debarment list and a supplier's standing in a category, as pure rules."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from dps.exclusion.rules import (
    DebarmentPeriod,
    MandatoryGround,
    Standing,
    check_period,
    declared_grounds,
    is_debarred,
    is_in_force,
    standing,
)

days = st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31))


def test_a8_an_entry_is_in_force_from_its_first_to_its_last_day_inclusive() -> None:
    entry = DebarmentPeriod(date(2026, 3, 1), date(2026, 3, 31))
    assert not is_in_force(entry, date(2026, 2, 28))
    assert is_in_force(entry, date(2026, 3, 1))
    assert is_in_force(entry, date(2026, 3, 31))
    assert not is_in_force(entry, date(2026, 4, 1))


def test_a8_an_open_ended_entry_lasts_until_removed() -> None:
    assert is_in_force(DebarmentPeriod(date(2026, 3, 1), None), date(2035, 1, 1))
    assert not is_in_force(DebarmentPeriod(date(2026, 3, 1), None, removed=True), date(2026, 3, 2))


@given(start=days, length=st.integers(min_value=0, max_value=3000), today=days)
def test_a8_in_force_exactly_inside_the_period(start: date, length: int, today: date) -> None:
    end = start + timedelta(days=length)
    assert is_in_force(DebarmentPeriod(start, end), today) == (start <= today <= end)
    assert not is_in_force(DebarmentPeriod(start, end, removed=True), today)


@given(entries=st.lists(st.builds(DebarmentPeriod, days, st.none() | days, st.booleans()), max_size=5), today=days)
def test_a8_debarred_when_any_entry_is_in_force(entries: list[DebarmentPeriod], today: date) -> None:
    assert is_debarred(entries, today) == any(is_in_force(entry, today) for entry in entries)


def test_a8_a_period_cannot_end_before_it_starts() -> None:
    assert check_period(date(2026, 3, 2), date(2026, 3, 1)) is not None
    assert check_period(date(2026, 3, 2), date(2026, 3, 2)) is None
    assert check_period(date(2026, 3, 2), None) is None


def test_a6_a8_a_structured_declaration_yields_the_grounds_answered_yes() -> None:
    answers = {"fraud": True, "corruption": False, "terrorism": True, "unknown": True}
    assert declared_grounds(answers) == [MandatoryGround.FRAUD, MandatoryGround.TERRORISM]
    assert declared_grounds({ground.value: False for ground in MandatoryGround}) == []


@given(state=st.sampled_from([None, "active", "suspended", "removed"]), debarred=st.booleans())
def test_a8_c1_only_an_active_member_that_is_not_debarred_may_take_part(state: str | None, debarred: bool) -> None:
    result = standing(state, debarred)
    assert (result is Standing.ELIGIBLE) == (state == "active" and not debarred)
    if debarred:
        assert result is Standing.DEBARRED


def test_c1_a_suspension_that_has_ended_restores_the_right_to_bid_a_removal_does_not() -> None:
    assert standing("suspended", False) is Standing.SUSPENDED
    assert standing("active", False) is Standing.ELIGIBLE  # reinstated before the deadline
    assert standing("removed", False) is Standing.REMOVED
