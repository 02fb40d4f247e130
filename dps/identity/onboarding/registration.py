"""Registration of a supplier user and the verification of their email address.

Rate limits on verification emails are counted from the outbox itself (one row per email sent), so no extra
column is needed: at most one verification email per user every VERIFICATION_EMAIL_GAP, and
VERIFICATION_EMAILS_PER_DAY in any 24 hours.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dps.audit.services import Actor, record
from dps.dates import london_day_at_time
from dps.errors import ValidationFailed
from dps.forms import FormErrors, InputInvalid
from dps.identity import tokens
from dps.identity.emails import render_email
from dps.identity.models import User
from dps.identity.onboarding.accounts import LinkUnusable, check_new_account, clean_email_address, invalid_link
from dps.identity.passwords import Passwords
from dps.identity.services import actor_of, create_user
from dps.mail import queue_email
from dps.outbox.models import OutboxMessage
from dps.settings import Settings

VERIFICATION_LIFETIME = timedelta(hours=48)
VERIFICATION_EMAIL_GAP = timedelta(minutes=2)
VERIFICATION_EMAILS_PER_DAY = 5
ACCOUNT_EXISTS_EMAIL_GAP = timedelta(hours=1)

_VERIFY_KEY = "verify-email"
_ACCOUNT_EXISTS_KEY = "account-exists"
_SELF_REGISTRATION = Actor(user_id=None, label="self-registration")

_REGISTRATION_FIELDS = ("full_name", "email", "password", "password_confirmation")


@dataclass(frozen=True)
class Registration:
    """What the page may say after registering: the same whether or not the address already had an account."""

    email: str


async def _emails_sent(session: AsyncSession, key: str, user_id: int, since: datetime) -> list[datetime]:
    rows = await session.scalars(
        sa.select(col(OutboxMessage.created_at))
        .where(col(OutboxMessage.dedupe_key).like(f"email:{key}:{user_id}:%"), col(OutboxMessage.created_at) > since)
        .order_by(col(OutboxMessage.created_at).desc())
    )
    return list(rows.all())


def _dedupe_key(key: str, user_id: int, now: datetime) -> str:
    return f"{key}:{user_id}:{now.strftime('%Y%m%dT%H%M%S.%f')}"


def verification_link(settings: Settings, user: User, now: datetime) -> str:
    token = tokens.issue(settings.secret_key, purpose=tokens.EMAIL_VERIFICATION, subject_id=user.id or 0,
                         email=user.email, now=now, lifetime=VERIFICATION_LIFETIME)
    return f"{settings.base_url}/verify-email?token={token}"


async def _send_verification(session: AsyncSession, settings: Settings, user: User, now: datetime) -> bool:
    """Queue a verification email unless the rate limit says not yet; True if one was queued."""
    sent = await _emails_sent(session, _VERIFY_KEY, user.id or 0, now - timedelta(days=1))
    if len(sent) >= VERIFICATION_EMAILS_PER_DAY or (sent and now - sent[0] < VERIFICATION_EMAIL_GAP):
        return False
    body = render_email("verify_email.txt", full_name=user.full_name, link=verification_link(settings, user, now),
                        expires=london_day_at_time(now + VERIFICATION_LIFETIME), base_url=settings.base_url)
    await queue_email(session, to=user.email, subject="Confirm your email address for the NHS Innovation DPS",
                      body=body, dedupe_key=_dedupe_key(_VERIFY_KEY, user.id or 0, now), now=now)
    return True


async def _send_account_exists(session: AsyncSession, settings: Settings, user: User, now: datetime) -> None:
    """Someone registered with an address that has an account: tell its owner (never the person registering)."""
    if await _emails_sent(session, _ACCOUNT_EXISTS_KEY, user.id or 0, now - ACCOUNT_EXISTS_EMAIL_GAP):
        return
    body = render_email("account_exists.txt", full_name=user.full_name, sign_in_link=f"{settings.base_url}/login",
                        base_url=settings.base_url)
    await queue_email(session, to=user.email, subject="You already have an NHS Innovation DPS account",
                      body=body, dedupe_key=_dedupe_key(_ACCOUNT_EXISTS_KEY, user.id or 0, now), now=now)


async def register_supplier_user(
    session: AsyncSession,
    passwords: Passwords,
    settings: Settings,
    *,
    full_name: str,
    email: str,
    password: str,
    password_confirmation: str,
    now: datetime,
) -> Registration:
    """Create an unverified account and email it a verification link (see register_user)."""
    return await register_user(session, passwords, settings, full_name=full_name, email=email, password=password,
                               password_confirmation=password_confirmation, now=now)


NewAccountStep = Callable[[AsyncSession, User], Awaitable[None]]


async def register_user(
    session: AsyncSession,
    passwords: Passwords,
    settings: Settings,
    *,
    full_name: str,
    email: str,
    password: str,
    password_confirmation: str,
    now: datetime,
    errors: FormErrors | None = None,
    field_order: Sequence[str] = _REGISTRATION_FIELDS,
    then: NewAccountStep | None = None,
) -> Registration:
    """Create an unverified account and email it a verification link.

    `errors` carries what the caller found wrong in its own fields (all are shown together, in `field_order`);
    `then` is the caller's next step for a new account, in the same transaction (an API consumer's organisation).

    If the address already has an account, nothing is created and nothing tells the caller so: its owner gets an
    email instead (a new verification link if it is still unverified), and the same amount of password hashing
    is done so the response time does not tell either.
    """
    errors = errors if errors is not None else FormErrors()
    name = check_new_account(full_name, password, password_confirmation, errors, email=email)
    try:
        clean_email = clean_email_address(email)
    except ValidationFailed as problem:
        errors.add_error(problem, "email")
    if errors:
        raise InputInvalid(errors.ordered(field_order))

    existing = await session.scalar(sa.select(User).where(col(User.email) == clean_email).with_for_update())
    if existing is None:
        user = await create_user(session, passwords, email=clean_email, full_name=name, password=password,
                                 actor=_SELF_REGISTRATION, now=now)
        if then is not None:
            await then(session, user)
        await _send_verification(session, settings, user, now)
        try:
            await session.commit()
        except IntegrityError:  # the same address registered at the same moment by another request
            await session.rollback()
        return Registration(clean_email)

    passwords.hash(password)  # the work a new account costs, so timing does not reveal that this one exists
    if existing.is_active:
        if existing.email_verified_at is None:
            await _send_verification(session, settings, existing, now)
        else:
            await _send_account_exists(session, settings, existing, now)
    await session.commit()
    return Registration(clean_email)


@dataclass(frozen=True)
class Verification:
    user_id: int
    email: str
    already_verified: bool


async def verify_email(session: AsyncSession, settings: Settings, *, token: str, now: datetime) -> Verification:
    """Mark the account verified by the link we emailed to it. A used link says so; a stale one can ask anew."""
    expired = False
    try:
        claims = tokens.read(settings.secret_key, token, purpose=tokens.EMAIL_VERIFICATION, now=now)
    except tokens.TokenExpired as problem:
        claims, expired = problem.claims, True
    except tokens.TokenInvalid:
        raise invalid_link() from None
    user = await session.get(User, claims.subject_id, with_for_update=True)
    if user is None or user.email != claims.email or not user.is_active:
        raise invalid_link()
    if user.email_verified_at is not None:
        return Verification(user.id or 0, user.email, already_verified=True)
    if expired:
        raise LinkUnusable(
            "expired", "This link has expired",
            f"Links to confirm an email address work for {int(VERIFICATION_LIFETIME.total_seconds() // 3600)} "
            "hours. Ask for a new email and use the link in it.",
            token=token,
        )
    user.email_verified_at = now
    await record(session, actor=actor_of(user), action="user.email_verified", entity_type="user",
                 entity_id=user.id or 0, now=now, before={"email_verified_at": None},
                 after={"email_verified_at": now.isoformat()})
    await session.commit()
    return Verification(user.id or 0, user.email, already_verified=False)


class ResendOutcome(StrEnum):
    SENT = "sent"
    TOO_SOON = "too_soon"
    ALREADY_VERIFIED = "already_verified"
    NO_ACCOUNT = "no_account"


async def resend_verification(
    session: AsyncSession,
    settings: Settings,
    *,
    now: datetime,
    user_id: int | None = None,
    email: str | None = None,
    token: str | None = None,
) -> ResendOutcome:
    """Send a new verification link to an account named by its id (signed in), its email address (the address
    just registered, kept in the browser's session) or a genuine verification link, expired or not.

    Only a signed-in person may be told which outcome it was; anyone else must see the same page whatever happens.
    """
    query = sa.select(User).with_for_update()
    if user_id is not None:
        query = query.where(col(User.id) == user_id)
    elif token is not None:
        try:
            claims = tokens.read(settings.secret_key, token, purpose=tokens.EMAIL_VERIFICATION, now=now)
        except tokens.TokenExpired as problem:
            claims = problem.claims
        except tokens.TokenInvalid:
            raise invalid_link() from None
        query = query.where(col(User.id) == claims.subject_id, col(User.email) == claims.email)
    elif email:
        query = query.where(col(User.email) == email)
    else:
        return ResendOutcome.NO_ACCOUNT
    user = await session.scalar(query)
    if user is None or not user.is_active:
        outcome = ResendOutcome.NO_ACCOUNT
    elif user.email_verified_at is not None:
        outcome = ResendOutcome.ALREADY_VERIFIED
    else:
        sent = await _send_verification(session, settings, user, now)
        outcome = ResendOutcome.SENT if sent else ResendOutcome.TOO_SOON
    await session.commit()
    return outcome


async def is_email_verified(session: AsyncSession, user_id: int) -> bool:
    return await session.scalar(sa.select(col(User.email_verified_at)).where(col(User.id) == user_id)) is not None
