"""Contract rules. Pure: no I/O, no clock reads.

- The states of a contract and of its milestones, and the milestone state machine: the supplier delivers a
  milestone, the buyer accepts it or rejects it with a reason (the supplier may then deliver again), and only an
  accepted milestone can be paid: planned -> delivered -> accepted -> payment requested -> paid -> refunded.
  A refunded milestone is not paid again.
- The milestone schedule of a new contract: a default schedule, and the check that the milestones add up to
  what the buyer pays exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from dps.admission.rules import StateMachine
from dps.errors import ValidationFailed


class ContractState(StrEnum):
    ACTIVE = "active"


class MilestoneState(StrEnum):
    PLANNED = "planned"
    DELIVERED = "delivered"  # the supplier says it is done; the buyer has not yet decided
    REJECTED = "rejected"  # the buyer gave a reason; the supplier may deliver again
    ACCEPTED = "accepted"  # the buyer accepted the delivery: it may be paid
    PAYMENT_REQUESTED = "payment_requested"
    PAID = "paid"
    REFUNDED = "refunded"


class MilestoneEvent(StrEnum):
    DELIVER = "deliver"
    ACCEPT = "accept"
    REJECT = "reject"
    REQUEST_PAYMENT = "request_payment"
    PAY = "pay"
    REFUND = "refund"


_M, _ME = MilestoneState, MilestoneEvent
MILESTONE_TRANSITIONS: Mapping[tuple[MilestoneState, MilestoneEvent], MilestoneState] = {
    (_M.PLANNED, _ME.DELIVER): _M.DELIVERED,
    (_M.REJECTED, _ME.DELIVER): _M.DELIVERED,
    (_M.DELIVERED, _ME.ACCEPT): _M.ACCEPTED,
    (_M.DELIVERED, _ME.REJECT): _M.REJECTED,
    (_M.ACCEPTED, _ME.REQUEST_PAYMENT): _M.PAYMENT_REQUESTED,
    (_M.PAYMENT_REQUESTED, _ME.PAY): _M.PAID,
    (_M.PAID, _ME.REFUND): _M.REFUNDED,
}

MILESTONES: StateMachine[MilestoneState, MilestoneEvent] = StateMachine(
    subject="A milestone",
    state_type=MilestoneState,
    event_type=MilestoneEvent,
    transitions=MILESTONE_TRANSITIONS,
    state_phrases={_M.PLANNED: "not yet delivered", _M.DELIVERED: "delivered and waiting for the buyer",
                   _M.REJECTED: "rejected by the buyer", _M.ACCEPTED: "accepted",
                   _M.PAYMENT_REQUESTED: "awaiting payment", _M.PAID: "paid",
                   _M.REFUNDED: "refunded"},
    event_phrases={_ME.DELIVER: "marked delivered", _ME.ACCEPT: "accepted", _ME.REJECT: "rejected",
                   _ME.REQUEST_PAYMENT: "asked to be paid", _ME.PAY: "paid", _ME.REFUND: "refunded"},
)


def next_milestone_state(state: MilestoneState | str, event: MilestoneEvent | str) -> MilestoneState:
    return MILESTONES.next_state(state, event)


def may_request_payment(state: MilestoneState | str) -> bool:
    """Only a milestone the buyer has accepted can be paid."""
    return MilestoneEvent.REQUEST_PAYMENT in MILESTONES.allowed_events(state)


def may_deliver(state: MilestoneState | str) -> bool:
    return MilestoneEvent.DELIVER in MILESTONES.allowed_events(state)


def may_decide(state: MilestoneState | str) -> bool:
    """The buyer may accept or reject a delivered milestone, and nothing else."""
    return MilestoneEvent.ACCEPT in MILESTONES.allowed_events(state)


def check_rejection_reason(reason: str) -> str:
    """The buyer's reason for rejecting a delivery: required, so the supplier knows what to put right."""
    cleaned = reason.strip()
    if not cleaned:
        raise ValidationFailed("Enter why the milestone is not accepted, so the supplier knows what to put right",
                               field="reason")
    if len(cleaned) > 2000:
        raise ValidationFailed("The reason must be 2,000 characters or fewer", field="reason")
    return cleaned


def check_delivery_note(note: str) -> str:
    """What the supplier says it delivered: required, so the buyer knows what to check."""
    cleaned = note.strip()
    if not cleaned:
        raise ValidationFailed("Enter what was delivered, so the buyer knows what to check", field="note")
    if len(cleaned) > 2000:
        raise ValidationFailed("What was delivered must be 2,000 characters or fewer", field="note")
    return cleaned


@dataclass(frozen=True)
class MilestoneMove:
    """What one event does to a milestone, for a conditional UPDATE: from any of `sources` to `target`."""

    sources: frozenset[MilestoneState]
    target: MilestoneState


def milestone_move(event: MilestoneEvent | str) -> MilestoneMove:
    event = MilestoneEvent(event)
    targets = {target for (_, on), target in MILESTONE_TRANSITIONS.items() if on == event}
    # One target per event keeps each move a single UPDATE; the table above is written that way.
    assert len(targets) == 1, f"milestone event {event} must lead to exactly one state"
    sources = frozenset(source for (source, on) in MILESTONE_TRANSITIONS if on == event)
    return MilestoneMove(sources, targets.pop())


# --- the milestone schedule of a new contract -----------------------------------------------------------


@dataclass(frozen=True)
class Milestone:
    """A milestone as planned when the award is confirmed, before the contract exists."""

    title: str
    due_on: date
    amount_pence: int


def default_milestones(value_pence: int, starts_on: date, ends_on: date) -> list[Milestone]:
    """A mobilisation payment of 10% at the start, the rest in equal payments at the end of each quarter of the
    contract (the last one on its end date). Amounts are whole pence and add up to the value exactly."""
    if value_pence < 0 or ends_on < starts_on:
        raise ValueError("a contract needs a value of 0 or more and an end on or after its start")
    quarter_ends: list[date] = []
    cursor = starts_on
    while True:
        next_end = _add_months(cursor, 3) - timedelta(days=1)
        if next_end >= ends_on:
            quarter_ends.append(ends_on)
            break
        quarter_ends.append(next_end)
        cursor = next_end + timedelta(days=1)
    mobilisation = value_pence // 10
    rest = value_pence - mobilisation
    share, extra = divmod(rest, len(quarter_ends))
    milestones = [Milestone("Mobilisation", starts_on, mobilisation)]
    for index, due in enumerate(quarter_ends, start=1):
        milestones.append(Milestone(f"Quarter {index} delivery", due, share + (1 if index <= extra else 0)))
    return milestones


def check_milestones(milestones: Sequence[Milestone], value_pence: int) -> None:
    if not milestones:
        raise ValidationFailed("Give at least one milestone", field="milestones")
    if any(m.amount_pence < 0 for m in milestones) or any(not m.title.strip() for m in milestones):
        raise ValidationFailed("Each milestone needs a title and an amount of £0 or more", field="milestones")
    total = sum(m.amount_pence for m in milestones)
    if total != value_pence:
        raise ValidationFailed(f"The milestones must add up to the contract value exactly: they add up to "
                               f"£{total / 100:,.2f}, the value is £{value_pence / 100:,.2f}", field="milestones")


def _add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable")
