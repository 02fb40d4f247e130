"""Signed, expiring links (email verification, invitations): pure functions, the clock and the key passed in.

A token is `<body>.<signature>`: the body is URL-safe base64 (no padding) of the JSON list
[purpose, subject id, email, expiry as whole seconds since the epoch]; the signature is HMAC-SHA256, under a key
derived from the application's secret key and the purpose, over the body exactly as written. So:
- any change to any character of a token makes it invalid (the signature is compared as text, in constant time,
  never decoded leniently; the body is checked before it is decoded);
- a token signed for one purpose (an invitation) is never accepted for another (email verification): both the
  key and the body name the purpose;
- the expiry is signed, so it cannot be moved; an expired token is told apart from a forged one only after its
  signature has been checked.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

EMAIL_VERIFICATION = "email-verification"
INVITATION = "invitation"
PURPOSES = frozenset({EMAIL_VERIFICATION, INVITATION})

_VERSION = b"dps-token-v1"
MAX_TOKEN_LENGTH = 2000  # far longer than any token we issue; refuse bigger input before doing any work


class TokenError(Exception):
    """The token cannot be used. Subclasses say why."""


class TokenInvalid(TokenError):
    """Not a token we issued for this purpose: malformed, tampered with, or signed for another purpose."""


class TokenExpired(TokenError):
    """A genuine token whose time is up. `claims` are trustworthy (the signature was checked)."""

    def __init__(self, claims: TokenClaims) -> None:
        super().__init__(f"token expired at {claims.expires_at.isoformat()}")
        self.claims = claims


@dataclass(frozen=True)
class TokenClaims:
    purpose: str
    subject_id: int
    email: str
    expires_at: datetime  # aware UTC, whole seconds


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _key(secret_key: str, purpose: str) -> bytes:
    return hmac.new(secret_key.encode("utf-8"), _VERSION + b"|key|" + purpose.encode("utf-8"), hashlib.sha256).digest()


def _signature(secret_key: str, purpose: str, body: str) -> str:
    digest = hmac.new(_key(secret_key, purpose), _VERSION + b"|" + body.encode("ascii"), hashlib.sha256).digest()
    return _b64encode(digest)


def _expiry_seconds(expires_at: datetime) -> int:
    if expires_at.tzinfo is None:
        raise ValueError("expires_at must be an aware datetime")
    return int(expires_at.timestamp())


def sign(secret_key: str, claims: TokenClaims) -> str:
    """The token for these claims. The expiry is kept to the whole second (rounded down)."""
    if claims.purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {claims.purpose!r}")
    body_json = json.dumps(
        [claims.purpose, claims.subject_id, claims.email, _expiry_seconds(claims.expires_at)],
        separators=(",", ":"), ensure_ascii=True,
    )
    body = _b64encode(body_json.encode("ascii"))
    return f"{body}.{_signature(secret_key, claims.purpose, body)}"


def issue(secret_key: str, *, purpose: str, subject_id: int, email: str, now: datetime, lifetime: timedelta) -> str:
    """A token for `subject_id` + `email` that expires `lifetime` after `now`."""
    return sign(secret_key, TokenClaims(purpose, subject_id, email, now + lifetime))


def read(secret_key: str, token: str, *, purpose: str, now: datetime) -> TokenClaims:
    """The claims of a genuine, unexpired token issued for `purpose`; raises TokenInvalid or TokenExpired."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
        raise TokenInvalid("not a token")
    body, dot, given_signature = token.partition(".")
    if not dot or not body or not given_signature:
        raise TokenInvalid("not a token")
    # Compare the signature as text: decoding first would let two spellings of the same bytes both pass.
    if not hmac.compare_digest(given_signature, _signature(secret_key, purpose, body)):
        raise TokenInvalid("bad signature")
    try:
        claimed_purpose, subject_id, email, expiry = json.loads(_b64decode(body))
    except (ValueError, TypeError):  # a correctly signed body always decodes: only a bug gets here
        raise TokenInvalid("unreadable body") from None
    if (
        claimed_purpose != purpose
        or type(subject_id) is not int
        or not isinstance(email, str)
        or type(expiry) is not int
    ):
        raise TokenInvalid("wrong purpose or shape")
    claims = TokenClaims(claimed_purpose, subject_id, email, datetime.fromtimestamp(expiry, UTC))
    if now >= claims.expires_at:
        raise TokenExpired(claims)
    return claims
