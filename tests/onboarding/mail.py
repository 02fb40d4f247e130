"""Deliver what the outbox holds to the test's real SMTP server, and find the links in what arrived."""

from __future__ import annotations

import re
from typing import Any

from tests.conftest import DrainOutbox


async def deliver(drain_outbox: DrainOutbox) -> int:
    """Drain the outbox once, as the worker would; returns how many emails were delivered."""
    report = await drain_outbox()
    assert report.failed == 0, "an email could not be delivered to the test SMTP server"
    return report.delivered


def messages_to(smtp_server: Any, address: str) -> list[Any]:
    return [message for message in smtp_server.messages if message["To"] == address]


def link_in(message: Any, settings: Any, path: str) -> str:
    """The path and query of the one link to `path` in a received email (what a person would click)."""
    body = message.get_content()
    links = re.findall(re.escape(settings.base_url) + r"(" + re.escape(path) + r"\?\S+)", body)
    assert len(links) == 1, f"expected one link to {path} in:\n{body}"
    return links[0]


async def email_link(drain_outbox: DrainOutbox, smtp_server: Any, settings: Any, address: str, path: str) -> str:
    """Deliver pending email, then the link to `path` in the newest email that reached `address`."""
    await deliver(drain_outbox)
    received = messages_to(smtp_server, address)
    assert received, f"no email reached {address}"
    return link_in(received[-1], settings, path)
