"""Email: services put messages in the outbox (topic "email"); the worker sends them over SMTP.

In development every email is also saved as an .eml file in the local mailbox (`Settings.mailbox_dir`, var/mail/),
read at /dev/mail, and SMTP is used only when SMTP_URL is set: `make run` needs no mail server.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any
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
    session: AsyncSession, *, to: str, subject: str, body: str, dedupe_key: str, now: datetime
) -> OutboxMessage:
    """Queue a plain-text email in the caller's transaction; it is sent only if that transaction commits."""
    return await enqueue(session, topic=EMAIL_TOPIC, dedupe_key=f"email:{dedupe_key}",
                         payload={"to": to, "subject": subject, "body": body}, now=now)


async def queue_sealed_email(
    session: AsyncSession, *, recipients: Sequence[str], subject: str, body: str, dedupe_key: str, now: datetime
) -> OutboxMessage:
    """Queue an email whose outbox row must not say whom it is for or what it is about (C5: a bidder's receipt
    before the deadline). Its dedupe key is a keyed hash of `dedupe_key`, still unique per message; its payload is
    the email sealed under the sealing key and bound to that dedupe key, opened only by the email consumer, which
    holds the key, to send it; the row stays sealed after delivery. One row whatever the number of recipients (a
    count of rows written at one instant would hint at the size of the organisation); each gets its own message."""
    key = sealing_key()
    opaque_key = f"{SEALED_PREFIX}{key.opaque(dedupe_key)}"
    email = {"recipients": list(recipients), "subject": subject, "body": body}
    return await enqueue(session, topic=EMAIL_TOPIC, dedupe_key=opaque_key, now=now,
                         payload={"sealed": key.seal(email, context=opaque_key), "key_id": key.key_id})


class SealedDeliveryFailed(Exception):
    """A sealed email could not be sent. The reason is told without the details (an SMTP error names the
    recipient), because it is stored on the outbox row and logged."""


def open_sealed(key: SealingKey, outbox_message: OutboxMessage) -> dict[str, Any]:
    """The email sealed in an outbox row: {"recipients": [...], "subject": ..., "body": ...}."""
    payload = outbox_message.payload
    if payload.get("key_id") != key.key_id:
        raise SealedDeliveryFailed(f"sealed under sealing key {payload.get('key_id')}, but BID_SEALING_KEY is key "
                                   f"{key.key_id}")
    try:
        opened: dict[str, Any] = key.open(payload["sealed"], context=outbox_message.dedupe_key)
    except SealingError as error:
        raise SealedDeliveryFailed(str(error)) from None
    return opened


# Services queue emails without knowing the service's public address; the sender puts it in front of each link.
SITE_ADDRESS = "{dps-site-address}"


def page_link(path: str) -> str:
    """A full link to one of our pages, for an email body queued by a service ("/supplier/competitions/4")."""
    return SITE_ADDRESS + path


def build_message(settings: Settings, payload: dict[str, str], message_id: int | str,
                  queued_at: datetime | None = None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = payload["to"]
    # A header holds one line: a subject that carries a title stored before one-line fields were enforced must
    # still send, not fail on every retry.
    message["Subject"] = " ".join(payload["subject"].split())
    if queued_at is not None:
        message["Date"] = format_datetime(queued_at)
    host = urlsplit(settings.base_url).hostname or "localhost"
    message["Message-ID"] = f"<outbox-{message_id}@{host}>"  # the same id on a retry lets mail systems de-duplicate
    message.set_content(payload["body"].replace(SITE_ADDRESS, settings.base_url))
    return message


# --- the local mailbox (development) ----------------------------------------------------------------------

_SAVED_NAME = re.compile(r"^[0-9]{8}T[0-9]{6}-[0-9.]+\.eml$")


def save_to_mailbox(directory: Path, message: EmailMessage, message_id: int | str, queued_at: datetime) -> Path:
    """Write the message as an .eml file named by when it was queued and its outbox id (a retry overwrites it)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{queued_at:%Y%m%dT%H%M%S}-{message_id}.eml"
    partial = path.with_suffix(".part")
    partial.write_bytes(message.as_bytes(policy=policy.SMTP))
    os.replace(partial, path)
    return path


@dataclass(frozen=True)
class SavedEmail:
    name: str
    to: str
    subject: str
    sent_at: datetime | None
    body: str


def _read(path: Path) -> SavedEmail:
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    try:
        sent_at = parsedate_to_datetime(str(message["Date"])) if message["Date"] else None
    except (TypeError, ValueError):
        sent_at = None
    part = message.get_body(preferencelist=("plain",)) if isinstance(message, EmailMessage) else None
    body = part.get_content() if part is not None else ""
    return SavedEmail(path.name, str(message["To"] or ""), str(message["Subject"] or ""), sent_at, body)


def saved_emails(directory: Path, *, to: str | None = None) -> list[SavedEmail]:
    """The emails in the local mailbox, newest first (optionally only those to one address)."""
    if not directory.is_dir():
        return []
    found = [_read(path) for path in directory.glob("*.eml") if _SAVED_NAME.match(path.name)]
    if to:
        found = [email for email in found if email.to.lower() == to.strip().lower()]
    return sorted(found, key=lambda email: email.name, reverse=True)


def saved_email(directory: Path, name: str) -> SavedEmail | None:
    """One saved email by its file name; None for a name that is not one of ours (no path can escape the folder)."""
    if not _SAVED_NAME.match(name) or not (directory / name).is_file():
        return None
    return _read(directory / name)


# --- the consumer -------------------------------------------------------------------------------------------


def email_consumer(settings: Settings):  # returns an outbox consumer
    smtp = urlsplit(settings.smtp_url)
    key = SealingKey(settings.bid_sealing_key)
    mailbox = settings.mailbox_dir

    async def send(outbox_message: OutboxMessage) -> None:
        queued_at = outbox_message.created_at
        if "sealed" not in outbox_message.payload:
            await deliver(build_message(settings, outbox_message.payload, outbox_message.id or 0, queued_at),
                          outbox_message.id or 0, queued_at)
            return
        email = open_sealed(key, outbox_message)
        try:
            for number, to in enumerate(email["recipients"]):
                await deliver(build_message(settings, {"to": to, "subject": email["subject"], "body": email["body"]},
                                            f"{outbox_message.id}.{number}", queued_at),
                              f"{outbox_message.id}.{number}", queued_at)
        except Exception as error:
            code = getattr(error, "code", None)
            raise SealedDeliveryFailed(f"{type(error).__name__}{f' (SMTP {code})' if code else ''}") from None

    async def deliver(message: EmailMessage, message_id: int | str, queued_at: datetime) -> None:
        if mailbox is not None:
            save_to_mailbox(mailbox, message, message_id, queued_at)
        if settings.smtp_enabled:
            await smtp_send(message)

    async def smtp_send(message: EmailMessage) -> None:
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
