"""Password reset: "Forgot your password?" sends a single-use link that works for one hour; using it sets a new
password and ends every session of the account (its session epoch moves on).

The reply to a request is the same whether or not the address has an account (the caller shows one page in every
case); a request for an unknown address changes nothing and sends nothing. Rules: dps.identity.rules.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dps.audit.services import Actor, record
from dps.dates import london_day_at_time
from dps.db import changed_rows, table_of
from dps.errors import ValidationFailed
from dps.identity.emails import render_email
from dps.identity.models import PasswordReset, User
from dps.identity.passwords import Passwords
from dps.identity.rules import (
    PASSWORD_RESET_LIFETIME,
    check_new_password,
    may_send_reset,
    reset_link_problem,
    reset_token_hash,
)
from dps.identity.services import actor_of, normalise_email
from dps.mail import page_link, queue_email

_security_log = logging.getLogger("dps.security")
RESETS = table_of(PasswordReset)
USERS = table_of(User)


class ResetLinkUnusable(Exception):
    """The link is not one we sent, has been used, or has expired: `reason` is "unknown", "used" or "expired"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def request_password_reset(session: AsyncSession, *, email: str, now: datetime) -> None:
    """Send a reset link to the account with this address, if there is an active one (at most a few an hour)."""
    try:
        address = normalise_email(email)
    except ValidationFailed:
        return
    user = await session.scalar(sa.select(User).where(col(User.email) == address))
    if user is None or not user.is_active:
        await session.commit()
        return
    sent = await session.scalar(sa.select(sa.func.count()).select_from(PasswordReset).where(
        col(PasswordReset.user_id) == user.id, col(PasswordReset.created_at) > now - PASSWORD_RESET_LIFETIME))
    if not may_send_reset(int(sent or 0)):
        _security_log.warning("password reset for user %s not sent: too many in the last hour", user.id)
        await session.commit()
        return
    token = secrets.token_urlsafe(32)
    reset = PasswordReset(user_id=user.id or 0, token_hash=reset_token_hash(token), created_at=now,
                          expires_at=now + PASSWORD_RESET_LIFETIME)
    session.add(reset)
    await session.flush()
    await record(session, actor=actor_of(user), action="password_reset.requested", entity_type="user",
                 entity_id=user.id or 0, now=now, after={"reset_id": reset.id})
    body = render_email("password_reset.txt", full_name=user.full_name,
                        link=page_link(f"/reset-password?token={token}"),
                        expires=london_day_at_time(reset.expires_at), sign_in=page_link("/login"))
    await queue_email(session, to=user.email, subject="Reset your NHS Innovation DPS password", body=body,
                      dedupe_key=f"password-reset:{reset.id}", now=now)
    await session.commit()


@dataclass(frozen=True)
class UsableReset:
    reset_id: int
    user_id: int
    email: str
    full_name: str


async def usable_reset(session: AsyncSession, token: str, now: datetime) -> UsableReset:
    """The reset a link stands for, or ResetLinkUnusable saying why not."""
    row = (await session.execute(
        sa.select(PasswordReset, User).join(User, col(User.id) == PasswordReset.user_id)
        .where(col(PasswordReset.token_hash) == reset_token_hash(token[:200])))).first()
    if row is None:
        raise ResetLinkUnusable("unknown")
    reset, user = row
    problem = reset_link_problem(expires_at=reset.expires_at, used_at=reset.used_at, now=now)
    if problem is not None:
        raise ResetLinkUnusable(problem)
    if not user.is_active:
        raise ResetLinkUnusable("unknown")
    return UsableReset(reset.id or 0, user.id or 0, user.email, user.full_name)


async def reset_password(session: AsyncSession, passwords: Passwords, *, token: str, password: str,
                         confirmation: str, now: datetime) -> int:
    """Set a new password with a reset link; the link is used up, every other link of the account too, and every
    session of the account ends. Returns the user id. ValidationFailed for a password that may not be set."""
    reset = await usable_reset(session, token, now)
    if not password:
        raise ValidationFailed("Enter a new password", field="password")
    check_new_password(password, email=reset.email, full_name=reset.full_name)
    if password != confirmation:
        raise ValidationFailed("The passwords do not match: enter the same password twice", field="confirmation")
    used = await changed_rows(session, sa.update(RESETS).where(RESETS.c.id == reset.reset_id,
                                                               RESETS.c.used_at.is_(None)).values(used_at=now))
    if used != 1:  # used by another request a moment ago
        raise ResetLinkUnusable("used")
    await session.execute(sa.update(RESETS).where(RESETS.c.user_id == reset.user_id, RESETS.c.used_at.is_(None))
                          .values(used_at=now))
    await session.execute(sa.update(USERS).where(USERS.c.id == reset.user_id).values(
        password_hash=passwords.hash(password), session_epoch=USERS.c.session_epoch + 1))
    await record(session, actor=Actor(reset.user_id, reset.email), action="user.password_reset",
                 entity_type="user", entity_id=reset.user_id, now=now,
                 after={"reset_id": reset.reset_id, "sessions_ended": True})
    await session.commit()
    return reset.user_id

