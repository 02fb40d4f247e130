"""Stripe webhook signatures, as pure functions (no I/O, the clock is passed in).

`Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...][,v0=...]`; each v1 is HMAC-SHA256 of `f"{t}.{raw body}"`
with the endpoint secret. Several v1 values may be present (secret rotation); one match is enough. The timestamp
must be within the tolerance of now, in either direction.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

TOLERANCE_SECONDS = 300


class SignatureError(ValueError):
    """The payload is not proven to come from Stripe (or is too old): answer 400, change nothing."""


def compute_signature(secret: str, timestamp: int, payload: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, payload: bytes) -> str:
    return f"t={timestamp},v1={compute_signature(secret, timestamp, payload)}"


def parse_header(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise SignatureError("The signature's timestamp is not a number") from None
        elif key == "v1" and value:
            signatures.append(value)
    if timestamp is None:
        raise SignatureError("The signature has no timestamp")
    if not signatures:
        raise SignatureError("The signature has no v1 value")
    return timestamp, signatures


def verify(payload: bytes, header: str | None, secret: str, now: datetime,
           tolerance: int = TOLERANCE_SECONDS) -> None:
    if not header:
        raise SignatureError("There is no Stripe-Signature header")
    timestamp, signatures = parse_header(header)
    expected = compute_signature(secret, timestamp, payload)
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise SignatureError("No signature matches the payload")
    if abs(now.timestamp() - timestamp) > tolerance:
        raise SignatureError("The signature's timestamp is outside the tolerance")


def construct_event(payload: bytes, header: str | None, secret: str, now: datetime,
                    tolerance: int = TOLERANCE_SECONDS) -> dict[str, Any]:
    """Verify, then parse: a JSON object with an id and a type, or SignatureError."""
    verify(payload, header, secret, now, tolerance)
    try:
        event = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise SignatureError("The payload is not JSON") from None
    if not isinstance(event, dict) or not isinstance(event.get("id"), str) or not isinstance(event.get("type"), str):
        raise SignatureError("The payload is not a Stripe event")
    if not isinstance(event.get("data"), dict) or not isinstance(event["data"].get("object"), dict):
        raise SignatureError("The event has no data object")
    return event
