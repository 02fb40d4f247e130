"""Colleagues and invitations: the organisation's team, inviting a colleague with a role, withdrawing an
invitation, and accepting one through the emailed link (with a new account, or signed in)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from dps.audit.services import Actor, record
from dps.dates import london_day_at_time
from dps.errors import Conflict, NotFound, ValidationFailed
from dps.forms import FormErrors, InputInvalid
from dps.identity import tokens
from dps.identity.emails import render_email
from dps.identity.models import Invitation, Membership, Organisation, Role, User
from dps.identity.onboarding.accounts import LinkUnusable, check_new_account, clean_email_address, invalid_link
from dps.identity.onboarding.organisation import NOT_FOUND_MESSAGE, supplier_access
from dps.identity.passwords import Passwords
from dps.identity.services import actor_of, add_membership, create_user
from dps.mail import queue_email
from dps.settings import Settings

INVITATION_LIFETIME = timedelta(days=7)

INVITABLE_ROLES: tuple[Role, ...] = (Role.SUPPLIER_ADMIN, Role.SUPPLIER_USER)
ROLE_LABELS: dict[str, str] = {
    Role.SUPPLIER_ADMIN: "Administrator",
    Role.SUPPLIER_USER: "User",
}
ROLE_IN_A_SENTENCE: dict[str, str] = {
    Role.SUPPLIER_ADMIN: "an administrator",
    Role.SUPPLIER_USER: "a user",
}
ROLE_DESCRIPTIONS: dict[str, str] = {
    Role.SUPPLIER_ADMIN: "can change the organisation's details and invite or remove colleagues",
    Role.SUPPLIER_USER: "can work on applications and listings",
}


@dataclass(frozen=True)
class Member:
    user_id: int
    full_name: str
    email: str
    role: str


@dataclass(frozen=True)
class PendingInvitation:
    id: int
    email: str
    role: str
    invited_by: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class Team:
    organisation: Organisation
    viewer_is_admin: bool
    members: list[Member]
    pending: list[PendingInvitation]


def _pending(now: datetime) -> Any:
    return sa.and_(col(Invitation.accepted_at).is_(None), col(Invitation.expires_at) > now)


async def load_team(session: AsyncSession, *, organisation_id: int, user_id: int, now: datetime) -> Team:
    access = await supplier_access(session, organisation_id=organisation_id, user_id=user_id)
    members = [
        Member(member_id, full_name, email, role)
        for member_id, full_name, email, role in await session.execute(
            sa.select(col(User.id), col(User.full_name), col(User.email), col(Membership.role))
            .join(Membership, col(Membership.user_id) == User.id)
            .where(col(Membership.organisation_id) == organisation_id)
            .order_by(col(User.full_name), col(User.id), col(Membership.role))
        )
    ]
    inviter = aliased(User)
    pending = [
        PendingInvitation(invitation.id or 0, invitation.email, invitation.role, inviter_name,
                          invitation.created_at, invitation.expires_at)
        for invitation, inviter_name in await session.execute(
            sa.select(Invitation, col(inviter.full_name))
            .join(inviter, col(inviter.id) == col(Invitation.invited_by_user_id))
            .where(col(Invitation.organisation_id) == organisation_id, _pending(now))
            .order_by(col(Invitation.created_at), col(Invitation.id))
        )
    ]
    return Team(access.organisation, access.is_admin, members, pending)


def invitation_link(settings: Settings, invitation: Invitation) -> str:
    token = tokens.sign(settings.secret_key, tokens.TokenClaims(tokens.INVITATION, invitation.id or 0,
                                                                invitation.email, invitation.expires_at))
    return f"{settings.base_url}/invitations/accept?token={token}"


async def invite_colleague(
    session: AsyncSession, settings: Settings, *, organisation_id: int, user_id: int, email: str, role: str,
    now: datetime,
) -> Invitation:
    """An invitation (and its email) for a colleague to join the organisation with a role; administrators only."""
    access = await supplier_access(session, organisation_id=organisation_id, user_id=user_id, admin=True)
    errors = FormErrors()
    try:
        clean_email = clean_email_address(email)
    except ValidationFailed as problem:
        errors.add_error(problem, "email")
    if role not in INVITABLE_ROLES:
        errors.add("role", "Select the role your colleague will have")
    if errors:
        raise InputInvalid(errors)
    organisation = access.organisation
    already_member = await session.scalar(
        sa.select(col(Membership.id)).join(User, col(User.id) == Membership.user_id)
        .where(col(Membership.organisation_id) == organisation.id, col(User.email) == clean_email)
    )
    if already_member is not None:
        raise ValidationFailed(f"{clean_email} is already a member of {organisation.name}", field="email")
    waiting = await session.scalar(
        sa.select(col(Invitation.id)).where(col(Invitation.organisation_id) == organisation.id,
                                       col(Invitation.email) == clean_email, _pending(now))
    )
    if waiting is not None:
        raise ValidationFailed(
            "An invitation to this email address is waiting to be accepted. Withdraw it to send a new one.",
            field="email",
        )
    invitation = Invitation(
        organisation_id=organisation.id or 0, email=clean_email, role=role, invited_by_user_id=user_id,
        created_at=now, expires_at=(now + INVITATION_LIFETIME).replace(microsecond=0),  # tokens hold whole seconds
    )
    session.add(invitation)
    await session.flush()
    actor = actor_of(access.user)
    await record(session, actor=actor, action="invitation.created", entity_type="invitation",
                 entity_id=invitation.id or 0, now=now,
                 after={"organisation_id": organisation.id, "email": clean_email, "role": role,
                        "expires_at": invitation.expires_at.isoformat()})
    body = render_email(
        "invitation.txt", inviter_name=access.user.full_name, organisation_name=organisation.name,
        role_label=ROLE_IN_A_SENTENCE[role], role_description=ROLE_DESCRIPTIONS[role],
        link=invitation_link(settings, invitation), expires=london_day_at_time(invitation.expires_at),
        base_url=settings.base_url,
    )
    await queue_email(session, to=clean_email,
                      subject=f"{access.user.full_name} has invited you to join {organisation.name} on the NHS "
                              "Innovation DPS",
                      body=body, dedupe_key=f"invitation:{invitation.id}", now=now)
    await session.commit()
    return invitation


async def revoke_invitation(
    session: AsyncSession, *, organisation_id: int, invitation_id: int, user_id: int, now: datetime
) -> Invitation:
    """Withdraw a pending invitation: it expires now, so its link stops working (and says it was withdrawn)."""
    access = await supplier_access(session, organisation_id=organisation_id, user_id=user_id, admin=True)
    invitation = await session.scalar(
        sa.select(Invitation).where(col(Invitation.id) == invitation_id,
                                    col(Invitation.organisation_id) == organisation_id)
        .with_for_update()
    )
    if invitation is None:
        raise NotFound(NOT_FOUND_MESSAGE)
    if invitation.accepted_at is not None:
        raise Conflict(f"{invitation.email} has already accepted this invitation")
    if invitation.expires_at <= now:
        raise Conflict("This invitation has already expired or been withdrawn")
    before = {"expires_at": invitation.expires_at.isoformat()}
    invitation.expires_at = now
    await record(session, actor=actor_of(access.user), action="invitation.revoked",
                 entity_type="invitation", entity_id=invitation.id or 0, now=now, before=before,
                 after={"expires_at": now.isoformat(), "email": invitation.email, "role": invitation.role})
    await session.commit()
    return invitation


@dataclass(frozen=True)
class InvitationDetails:
    invitation_id: int
    email: str
    role: str
    organisation_id: int
    organisation_name: str
    invited_by: str
    expires_at: datetime
    account_exists: bool


async def _usable_invitation(session: AsyncSession, settings: Settings, token: str, now: datetime,
                             *, lock: bool = False) -> Invitation:
    expired = False
    try:
        claims = tokens.read(settings.secret_key, token, purpose=tokens.INVITATION, now=now)
    except tokens.TokenExpired as problem:
        claims, expired = problem.claims, True
    except tokens.TokenInvalid:
        raise invalid_link() from None
    invitation = await session.get(Invitation, claims.subject_id, with_for_update=lock)
    if invitation is None or invitation.email != claims.email:
        raise invalid_link()
    if invitation.accepted_at is not None:
        raise LinkUnusable("accepted", "This invitation has already been accepted",
                           "Sign in with the account that accepted it to continue.")
    if invitation.expires_at < claims.expires_at and invitation.expires_at <= now:
        raise LinkUnusable("withdrawn", "This invitation has been withdrawn",
                           "The organisation withdrew this invitation. Ask a colleague there to invite you again "
                           "if you still need access.")
    if expired or invitation.expires_at <= now:
        raise LinkUnusable("expired", "This invitation has expired",
                           f"Invitations work for {INVITATION_LIFETIME.days} days. Ask a colleague at the "
                           "organisation to invite you again.")
    return invitation


def _wrong_account(invitation: Invitation, signed_in_email: str) -> LinkUnusable:
    return LinkUnusable(
        "wrong_account", "This invitation is for a different account",
        f"This invitation was sent to {invitation.email}, but you are signed in as {signed_in_email}. "
        "Sign out, then open the link in the email again.",
    )


async def inspect_invitation(
    session: AsyncSession, settings: Settings, *, token: str, now: datetime, signed_in_email: str | None = None
) -> InvitationDetails:
    """What an invitation link offers, or LinkUnusable saying why it cannot be used (by this person)."""
    invitation = await _usable_invitation(session, settings, token, now)
    if signed_in_email is not None and signed_in_email != invitation.email:
        raise _wrong_account(invitation, signed_in_email)
    organisation = await session.get(Organisation, invitation.organisation_id)
    inviter = await session.get(User, invitation.invited_by_user_id)
    account = await session.scalar(sa.select(col(User.id)).where(col(User.email) == invitation.email))
    await session.commit()  # end the read transaction
    return InvitationDetails(
        invitation.id or 0, invitation.email, invitation.role, invitation.organisation_id,
        organisation.name if organisation else "", inviter.full_name if inviter else "",
        invitation.expires_at, account is not None,
    )


@dataclass(frozen=True)
class Acceptance:
    user_id: int
    organisation_id: int
    new_account: bool


class SignInToAccept(Conflict):
    """The invited address has an account: its owner accepts after signing in."""


async def accept_invitation(
    session: AsyncSession,
    settings: Settings,
    passwords: Passwords,
    *,
    token: str,
    now: datetime,
    signed_in_user_id: int | None = None,
    full_name: str = "",
    password: str = "",
    password_confirmation: str = "",
) -> Acceptance:
    """Join the organisation through the emailed link.

    Signed in as the invited address: the membership is added. Not signed in and the address has no account: an
    account is created from `full_name` and `password`, already verified (opening the link proves the mailbox).
    """
    invitation = await _usable_invitation(session, settings, token, now, lock=True)
    organisation = await session.get(Organisation, invitation.organisation_id)
    assert organisation is not None  # a foreign key
    new_account = False
    if signed_in_user_id is not None:
        user = await session.get(User, signed_in_user_id, with_for_update=True)
        if user is None or not user.is_active:
            raise NotFound("We could not find your account")
        if user.email != invitation.email:
            raise _wrong_account(invitation, user.email)
        actor = actor_of(user)
        if user.email_verified_at is None:
            user.email_verified_at = now
            await record(session, actor=actor, action="user.email_verified", entity_type="user",
                         entity_id=user.id or 0, now=now, before={"email_verified_at": None},
                         after={"email_verified_at": now.isoformat(), "by": f"invitation {invitation.id}"})
    else:
        if await session.scalar(sa.select(col(User.id)).where(col(User.email) == invitation.email)) is not None:
            raise SignInToAccept("An account with this email address already exists. Sign in to accept the "
                                 "invitation.")
        errors = FormErrors()
        name = check_new_account(full_name, password, password_confirmation, errors,
                                 email=invitation.email)
        if errors:
            raise InputInvalid(errors)
        user = await create_user(session, passwords, email=invitation.email, full_name=name, password=password,
                                 actor=Actor(None, f"invitation {invitation.id}"), now=now, email_verified=True)
        actor = actor_of(user)
        new_account = True
    await add_membership(session, user=user, organisation=organisation, role=Role(invitation.role), actor=actor,
                         now=now)
    invitation.accepted_at = now
    invitation.accepted_user_id = user.id
    await record(session, actor=actor, action="invitation.accepted", entity_type="invitation",
                 entity_id=invitation.id or 0, now=now, before={"accepted_at": None},
                 after={"accepted_at": now.isoformat(), "accepted_user_id": user.id, "role": invitation.role})
    await session.commit()
    return Acceptance(user.id or 0, organisation.id or 0, new_account)
