"""Email: services put messages in the outbox (topic "email"); the worker sends them over SMTP."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from urllib.parse import urlsplit

import aiosmtplib
from sqlalchemy.ext.asyncio import AsyncSession

from dps.outbox.models import OutboxMessage
from dps.outbox.services import enqueue
from dps.settings import Settings

EMAIL_TOPIC = "email"


async def queue_email(
    session: AsyncSession, *, to: str, subject: str, body: str, dedupe_key: str, now: datetime
) -> OutboxMessage:
    """Queue a plain-text email in the caller's transaction; it is sent only if that transaction commits."""
    return await enqueue(session, topic=EMAIL_TOPIC, dedupe_key=f"email:{dedupe_key}",
                         payload={"to": to, "subject": subject, "body": body}, now=now)


# Services queue emails without knowing the service's public address; the sender puts it in front of each link.
SITE_ADDRESS = "{dps-site-address}"


def page_link(path: str) -> str:
    """A full link to one of our pages, for an email body queued by a service ("/supplier/competitions/4")."""
    return SITE_ADDRESS + path


def build_message(settings: Settings, payload: dict[str, str], message_id: int) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = payload["to"]
    message["Subject"] = payload["subject"]
    host = urlsplit(settings.base_url).hostname or "localhost"
    message["Message-ID"] = f"<outbox-{message_id}@{host}>"  # the same id on a retry lets mail systems de-duplicate
    message.set_content(payload["body"].replace(SITE_ADDRESS, settings.base_url))
    return message


def email_consumer(settings: Settings):  # returns an outbox consumer
    smtp = urlsplit(settings.smtp_url)

    async def send(outbox_message: OutboxMessage) -> None:
        message = build_message(settings, outbox_message.payload, outbox_message.id or 0)
        await aiosmtplib.send(
            message,
            hostname=smtp.hostname,
            port=smtp.port or (465 if smtp.scheme == "smtps" else 25),
            username=smtp.username,
            password=smtp.password,
            use_tls=smtp.scheme == "smtps",
            start_tls=False if smtp.scheme == "smtp" and not smtp.username else None,
            timeout=20,
        )

    return send
