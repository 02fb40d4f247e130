"""The time a request was received, taken as it arrives: before the session store, the user's load, the database
pool or any lock, so a bid received at 11:59:58 is judged at 11:59:58 however long it then waits (C5).

The outermost middleware of the app reads the app's injectable clock once and keeps the instant in the request's
state; `now: Now` (dps.web.deps) is that instant, so every handler and the services it calls judge by it. The
response says it back in `X-Received-At` (ISO 8601, UTC): a supplier's proof of when its bid arrived."""

from __future__ import annotations

from contextvars import ContextVar
from datetime import datetime
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send

RECEIVED_AT = "received_at"
# The same instant for code that has no request at hand (a template global): set for the task serving the request.
RECEIVED_NOW: ContextVar[datetime | None] = ContextVar("received_now", default=None)
RECEIVED_AT_HEADER = b"x-received-at"


def received_at_middleware(app: ASGIApp) -> ASGIApp:
    async def stamp(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            received = scope["app"].state.clock.now()
            scope.setdefault("state", {})[RECEIVED_AT] = received
            RECEIVED_NOW.set(received)
        await app(scope, receive, send)

    return stamp


async def received_at_header(message: Message, scope: Scope) -> None:
    """A before_send hook (one wrapper of `send` for all the app's hooks, not one more of its own): the response
    says when its request was received."""
    if message["type"] == "http.response.start":
        received = received_at(scope.get("state"))
        if received is not None:  # the app's own message: changed in place, not copied
            message["headers"] = [*message.get("headers", ()),
                                  (RECEIVED_AT_HEADER, received.isoformat(timespec="microseconds").encode())]


def received_at(scope_state: Any) -> datetime | None:
    value = scope_state.get(RECEIVED_AT) if scope_state is not None else None
    return value if isinstance(value, datetime) else None
