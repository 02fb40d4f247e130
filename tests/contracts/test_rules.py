"""The pure contract rules: the milestone state machine that payments drive, and the milestone schedule of a new
contract. Hypothesis checks the schedule's invariants."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dps.contracts.rules import (
    MILESTONES,
    Milestone,
    MilestoneEvent,
    MilestoneState,
    check_milestones,
    default_milestones,
    may_request_payment,
    milestone_move,
    next_milestone_state,
)
from dps.errors import IllegalTransition, ValidationFailed

# --- the milestone state machine -------------------------------------------------------------------------


def test_a_milestone_is_asked_for_paid_and_refunded_in_that_order():
    state = MilestoneState.PLANNED
    for event, expected in ((MilestoneEvent.REQUEST_PAYMENT, MilestoneState.PAYMENT_REQUESTED),
                            (MilestoneEvent.PAY, MilestoneState.PAID),
                            (MilestoneEvent.REFUND, MilestoneState.REFUNDED)):
        state = next_milestone_state(state, event)
        assert state == expected


def test_every_other_step_is_refused_and_a_refunded_milestone_is_not_paid_again():
    allowed = {(MilestoneState.PLANNED, MilestoneEvent.REQUEST_PAYMENT),
               (MilestoneState.PAYMENT_REQUESTED, MilestoneEvent.PAY),
               (MilestoneState.PAID, MilestoneEvent.REFUND)}
    for state, event in itertools.product(MilestoneState, MilestoneEvent):
        if (state, event) in allowed:
            continue
        with pytest.raises(IllegalTransition, match="A milestone that is"):
            next_milestone_state(state, event)
    assert MILESTONES.is_terminal(MilestoneState.REFUNDED)


def test_only_a_planned_milestone_may_be_asked_for_payment():
    assert [state for state in MilestoneState if may_request_payment(state)] == [MilestoneState.PLANNED]
    assert may_request_payment("planned") and not may_request_payment("payment_requested")


def test_each_event_moves_a_milestone_from_the_states_it_is_allowed_in_to_one_state():
    for event in MilestoneEvent:
        move = milestone_move(event)
        assert move.sources == {state for state in MilestoneState if event in MILESTONES.allowed_events(state)}
        assert all(next_milestone_state(source, event) == move.target for source in move.sources)


# --- the milestone schedule ------------------------------------------------------------------------------


@given(st.integers(min_value=0, max_value=10**10), st.dates(min_value=date(2025, 1, 1), max_value=date(2030, 1, 1)),
       st.integers(min_value=0, max_value=1500))
def test_default_milestones_add_up_to_the_value_and_fall_inside_the_contract(value, start, length):
    end = start + timedelta(days=length)
    milestones = default_milestones(value, start, end)
    assert sum(m.amount_pence for m in milestones) == value
    assert all(start <= m.due_on <= end for m in milestones) and milestones[-1].due_on == end
    check_milestones(milestones, value)


def test_milestones_must_add_up_exactly():
    with pytest.raises(ValidationFailed, match="add up to the contract value exactly"):
        check_milestones([Milestone("All", date(2026, 4, 1), 99)], 100)
    with pytest.raises(ValidationFailed):
        check_milestones([], 100)
