"""Signed links: only a token we issued, for this purpose, unchanged and in time, is accepted."""

from __future__ import annotations

import base64
import json
import string
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from dps.identity import tokens
from dps.identity.tokens import EMAIL_VERIFICATION, INVITATION, TokenClaims, TokenExpired, TokenInvalid

SECRET = "a-test-secret-key-that-is-long-enough-0123456789"
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
TOKEN_ALPHABET = string.ascii_letters + string.digits + "-_."


def verification_token(subject_id: int = 7, email: str = "ann@acme.example", lifetime=timedelta(hours=48)) -> str:
    return tokens.issue(SECRET, purpose=EMAIL_VERIFICATION, subject_id=subject_id, email=email, now=NOW,
                        lifetime=lifetime)


def test_a_token_reads_back_its_claims_until_it_expires():
    token = verification_token()
    claims = tokens.read(SECRET, token, purpose=EMAIL_VERIFICATION, now=NOW + timedelta(hours=47, minutes=59))
    assert claims == TokenClaims(EMAIL_VERIFICATION, 7, "ann@acme.example", NOW + timedelta(hours=48))

    with pytest.raises(TokenExpired) as expired:
        tokens.read(SECRET, token, purpose=EMAIL_VERIFICATION, now=NOW + timedelta(hours=48))
    assert expired.value.claims.subject_id == 7  # an expired token still says whose it was (it is genuine)


def test_a_token_of_another_purpose_is_refused():
    invitation = tokens.issue(SECRET, purpose=INVITATION, subject_id=7, email="ann@acme.example", now=NOW,
                              lifetime=timedelta(days=7))
    with pytest.raises(TokenInvalid):
        tokens.read(SECRET, invitation, purpose=EMAIL_VERIFICATION, now=NOW)
    with pytest.raises(TokenInvalid):
        tokens.read(SECRET, verification_token(), purpose=INVITATION, now=NOW)


def test_a_body_relabelled_with_another_purpose_keeps_a_signature_that_no_longer_matches():
    token = verification_token()
    body, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims[0] = INVITATION
    forged = base64.urlsafe_b64encode(json.dumps(claims, separators=(",", ":")).encode()).rstrip(b"=").decode()
    with pytest.raises(TokenInvalid):
        tokens.read(SECRET, f"{forged}.{signature}", purpose=INVITATION, now=NOW)


def test_another_key_is_refused():
    with pytest.raises(TokenInvalid):
        tokens.read("another-secret-key-that-is-long-enough-0123456789", verification_token(),
                    purpose=EMAIL_VERIFICATION, now=NOW)


@pytest.mark.parametrize("junk", ["", ".", "abc", "abc.", ".abc", "a.b.c", "é.é", "x" * 5000, "%%%.%%%"])
def test_junk_is_invalid_not_an_error(junk):
    with pytest.raises(TokenInvalid):
        tokens.read(SECRET, junk, purpose=EMAIL_VERIFICATION, now=NOW)


@settings(max_examples=300, deadline=None)
@given(position=st.integers(min_value=0), replacement=st.sampled_from(TOKEN_ALPHABET + "=+/ é"))
def test_changing_any_one_character_invalidates_the_token(position, replacement):
    token = verification_token()
    position %= len(token)
    assume(token[position] != replacement)
    tampered = token[:position] + replacement + token[position + 1:]
    with pytest.raises(TokenInvalid):
        tokens.read(SECRET, tampered, purpose=EMAIL_VERIFICATION, now=NOW)


def test_every_single_character_change_anywhere_invalidates_the_token():
    # Exhaustive, because the dangerous changes are rare: e.g. the last character of a base64 signature carries
    # two spare bits, so a lenient decoder reads some different last characters as the same signature.
    token = verification_token()
    for position, original in enumerate(token):
        for replacement in TOKEN_ALPHABET + "=":
            if replacement == original:
                continue
            with pytest.raises(TokenInvalid):
                tokens.read(SECRET, token[:position] + replacement + token[position + 1:],
                            purpose=EMAIL_VERIFICATION, now=NOW)


@settings(max_examples=100, deadline=None)
@given(cut=st.integers(min_value=1, max_value=200), extra=st.text(alphabet=TOKEN_ALPHABET, min_size=1, max_size=5))
def test_shortening_or_extending_the_token_invalidates_it(cut, extra):
    token = verification_token()
    for changed in (token[:-min(cut, len(token))], token + extra, extra + token):
        with pytest.raises(TokenInvalid):
            tokens.read(SECRET, changed, purpose=EMAIL_VERIFICATION, now=NOW)


@settings(max_examples=200, deadline=None)
@given(
    subject_id=st.integers(min_value=1, max_value=2**53),
    email=st.emails(),
    other_id=st.integers(min_value=1, max_value=2**53),
    other_email=st.emails(),
    shift=st.integers(min_value=-10**6, max_value=10**6).filter(bool),
)
def test_any_change_to_the_claims_invalidates_the_signature(subject_id, email, other_id, other_email, shift):
    expires = NOW + timedelta(days=1)
    token = tokens.sign(SECRET, TokenClaims(EMAIL_VERIFICATION, subject_id, email, expires))
    assert tokens.read(SECRET, token, purpose=EMAIL_VERIFICATION, now=NOW).subject_id == subject_id
    signature = token.split(".")[1]
    variants = [
        TokenClaims(EMAIL_VERIFICATION, other_id, email, expires),
        TokenClaims(EMAIL_VERIFICATION, subject_id, other_email, expires),
        TokenClaims(EMAIL_VERIFICATION, subject_id, email, expires + timedelta(seconds=shift)),
    ]
    for claims in variants:
        if claims == TokenClaims(EMAIL_VERIFICATION, subject_id, email, expires):
            continue
        body = tokens.sign(SECRET, claims).split(".")[0]
        with pytest.raises(TokenInvalid):
            tokens.read(SECRET, f"{body}.{signature}", purpose=EMAIL_VERIFICATION, now=NOW)
