"""Which consumer handles which outbox topic, built from settings."""

from __future__ import annotations

from dps.mail import EMAIL_TOPIC, email_consumer
from dps.outbox.worker import Consumer
from dps.settings import Settings


def outbox_consumers(settings: Settings) -> dict[str, Consumer]:
    from catalogue.search.consumer import search_index_consumer
    from catalogue.services import SEARCH_INDEX_TOPIC
    from dps.payments.services import STRIPE_TOPIC, stripe_consumer

    return {EMAIL_TOPIC: email_consumer(settings), SEARCH_INDEX_TOPIC: search_index_consumer(settings),
            STRIPE_TOPIC: stripe_consumer(settings)}
