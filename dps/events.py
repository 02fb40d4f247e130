"""Domain events: how one domain reacts to another's change inside the same transaction.

A domain publishes a small frozen dataclass (for example `AdmissionChanged`) through the `DomainEvents` it is
given; the handlers that the composition root (`dps.wiring`) subscribed run at once, on the same database
session, so the reaction commits or rolls back with the change that caused it. Nothing subscribes on import:
a domain never learns who listens to it, and the root is the one place that says.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

EventT = TypeVar("EventT")
Handler = Callable[[AsyncSession, EventT], Awaitable[None]]


class DomainEvents:
    """Event type -> handlers, called in the order they were subscribed."""

    def __init__(self) -> None:
        self._handlers: dict[type[Any], list[Handler[Any]]] = {}

    def subscribe(self, event_type: type[EventT], handler: Handler[EventT]) -> None:
        handlers = self._handlers.setdefault(event_type, [])
        if handler not in handlers:  # wiring twice (a second app in one process) must not react twice
            handlers.append(handler)

    def clear(self) -> None:
        self._handlers.clear()

    def handlers_for(self, event_type: type[Any]) -> tuple[Handler[Any], ...]:
        return tuple(self._handlers.get(event_type, ()))

    async def publish(self, session: AsyncSession, event: object) -> None:
        """Run every handler of the event's type on the caller's session; the caller commits."""
        for handler in self._handlers.get(type(event), ()):
            await handler(session, event)


# The process's one bus. Domains publish to it; only `dps.wiring.subscribe_domain_listeners` subscribes.
domain_events = DomainEvents()
