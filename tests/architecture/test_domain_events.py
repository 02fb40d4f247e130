"""Domain events: handlers subscribed by the root run on the publisher's session, once each, in order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dps.admission.events import AdmissionChanged
from dps.events import DomainEvents
from dps.wiring import subscribe_domain_listeners


@dataclass(frozen=True)
class Happened:
    what: str


@dataclass(frozen=True)
class SomethingElse:
    what: str


async def test_a_published_event_reaches_each_subscribed_handler_once_on_the_same_session() -> None:
    events = DomainEvents()
    seen: list[tuple[str, Any, str]] = []

    async def first(session: Any, event: Happened) -> None:
        seen.append(("first", session, event.what))

    async def second(session: Any, event: Happened) -> None:
        seen.append(("second", session, event.what))

    events.subscribe(Happened, first)
    events.subscribe(Happened, second)
    events.subscribe(Happened, first)  # wiring twice must not react twice
    session = object()
    await events.publish(session, Happened("admitted"))  # type: ignore[arg-type]
    await events.publish(session, SomethingElse("ignored"))  # type: ignore[arg-type]
    assert seen == [("first", session, "admitted"), ("second", session, "admitted")]


def test_nothing_listens_until_the_root_subscribes() -> None:
    events = DomainEvents()
    assert events.handlers_for(AdmissionChanged) == ()
    subscribe_domain_listeners(events)
    subscribe_domain_listeners(events)
    assert len(events.handlers_for(AdmissionChanged)) == 1
