"""Admission rules (RULES.md section 1): the application and membership state machines, evaluator
independence and the evaluation clock. Pure: callers load the state, ask these rules, then persist.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Generic, TypeVar

from dps.calendar import WorkingDayCalendar, london_date
from dps.dates import london_moment
from dps.errors import Conflict, IllegalTransition


class ApplicationState(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    UNDER_EVALUATION = "under_evaluation"
    ADMITTED = "admitted"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class ApplicationEvent(StrEnum):
    SUBMIT = "submit"
    START_EVALUATION = "start_evaluation"
    ADMIT = "admit"
    REJECT = "reject"
    WITHDRAW = "withdraw"


class MembershipState(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REMOVED = "removed"


class MembershipEvent(StrEnum):
    SUSPEND = "suspend"
    REINSTATE = "reinstate"
    REMOVE = "remove"


State = TypeVar("State", bound=StrEnum)
Event = TypeVar("Event", bound=StrEnum)


@dataclass(frozen=True)
class StateMachine(Generic[State, Event]):
    """A transition table plus the words used to explain a refused transition to a person."""

    subject: str  # e.g. "An application", the start of every refusal message
    state_type: type[State]
    event_type: type[Event]
    transitions: Mapping[tuple[State, Event], State]
    state_phrases: Mapping[State, str]  # completes "An application that is ..."
    event_phrases: Mapping[Event, str]  # completes "... cannot be ..."

    def next_state(self, state: State | str, event: Event | str) -> State:
        # Coercion accepts the plain strings a database row holds, and rejects unknown values loudly.
        state, event = self.state_type(state), self.event_type(event)
        try:
            return self.transitions[(state, event)]
        except KeyError:
            raise IllegalTransition(
                f"{self.subject} that is {self.state_phrases[state]} cannot be {self.event_phrases[event]}"
            ) from None

    def allowed_events(self, state: State | str) -> frozenset[Event]:
        state = self.state_type(state)
        return frozenset(event for (source, event) in self.transitions if source == state)

    def is_terminal(self, state: State | str) -> bool:
        return not self.allowed_events(state)


_S, _E = ApplicationState, ApplicationEvent
# Admitted, rejected and withdrawn are terminal: applying again creates a new application.
APPLICATION_TRANSITIONS: Mapping[tuple[ApplicationState, ApplicationEvent], ApplicationState] = {
    (_S.DRAFT, _E.SUBMIT): _S.SUBMITTED,
    (_S.DRAFT, _E.WITHDRAW): _S.WITHDRAWN,
    (_S.SUBMITTED, _E.START_EVALUATION): _S.UNDER_EVALUATION,
    # A decision may be recorded straight from submitted; the evaluation step is optional.
    (_S.SUBMITTED, _E.ADMIT): _S.ADMITTED,
    (_S.SUBMITTED, _E.REJECT): _S.REJECTED,
    (_S.SUBMITTED, _E.WITHDRAW): _S.WITHDRAWN,
    (_S.UNDER_EVALUATION, _E.ADMIT): _S.ADMITTED,
    (_S.UNDER_EVALUATION, _E.REJECT): _S.REJECTED,
    (_S.UNDER_EVALUATION, _E.WITHDRAW): _S.WITHDRAWN,
}

APPLICATIONS: StateMachine[ApplicationState, ApplicationEvent] = StateMachine(
    subject="An application",
    state_type=ApplicationState,
    event_type=ApplicationEvent,
    transitions=APPLICATION_TRANSITIONS,
    state_phrases={
        _S.DRAFT: "still a draft",
        _S.SUBMITTED: "submitted",
        _S.UNDER_EVALUATION: "under evaluation",
        _S.ADMITTED: "admitted",
        _S.REJECTED: "rejected",
        _S.WITHDRAWN: "withdrawn",
    },
    event_phrases={
        _E.SUBMIT: "submitted",
        _E.START_EVALUATION: "taken into evaluation",
        _E.ADMIT: "admitted",
        _E.REJECT: "rejected",
        _E.WITHDRAW: "withdrawn",
    },
)

_M, _ME = MembershipState, MembershipEvent
# Removed is terminal: a removed supplier has to apply again.
MEMBERSHIP_TRANSITIONS: Mapping[tuple[MembershipState, MembershipEvent], MembershipState] = {
    (_M.ACTIVE, _ME.SUSPEND): _M.SUSPENDED,
    (_M.SUSPENDED, _ME.REINSTATE): _M.ACTIVE,
    (_M.ACTIVE, _ME.REMOVE): _M.REMOVED,
    (_M.SUSPENDED, _ME.REMOVE): _M.REMOVED,
}

MEMBERSHIPS: StateMachine[MembershipState, MembershipEvent] = StateMachine(
    subject="A membership",
    state_type=MembershipState,
    event_type=MembershipEvent,
    transitions=MEMBERSHIP_TRANSITIONS,
    state_phrases={_M.ACTIVE: "active", _M.SUSPENDED: "suspended", _M.REMOVED: "removed"},
    event_phrases={_ME.SUSPEND: "suspended", _ME.REINSTATE: "reinstated", _ME.REMOVE: "removed"},
)


def next_application_state(state: ApplicationState | str, event: ApplicationEvent | str) -> ApplicationState:
    """The state an application moves to on `event`; IllegalTransition (readable message) if it cannot."""
    return APPLICATIONS.next_state(state, event)


def next_membership_state(state: MembershipState | str, event: MembershipEvent | str) -> MembershipState:
    """The state a supplier's membership moves to on `event`; IllegalTransition if it cannot."""
    return MEMBERSHIPS.next_state(state, event)


def can_evaluate(evaluator_org_ids: Set[int], applicant_org_id: int) -> bool:
    """An evaluator may not judge an application from an organisation they belong to (conflict of interest)."""
    return applicant_org_id not in evaluator_org_ids


@dataclass(frozen=True)
class ClockStatus:
    """Where an evaluation (or refresh) clock stands, in London working days.

    working_days_left counts working days after today's London date up to the due date: 0 on the due
    day itself, negative once the due date has passed. `overdue` compares the instants, so a deadline that
    fell on a weekend or an earlier instant today can be overdue with 0 working days left.
    """

    working_days_left: int
    overdue: bool


def clock_status(due_at: datetime, now: datetime, calendar: WorkingDayCalendar) -> ClockStatus:
    days_left = calendar.working_days_between(london_date(now), london_date(due_at))
    return ClockStatus(working_days_left=days_left, overdue=now > due_at)


def can_extend_clock(due_at: datetime, now: datetime) -> bool:
    """A4: the 10-working-day evaluation clock may be extended to 15 working days only while it is still running.

    `due_at` is the last second of the 10th working day (23:59:59 London, `dps.calendar.evaluation_due`); the clock
    runs to and including that instant, as `clock_status` counts it (overdue only when `now > due_at`)."""
    return now <= due_at


def check_clock_extension(*, due_at: datetime, now: datetime, already_extended: bool) -> None:
    """A4 (PCR 2015 reg 34(16)): an extension is granted once, and only before the 10 working days have run out;
    afterwards it would excuse a decision that is already late. Raises Conflict with words for the evaluator."""
    if already_extended:
        raise Conflict("The clock has already been extended to 15 working days; it cannot be extended again")
    if not can_extend_clock(due_at, now):
        raise Conflict(f"The 10 working days to decide this application ran out at {london_moment(due_at)}: the clock "
                       "can only be extended to 15 working days before then. Decide the application now.")
