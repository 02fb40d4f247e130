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
    check_delivery_note,
    check_milestones,
    check_rejection_reason,
    default_milestones,
    may_decide,
    may_deliver,
    may_request_payment,
    milestone_move,
    next_milestone_state,
)
from dps.errors import IllegalTransition, ValidationFailed

# --- the milestone state machine -------------------------------------------------------------------------


M, E = MilestoneState, MilestoneEvent
# Every allowed step, written out independently of the table in dps.contracts.rules.
ALLOWED = {(M.PLANNED, E.DELIVER): M.DELIVERED, (M.REJECTED, E.DELIVER): M.DELIVERED,
           (M.DELIVERED, E.ACCEPT): M.ACCEPTED, (M.DELIVERED, E.REJECT): M.REJECTED,
           (M.ACCEPTED, E.REQUEST_PAYMENT): M.PAYMENT_REQUESTED, (M.PAYMENT_REQUESTED, E.PAY): M.PAID,
           (M.PAID, E.REFUND): M.REFUNDED}


def test_a_milestone_is_delivered_accepted_asked_for_paid_and_refunded_in_that_order():
    state = MilestoneState.PLANNED
    for event, expected in ((E.DELIVER, M.DELIVERED), (E.ACCEPT, M.ACCEPTED),
                            (E.REQUEST_PAYMENT, M.PAYMENT_REQUESTED), (E.PAY, M.PAID), (E.REFUND, M.REFUNDED)):
        state = next_milestone_state(state, event)
        assert state == expected


def test_a_rejected_delivery_may_be_delivered_again_and_then_accepted():
    state = M.PLANNED
    for event in (E.DELIVER, E.REJECT, E.DELIVER, E.REJECT, E.DELIVER, E.ACCEPT):
        state = next_milestone_state(state, event)
    assert state == M.ACCEPTED


@pytest.mark.parametrize(("state", "event"), list(itertools.product(MilestoneState, MilestoneEvent)))
def test_every_pair_of_state_and_event_moves_as_written_or_is_refused_in_words(state, event):
    if (state, event) in ALLOWED:
        assert next_milestone_state(state, event) == ALLOWED[(state, event)]
    else:
        with pytest.raises(IllegalTransition, match="A milestone that is"):
            next_milestone_state(state, event)


def test_a_refunded_milestone_is_the_end():
    assert MILESTONES.is_terminal(MilestoneState.REFUNDED)
    assert [s for s in MilestoneState if MILESTONES.is_terminal(s)] == [M.REFUNDED]


def test_only_an_accepted_milestone_may_be_asked_for_payment():
    assert [state for state in MilestoneState if may_request_payment(state)] == [MilestoneState.ACCEPTED]
    assert may_request_payment("accepted") and not may_request_payment("planned")
    assert not may_request_payment("delivered") and not may_request_payment("rejected")


def test_the_supplier_delivers_a_planned_or_rejected_milestone_and_the_buyer_decides_a_delivered_one():
    assert {s for s in MilestoneState if may_deliver(s)} == {M.PLANNED, M.REJECTED}
    assert {s for s in MilestoneState if may_decide(s)} == {M.DELIVERED}


@given(st.lists(st.sampled_from(list(MilestoneEvent)), max_size=12))
def test_no_sequence_of_events_pays_a_milestone_the_buyer_did_not_accept(events):
    state, history = M.PLANNED, [M.PLANNED]
    for event in events:
        try:
            state = next_milestone_state(state, event)
        except IllegalTransition:
            continue
        history.append(state)
    if M.PAYMENT_REQUESTED in history:
        assert M.ACCEPTED in history[: history.index(M.PAYMENT_REQUESTED)]
        assert history[history.index(M.PAYMENT_REQUESTED) - 1] == M.ACCEPTED


def test_a_rejection_needs_a_reason_and_a_delivery_says_what_was_delivered():
    with pytest.raises(ValidationFailed, match="Enter why the milestone is not accepted") as refused:
        check_rejection_reason("   ")
    assert refused.value.field == "reason"
    assert check_rejection_reason("  The report is missing  ") == "The report is missing"
    with pytest.raises(ValidationFailed, match="2,000 characters"):
        check_rejection_reason("x" * 2001)
    with pytest.raises(ValidationFailed, match="Enter what was delivered"):
        check_delivery_note("")
    assert check_delivery_note(" Go-live report sent ") == "Go-live report sent"
    with pytest.raises(ValidationFailed, match="2,000 characters"):
        check_delivery_note("x" * 2001)


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
