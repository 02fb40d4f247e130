"""The time a request was received, taken as it arrives: before the session store, the user's load, the database
pool or any lock, so a bid received at 11:59:58 is judged at 11:59:58 however long it then waits (C5).

The app's edge (dps.web.edge), around the whole of Litestar, reads the app's injectable clock once and keeps the
instant in the request's state; `now: Now` (dps.web.deps) is that instant, so every handler and the services it calls
judge by it. The response says it back in `X-Received-At` (ISO 8601, UTC): a supplier's proof of when its bid
arrived."""

from __future__ import annotations

from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

RECEIVED_AT = "received_at"
# The same instant for code that has no request at hand (a template global): set for the task serving the request.
RECEIVED_NOW: ContextVar[datetime | None] = ContextVar("received_now", default=None)
RECEIVED_AT_HEADER = b"x-received-at"


def received_at_header(received: datetime) -> tuple[bytes, bytes]:
    """`X-Received-At`, ISO 8601 with microseconds. It is on every response, so a UTC time (the system clock's)
    is written field by field, twice as fast as `isoformat`, which asks the time zone for its offset."""
    if received.tzinfo is not UTC:
        return RECEIVED_AT_HEADER, received.isoformat(timespec="microseconds").encode()
    return RECEIVED_AT_HEADER, b"%04d-%02d-%02dT%02d:%02d:%02d.%06d+00:00" % (
        received.year, received.month, received.day, received.hour, received.minute, received.second,
        received.microsecond)


def received_at(scope_state: Any) -> datetime | None:
    value = scope_state.get(RECEIVED_AT) if scope_state is not None else None
    return value if isinstance(value, datetime) else None
