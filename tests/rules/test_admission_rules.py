"""Application and membership state machines, evaluator independence and the evaluation clock (RULES.md 1)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dps.admission.rules import (
    ApplicationEvent,
    ApplicationState,
    ClockStatus,
    MembershipEvent,
    MembershipState,
    can_evaluate,
    can_extend_clock,
    check_clock_extension,
    clock_status,
    next_application_state,
    next_membership_state,
)
from dps.calendar import LONDON, WorkingDayCalendar, evaluation_due
from dps.errors import Conflict, DomainError, IllegalTransition
from dps.regimes import Regime

A, AE = ApplicationState, ApplicationEvent
M, ME = MembershipState, MembershipEvent

# Written out from RULES.md section 1 and the brief, independently of the module's own table.
EXPECTED_APPLICATION_MOVES = {
    (A.DRAFT, AE.SUBMIT): A.SUBMITTED,
    (A.DRAFT, AE.WITHDRAW): A.WITHDRAWN,
    (A.SUBMITTED, AE.START_EVALUATION): A.UNDER_EVALUATION,
    (A.SUBMITTED, AE.ADMIT): A.ADMITTED,
    (A.SUBMITTED, AE.REJECT): A.REJECTED,
    (A.SUBMITTED, AE.WITHDRAW): A.WITHDRAWN,
    (A.UNDER_EVALUATION, AE.ADMIT): A.ADMITTED,
    (A.UNDER_EVALUATION, AE.REJECT): A.REJECTED,
    (A.UNDER_EVALUATION, AE.WITHDRAW): A.WITHDRAWN,
}
EXPECTED_MEMBERSHIP_MOVES = {
    (M.ACTIVE, ME.SUSPEND): M.SUSPENDED,
    (M.SUSPENDED, ME.REINSTATE): M.ACTIVE,
    (M.ACTIVE, ME.REMOVE): M.REMOVED,
    (M.SUSPENDED, ME.REMOVE): M.REMOVED,
}


def test_enum_values_are_the_stored_strings() -> None:
    assert [s.value for s in A] == ["draft", "submitted", "under_evaluation", "admitted", "rejected", "withdrawn"]
    assert [e.value for e in AE] == ["submit", "start_evaluation", "admit", "reject", "withdraw"]
    assert [s.value for s in M] == ["active", "suspended", "removed"]
    assert [e.value for e in ME] == ["suspend", "reinstate", "remove"]


# --- applications --------------------------------------------------------------------------------


@pytest.mark.parametrize(("state", "event"), list(itertools.product(A, AE)))
def test_every_application_state_and_event(state: ApplicationState, event: ApplicationEvent) -> None:
    expected = EXPECTED_APPLICATION_MOVES.get((state, event))
    if expected is not None:
        assert next_application_state(state, event) is expected
    else:
        with pytest.raises(IllegalTransition) as refused:
            next_application_state(state, event)
        message = str(refused.value)
        assert message.startswith("An application that is ") and " cannot be " in message


@pytest.mark.parametrize(
    ("state", "event", "message"),
    [
        (A.ADMITTED, AE.WITHDRAW, "An application that is admitted cannot be withdrawn"),
        (A.REJECTED, AE.ADMIT, "An application that is rejected cannot be admitted"),
        (A.WITHDRAWN, AE.SUBMIT, "An application that is withdrawn cannot be submitted"),
        (A.DRAFT, AE.ADMIT, "An application that is still a draft cannot be admitted"),
        (A.DRAFT, AE.START_EVALUATION, "An application that is still a draft cannot be taken into evaluation"),
        (A.UNDER_EVALUATION, AE.SUBMIT, "An application that is under evaluation cannot be submitted"),
    ],
)
def test_refusals_read_as_sentences(state: ApplicationState, event: ApplicationEvent, message: str) -> None:
    with pytest.raises(IllegalTransition, match=f"^{message}$"):
        next_application_state(state, event)


@pytest.mark.parametrize("terminal", [A.ADMITTED, A.REJECTED, A.WITHDRAWN])
def test_decided_and_withdrawn_applications_are_terminal(terminal: ApplicationState) -> None:
    for event in AE:
        with pytest.raises(IllegalTransition):
            next_application_state(terminal, event)


def test_states_and_events_may_be_plain_strings_from_the_database() -> None:
    assert next_application_state("submitted", "start_evaluation") is A.UNDER_EVALUATION
    assert next_membership_state("suspended", "reinstate") is M.ACTIVE


def test_unknown_states_and_events_are_programming_errors() -> None:
    with pytest.raises(ValueError):
        next_application_state("archived", AE.SUBMIT)
    with pytest.raises(ValueError):
        next_application_state(A.DRAFT, "approve")


def test_illegal_transition_is_a_domain_conflict() -> None:
    with pytest.raises(DomainError) as refused:
        next_application_state(A.ADMITTED, AE.ADMIT)
    assert refused.value.status_code == 409


def test_the_usual_journeys() -> None:
    state = A.DRAFT
    for event in (AE.SUBMIT, AE.START_EVALUATION, AE.ADMIT):
        state = next_application_state(state, event)
    assert state is A.ADMITTED
    assert next_application_state(next_application_state(A.DRAFT, AE.SUBMIT), AE.REJECT) is A.REJECTED


# --- memberships ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("state", "event"), list(itertools.product(M, ME)))
def test_every_membership_state_and_event(state: MembershipState, event: MembershipEvent) -> None:
    expected = EXPECTED_MEMBERSHIP_MOVES.get((state, event))
    if expected is not None:
        assert next_membership_state(state, event) is expected
    else:
        with pytest.raises(IllegalTransition) as refused:
            next_membership_state(state, event)
        message = str(refused.value)
        assert message.startswith("A membership that is ") and " cannot be " in message


def test_membership_refusals_read_as_sentences() -> None:
    with pytest.raises(IllegalTransition, match="^A membership that is removed cannot be reinstated$"):
        next_membership_state(M.REMOVED, ME.REINSTATE)
    with pytest.raises(IllegalTransition, match="^A membership that is active cannot be reinstated$"):
        next_membership_state(M.ACTIVE, ME.REINSTATE)
    with pytest.raises(IllegalTransition, match="^A membership that is suspended cannot be suspended$"):
        next_membership_state(M.SUSPENDED, ME.SUSPEND)


# --- evaluator independence ------------------------------------------------------------------------


def test_an_evaluator_cannot_evaluate_their_own_organisation() -> None:
    assert can_evaluate({1, 2}, 3) is True
    assert can_evaluate({1, 2}, 2) is False
    assert can_evaluate(frozenset({7}), 7) is False
    assert can_evaluate(set(), 7) is True


# --- evaluation clock ------------------------------------------------------------------------------

ENGLAND_AND_WALES = WorkingDayCalendar.for_regime(Regime.PCR2015_DPS)
# Received Fri 19 Dec 2025: due at the end of Wed 7 Jan 2026 (RULES.md section 3 worked example).
DUE = evaluation_due(datetime(2025, 12, 19, 10, tzinfo=UTC), Regime.PCR2015_DPS)


def london(year: int, month: int, day: int, hour: int = 9) -> datetime:
    return datetime.combine(date(year, month, day), time(hour), tzinfo=LONDON).astimezone(UTC)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (london(2025, 12, 19, 15), ClockStatus(working_days_left=10, overdue=False)),  # the day of receipt
        (london(2025, 12, 20), ClockStatus(working_days_left=10, overdue=False)),  # Saturday: nothing used yet
        (london(2025, 12, 22), ClockStatus(working_days_left=9, overdue=False)),
        (london(2026, 1, 2), ClockStatus(working_days_left=3, overdue=False)),  # 5, 6, 7 Jan to go
        (london(2026, 1, 7, 8), ClockStatus(working_days_left=0, overdue=False)),  # due today
        (london(2026, 1, 7, 23), ClockStatus(working_days_left=0, overdue=False)),  # still due today
        (london(2026, 1, 8), ClockStatus(working_days_left=-1, overdue=True)),
        (london(2026, 1, 10), ClockStatus(working_days_left=-2, overdue=True)),  # Saturday after 8, 9 Jan
        (london(2026, 1, 12), ClockStatus(working_days_left=-3, overdue=True)),
    ],
)
def test_clock_status_counts_london_working_days(now: datetime, expected: ClockStatus) -> None:
    assert clock_status(DUE, now, ENGLAND_AND_WALES) == expected


def test_clock_status_is_overdue_as_soon_as_the_instant_passes() -> None:
    due_at_noon = london(2026, 1, 7, 12)
    assert clock_status(due_at_noon, london(2026, 1, 7, 13), ENGLAND_AND_WALES) == ClockStatus(0, True)


def test_clock_status_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError):
        clock_status(DUE, datetime(2026, 1, 5, 9), ENGLAND_AND_WALES)


# --- A4: the extension to 15 working days, only while the 10 are still running ----------------------------


def test_a4_the_clock_can_be_extended_up_to_the_last_second_of_the_tenth_working_day() -> None:
    # DUE is 23:59:59 on Wed 7 Jan 2026 in London.
    assert datetime(2026, 1, 7, 23, 59, 59, tzinfo=UTC) == DUE
    assert can_extend_clock(DUE, london(2025, 12, 19, 15))
    assert can_extend_clock(DUE, DUE)
    check_clock_extension(due_at=DUE, now=DUE, already_extended=False)
    assert not can_extend_clock(DUE, DUE + timedelta(microseconds=1))
    assert not can_extend_clock(DUE, london(2026, 1, 8))


def test_a4_an_extension_after_the_clock_has_run_out_is_refused_in_plain_words() -> None:
    with pytest.raises(Conflict) as refused:
        check_clock_extension(due_at=DUE, now=london(2026, 1, 8, 10), already_extended=False)
    assert str(refused.value) == (
        "The 10 working days to decide this application ran out at 11:59pm on Wednesday 7 January 2026: the clock "
        "can only be extended to 15 working days before then. Decide the application now.")
    assert "A4" not in str(refused.value)


def test_a4_an_extension_is_granted_once() -> None:
    with pytest.raises(Conflict, match="already been extended"):
        check_clock_extension(due_at=DUE, now=london(2026, 1, 2), already_extended=True)


@settings(max_examples=80, deadline=None)
@given(st.datetimes(min_value=datetime(2025, 12, 1), max_value=datetime(2026, 2, 1), timezones=st.just(UTC)))
def test_a4_property_an_extension_is_possible_exactly_while_the_clock_is_not_overdue(now: datetime) -> None:
    assert can_extend_clock(DUE, now) is not clock_status(DUE, now, ENGLAND_AND_WALES).overdue
