"""The password policy (dps.identity.rules.password_problem): length, the breached/common deny list read the ways
people pad and disguise a common password, and never the person's own name or email address."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dps.errors import ValidationFailed
from dps.identity.rules import (
    MAXIMUM_PASSWORD_LENGTH,
    MINIMUM_PASSWORD_LENGTH,
    PASSWORD_IS_COMMON,
    PASSWORD_IS_PERSONAL,
    PASSWORD_MISSING,
    PASSWORD_TOO_LONG,
    PASSWORD_TOO_SHORT,
    check_new_password,
    common_passwords,
    is_common_password,
    password_problem,
)
from tests.helpers import PASSWORD

ANN = {"email": "ann.smith@acme.example", "full_name": "Ann Smith"}


def test_the_deny_list_is_the_breach_corpus_shipped_with_zxcvbn():
    listed = common_passwords()
    assert len(listed) > 29_000
    assert {"password", "123456", "qwerty", "letmein", "trustno1", "iloveyou"} <= listed


@pytest.mark.parametrize("password", [
    "demo-password-2026",  # the demo accounts' password
    PASSWORD,  # the tests' password
    "correct horse battery staple",
    "a-long-password-1",
    "another-long-password",
    "x!9283746501",  # random characters that happen to start with a letter
    "40592837461029",  # random digits
    "Ünïcödé pässwörd fráse",
    "a" * 5 + "b" * 4 + "c" * 3 + "horse",
])
def test_good_passwords_are_accepted(password):
    assert password_problem(password, **ANN) is None
    check_new_password(password, **ANN)  # does not raise


@pytest.mark.parametrize("password", [
    "password1234",  # listed as it is
    "PASSWORD1234",  # case does not matter
    "Password2026!",  # a listed word padded to the length
    "2026!!Password",  # padded in front
    "qwerty123456",
    "Dragon 2026!!!",
    "p@ssw0rd2026",  # look-alike characters
    "P4$$W0RD-2026",
    "pass word 1234",  # separators
    "passwordpassword",  # repeated
    "monkey-monkey-monkey",
    "iloveyou-iloveyou",
    "123456789012",  # runs and repeats
    "098765432109",
    "111111111111",
    "abcdefghijkl",
    "zyxwvutsrqpo",
    "abababababab",
    "            ",
    "nhsinnovation2026",  # this service's name
    "NHS-DPS-2026-!!",
])
def test_common_and_predictable_passwords_are_refused(password):
    assert password_problem(password, **ANN) == PASSWORD_IS_COMMON


@pytest.mark.parametrize("password", [
    "ann.smith@acme.example",
    "ANN.SMITH@ACME.EXAMPLE",
    "annsmith2026!",
    "Ann Smith 1234",
    "smith-smith-smith",
    "ann.smith-ann.smith",
])
def test_the_persons_own_name_or_email_address_is_refused(password):
    assert password_problem(password, **ANN) == PASSWORD_IS_PERSONAL


def test_parts_of_a_name_too_short_to_mean_anything_do_not_refuse_a_password():
    # "Ann" alone is 3 letters: refusing every password holding it would refuse "planning..." and "annual...".
    assert password_problem("annual-leave-in-june", **ANN) is None


@pytest.mark.parametrize(("password", "message"), [
    ("", PASSWORD_MISSING),
    ("a" * (MINIMUM_PASSWORD_LENGTH - 1), PASSWORD_TOO_SHORT),
    ("x" * (MAXIMUM_PASSWORD_LENGTH + 1), PASSWORD_TOO_LONG),
])
def test_length_comes_first_with_its_own_message(password, message):
    assert password_problem(password) == message


def test_the_messages_say_what_to_do():
    assert PASSWORD_TOO_SHORT == "Your password must be 12 characters or more"
    assert PASSWORD_IS_COMMON.startswith("Enter a password that is harder to guess")
    assert PASSWORD_IS_PERSONAL == "Enter a password that is not your name or email address"


def test_a_refusal_names_the_password_field():
    with pytest.raises(ValidationFailed) as refused:
        check_new_password("Password2026!")
    assert refused.value.field == "password"
    assert str(refused.value) == PASSWORD_IS_COMMON


# Invariants

_LISTED_WORDS = sorted(word for word in common_passwords() if len(word) >= 4 and word.isalpha())
_PADDING = st.text(alphabet=string.digits + "!?#*$%&@^~+=", max_size=10)


@settings(max_examples=300)
@given(word=st.sampled_from(_LISTED_WORDS), before=_PADDING, after=_PADDING, upper=st.lists(st.booleans(), min_size=40))
def test_any_listed_word_padded_with_digits_or_symbols_in_any_case_is_refused(word, before, after, upper):
    cased = "".join(c.upper() if flip else c for c, flip in zip(word, upper + [False] * len(word), strict=False))
    password = before + cased + after
    if len(password) < MINIMUM_PASSWORD_LENGTH:
        password = password + "1" * (MINIMUM_PASSWORD_LENGTH - len(password))
    assert is_common_password(password)
    assert password_problem(password) == PASSWORD_IS_COMMON


@given(password=st.text(alphabet=string.ascii_letters + string.digits + string.punctuation + " ", max_size=40))
def test_case_never_changes_the_verdict(password):
    assert password_problem(password, **ANN) == password_problem(password.swapcase(), **ANN)


@given(password=st.text(max_size=1100))
def test_an_accepted_password_is_within_the_length_limits(password):
    if password_problem(password) is None:
        assert MINIMUM_PASSWORD_LENGTH <= len(password) <= MAXIMUM_PASSWORD_LENGTH


@given(password=st.text(min_size=MINIMUM_PASSWORD_LENGTH, max_size=60))
def test_naming_the_person_can_only_add_refusals(password):
    # Knowing who sets the password refuses more, never less.
    if password_problem(password, **ANN) is None:
        assert password_problem(password) is None
