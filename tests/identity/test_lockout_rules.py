"""The sign-in lockout rules (dps.identity.rules): N consecutive failures lock an address for a period; attempts
while locked change nothing; a success clears the count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dps.identity.rules import (
    LockoutPolicy,
    SignInAttempts,
    after_failure,
    after_success,
    locks_now,
    sign_in_key,
)

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
POLICY = LockoutPolicy(failures_allowed=5, lock_for=timedelta(minutes=15))


def fail(attempts: SignInAttempts, times: int, at: datetime = NOW) -> SignInAttempts:
    for _ in range(times):
        attempts = after_failure(attempts, at, POLICY)
    return attempts


def test_the_defaults_are_five_failures_and_fifteen_minutes():
    assert LockoutPolicy() == POLICY


def test_four_failures_do_not_lock_the_fifth_does():
    four = fail(SignInAttempts(), 4)
    assert four == SignInAttempts(failures=4, locked_until=None)
    five = after_failure(four, NOW, POLICY)
    assert five.locked_until == NOW + timedelta(minutes=15)
    assert five.locked_at(NOW) and five.locked_at(NOW + timedelta(minutes=14, seconds=59))
    assert not five.locked_at(NOW + timedelta(minutes=15))
    assert locks_now(four, five, NOW)


def test_failures_while_locked_change_nothing_so_the_lock_is_not_extended():
    locked = fail(SignInAttempts(), 5)
    later = NOW + timedelta(minutes=10)
    assert fail(locked, 20, later) == locked
    assert not locks_now(locked, after_failure(locked, later, POLICY), later)


def test_after_a_lock_runs_out_counting_starts_again():
    locked = fail(SignInAttempts(), 5)
    after = NOW + timedelta(minutes=15)
    again = after_failure(locked, after, POLICY)
    assert again == SignInAttempts(failures=1, locked_until=None)
    relocked = fail(again, 4, after)
    assert relocked.locked_until == after + timedelta(minutes=15)


def test_success_clears_the_count():
    assert after_success(fail(SignInAttempts(), 4)) == SignInAttempts()


def test_the_key_is_the_address_as_sign_in_looks_it_up():
    assert sign_in_key("  Ann@Acme.Example ") == "ann@acme.example"


@pytest.mark.parametrize(("failures", "minutes"), [(0, 15), (5, 0), (5, -1)])
def test_a_policy_must_allow_a_failure_and_lock_for_a_while(failures, minutes):
    with pytest.raises(ValueError):
        LockoutPolicy(failures_allowed=failures, lock_for=timedelta(minutes=minutes))


# Invariant: replaying any sequence of events (a failure or a success, each some seconds after the last), the
# address is locked exactly when the last `failures_allowed` counted failures came in a row with no success, and
# only for `lock_for` from the failure that locked it.

events = st.lists(st.tuples(st.sampled_from(["fail", "success"]), st.integers(min_value=0, max_value=1200)),
                  max_size=40)


@given(events=events, allowed=st.integers(min_value=1, max_value=6), lock_minutes=st.integers(min_value=1,
                                                                                              max_value=30))
def test_locked_exactly_after_n_consecutive_counted_failures(events, allowed, lock_minutes):
    policy = LockoutPolicy(failures_allowed=allowed, lock_for=timedelta(minutes=lock_minutes))
    attempts, now = SignInAttempts(), NOW
    streak, lock_ends = 0, None  # a model of the rule, written the obvious way
    for kind, gap in events:
        now = now + timedelta(seconds=gap)
        locked_before = lock_ends is not None and now < lock_ends
        if kind == "success":
            if locked_before:
                continue  # a success cannot happen while locked: sign-in refuses before checking
            attempts = after_success(attempts)
            streak, lock_ends = 0, None
        else:
            before = attempts
            attempts = after_failure(attempts, now, policy)
            if not locked_before:
                if lock_ends is not None:
                    streak, lock_ends = 0, None  # the old lock ran out
                streak += 1
                if streak >= allowed:
                    lock_ends = now + policy.lock_for
            assert locks_now(before, attempts, now) == (not locked_before and lock_ends is not None
                                                       and lock_ends == now + policy.lock_for)
        assert attempts.locked_at(now) == (lock_ends is not None and now < lock_ends)
        assert attempts.locked_until == lock_ends
        assert attempts.failures <= max(allowed, 0) or attempts.locked_until is not None
