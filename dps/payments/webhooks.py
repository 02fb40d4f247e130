"""Stripe webhook signatures, as pure functions (no I/O, the clock is passed in).

`Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...][,v0=...]`; each v1 is HMAC-SHA256 of `f"{t}.{raw body}"`
with the endpoint secret. Several v1 values may be present (secret rotation); one match is enough. The timestamp
must be within the tolerance of now, in either direction.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from datetime import datetime
from typing import Any

TOLERANCE_SECONDS = 300


class SignatureError(ValueError):
    """The payload is not proven to come from Stripe (or is too old): answer 400, change nothing."""


class MalformedEvent(ValueError):
    """Signed by Stripe, but not an event we can read (an over-long id, an amount that is not a whole number,
    JSON nested too deep): answer 400 and keep a record of it, change nothing else."""


# Stripe's ids are short ASCII ("evt_1NG8Du2eZvKYlo2C..."); our stored column holds 100 characters.
_STRIPE_ID = re.compile(r"[A-Za-z0-9_]{1,100}")
MAX_DEPTH = 32


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
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise MalformedEvent("The payload is not JSON") from None
    check_event(event)
    return event


def _depth(value: Any, limit: int) -> int:
    """How deeply lists and objects nest in `value`, counted no further than `limit` + 1."""
    deepest, level = 0, [(value, 1)]
    while level:
        item, depth = level.pop()
        if isinstance(item, dict | list) and depth > deepest:
            deepest = depth
            if deepest > limit:
                return deepest
        if isinstance(item, dict):
            level.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            level.extend((child, depth + 1) for child in item)
    return deepest


def _is_amount(value: Any) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63)


def check_event(event: Any) -> None:
    """Refuse (MalformedEvent) a payload that is not a Stripe event of the shape our handlers read."""
    if not isinstance(event, dict) or not isinstance(event.get("type"), str) or len(event["type"]) > 100:
        raise MalformedEvent("The payload is not a Stripe event")
    if not isinstance(event.get("id"), str) or not _STRIPE_ID.fullmatch(event["id"]):
        raise MalformedEvent("The event id is not a Stripe id")
    if _depth(event, MAX_DEPTH) > MAX_DEPTH:
        raise MalformedEvent(f"The event nests deeper than {MAX_DEPTH} levels")
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise MalformedEvent("The event has no data object")
    obj = data["object"]
    for key in ("id", "payment_intent"):
        if obj.get(key) is not None and not (isinstance(obj[key], str) and _STRIPE_ID.fullmatch(obj[key])):
            raise MalformedEvent(f"data.object.{key} is not a Stripe id")
    for key in ("amount", "amount_received", "amount_refunded"):
        if not _is_amount(obj.get(key)):
            raise MalformedEvent(f"data.object.{key} is not a whole number of pence")
    if obj.get("metadata") is not None and not isinstance(obj["metadata"], dict):
        raise MalformedEvent("data.object.metadata is not an object")
