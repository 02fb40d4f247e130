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
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        received = scope["app"].state.clock.now()
        state: dict[str, Any] = scope.setdefault("state", {})
        state[RECEIVED_AT] = received
        RECEIVED_NOW.set(received)

        async def send_with_receipt(message: Message) -> None:
            if message["type"] == "http.response.start":  # the app's own message: changed in place, not copied
                message["headers"] = [*message.get("headers", ()),
                                      (RECEIVED_AT_HEADER, received.isoformat(timespec="microseconds").encode())]
            await send(message)

        await app(scope, receive, send_with_receipt)

    return stamp


def received_at(scope_state: Any) -> datetime | None:
    value = scope_state.get(RECEIVED_AT) if scope_state is not None else None
    return value if isinstance(value, datetime) else None
