"""Email: services put messages in the outbox (topic "email"); the worker sends them over SMTP."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from urllib.parse import urlsplit

import aiosmtplib
from sqlalchemy.ext.asyncio import AsyncSession

from dps.crypto import SealingError, SealingKey, sealing_key
from dps.outbox.models import OutboxMessage
from dps.outbox.services import enqueue
from dps.settings import Settings

EMAIL_TOPIC = "email"
SEALED_PREFIX = "email:sealed:"  # the dedupe key of a sealed email: this, then a keyed hash


async def queue_email(
    session: AsyncSession, *, to: str, subject: str, body: str, dedupe_key: str, now: datetime, sealed: bool = False
) -> OutboxMessage:
    """Queue a plain-text email in the caller's transaction; it is sent only if that transaction commits.

    `sealed` (C5: a bidder's receipt before the deadline): the outbox row must not say whom the email is for or what
    it is about. Its dedupe key is a keyed hash of `dedupe_key`, still unique per message, and its payload is the
    email sealed under the sealing key, bound to that dedupe key; only the email consumer, which holds the key,
    opens it, to send it. The row stays sealed after delivery."""
    if not sealed:
        return await enqueue(session, topic=EMAIL_TOPIC, dedupe_key=f"email:{dedupe_key}",
                             payload={"to": to, "subject": subject, "body": body}, now=now)
    key = sealing_key()
    opaque_key = f"{SEALED_PREFIX}{key.opaque(dedupe_key)}"
    return await enqueue(session, topic=EMAIL_TOPIC, dedupe_key=opaque_key, now=now, payload={
        "sealed": key.seal({"to": to, "subject": subject, "body": body}, context=opaque_key), "key_id": key.key_id})


class SealedDeliveryFailed(Exception):
    """A sealed email could not be sent. The reason is told without the details (an SMTP error names the
    recipient), because it is stored on the outbox row and logged."""


def open_payload(key: SealingKey, outbox_message: OutboxMessage) -> dict[str, str]:
    """The email of an outbox row: as queued, or unsealed if it was queued sealed."""
    payload = outbox_message.payload
    if "sealed" not in payload:
        return payload
    if payload.get("key_id") != key.key_id:
        raise SealedDeliveryFailed(f"sealed under sealing key {payload.get('key_id')}, but BID_SEALING_KEY is key "
                                   f"{key.key_id}")
    try:
        opened: dict[str, str] = key.open(payload["sealed"], context=outbox_message.dedupe_key)
    except SealingError as error:
        raise SealedDeliveryFailed(str(error)) from None
    return opened


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


def email_consumer(settings: Settings):  # noqa: ANN201 - returns an outbox consumer
    smtp = urlsplit(settings.smtp_url)
    key = SealingKey(settings.bid_sealing_key)

    async def send(outbox_message: OutboxMessage) -> None:
        message = build_message(settings, open_payload(key, outbox_message), outbox_message.id or 0)
        if "sealed" not in outbox_message.payload:
            await deliver(message)
            return
        try:
            await deliver(message)
        except Exception as error:  # noqa: BLE001 - told on, without details that could name the recipient
            code = getattr(error, "code", None)
            raise SealedDeliveryFailed(f"{type(error).__name__}{f' (SMTP {code})' if code else ''}") from None

    async def deliver(message: EmailMessage) -> None:
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
