"""Which consumer handles which outbox topic, built from settings."""

from __future__ import annotations

from dps.mail import EMAIL_TOPIC, email_consumer
from dps.outbox.worker import Consumer
from dps.settings import Settings


def outbox_consumers(settings: Settings) -> dict[str, Consumer]:
    return {EMAIL_TOPIC: email_consumer(settings)}
