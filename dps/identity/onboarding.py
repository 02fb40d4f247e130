"""Supplier onboarding: register, verify the email address, create the organisation, invite colleagues.

Each command is one transaction: the change, its audit event(s) and any email (an outbox row) commit together,
and the command ends with `session.commit()`. Links in emails are signed tokens (dps.identity.tokens).

Rate limits on verification emails are counted from the outbox itself (one row per email sent), so no extra
column is needed: at most one verification email per user every VERIFICATION_EMAIL_GAP, and
VERIFICATION_EMAILS_PER_DAY in any 24 hours.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from dps.audit.services import Actor, record
from dps.dates import london_day_at_time
from dps.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from dps.forms import FormErrors, InputInvalid
from dps.identity import tokens
from dps.identity.emails import render_email
from dps.identity.models import Invitation, Membership, Organisation, OrganisationKind, Role, User
from dps.identity.passwords import Passwords
from dps.identity.profile import SupplierProfile, one_line, parse_supplier_profile
from dps.identity.rules import SmeAssessment, assess_sme, password_problem
from dps.identity.services import actor_of, add_membership, create_organisation, create_user, normalise_email
from dps.mail import queue_email
from dps.outbox.models import OutboxMessage
from dps.settings import Settings

VERIFICATION_LIFETIME = timedelta(hours=48)
INVITATION_LIFETIME = timedelta(days=7)
VERIFICATION_EMAIL_GAP = timedelta(minutes=2)
VERIFICATION_EMAILS_PER_DAY = 5
ACCOUNT_EXISTS_EMAIL_GAP = timedelta(hours=1)
FULL_NAME_MAX_LENGTH = 200

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

_VERIFY_KEY = "verify-email"
_ACCOUNT_EXISTS_KEY = "account-exists"
# Things an address may not hold even though normalise_email lets them through: they would break an email header.
_UNSAFE_EMAIL_CHARACTERS = re.compile(r"[\s\x00-\x1f\x7f<>,;:\"()\[\]\\]")
_SELF_REGISTRATION = Actor(user_id=None, label="self-registration")


class LinkUnusable(DomainError):
    """A link from one of our emails cannot be used; `reason` says why, `title` and the message say it to people.

    reason: invalid (malformed, tampered with, or for another purpose), expired, withdrawn (an invitation
    revoked by the organisation), accepted (an invitation used already), wrong_account (an invitation opened
    while signed in as someone else).
    """

    STATUS_CODES = {"invalid": 400, "expired": 410, "withdrawn": 410, "accepted": 409, "wrong_account": 403}

    def __init__(self, reason: str, title: str, message: str, *, token: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.title = title
        self.status_code = self.STATUS_CODES[reason]
        self.token = token  # set for an expired verification link: it may still ask for a new one


# ---------------------------------------------------------------------------------------------------------------
# Registration and email verification


def _clean_email(raw: str, field: str = "email") -> str:
    try:
        email = normalise_email(raw)
    except ValidationFailed as problem:
        raise ValidationFailed(str(problem), field=field) from None
    if _UNSAFE_EMAIL_CHARACTERS.search(email):
        raise ValidationFailed(
            "Enter an email address in the correct format, like name@example.nhs.uk", field=field
        )
    return email


def _check_new_account(full_name: str, password: str, password_confirmation: str, errors: FormErrors, *,
                       email: str) -> str:
    """Adds a message per wrong field to `errors`; returns the cleaned full name. The password policy is
    dps.identity.rules.password_problem (length, deny list, not the person's own name or email address)."""
    name = one_line(full_name)
    if not name:
        errors.add("full_name", "Enter your full name")
    elif len(name) > FULL_NAME_MAX_LENGTH:
        errors.add("full_name", f"Your full name must be {FULL_NAME_MAX_LENGTH} characters or fewer")
    problem = password_problem(password, email=email, full_name=name)
    if problem is not None:
        errors.add("password", problem)
    if "password" not in errors and password_confirmation != password:
        errors.add("password_confirmation", "The passwords do not match")
    return name


_REGISTRATION_FIELDS = ("full_name", "email", "password", "password_confirmation")


@dataclass(frozen=True)
class Registration:
    """What the page may say after registering: the same whether or not the address already had an account."""

    email: str


async def _emails_sent(session: AsyncSession, key: str, user_id: int, since: datetime) -> list[datetime]:
    rows = await session.scalars(
        sa.select(OutboxMessage.created_at)
        .where(OutboxMessage.dedupe_key.like(f"email:{key}:{user_id}:%"), OutboxMessage.created_at > since)
        .order_by(OutboxMessage.created_at.desc())
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
    """Create an unverified account and email it a verification link.

    If the address already has an account, nothing is created and nothing tells the caller so: its owner gets an
    email instead (a new verification link if it is still unverified), and the same amount of password hashing
    is done so the response time does not tell either.
    """
    errors = FormErrors()
    name = _check_new_account(full_name, password, password_confirmation, errors, email=email)
    try:
        clean_email = _clean_email(email)
    except ValidationFailed as problem:
        errors.add_error(problem, "email")
    if errors:
        raise InputInvalid(errors.ordered(_REGISTRATION_FIELDS))

    existing = await session.scalar(sa.select(User).where(User.email == clean_email).with_for_update())
    if existing is None:
        user = await create_user(session, passwords, email=clean_email, full_name=name, password=password,
                                 actor=_SELF_REGISTRATION, now=now)
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


def _invalid_link() -> LinkUnusable:
    return LinkUnusable(
        "invalid", "This link is not valid",
        "The link may be incomplete or changed. Copy the whole link from the email, or ask for a new email.",
    )


async def verify_email(session: AsyncSession, settings: Settings, *, token: str, now: datetime) -> Verification:
    """Mark the account verified by the link we emailed to it. A used link says so; a stale one can ask anew."""
    expired = False
    try:
        claims = tokens.read(settings.secret_key, token, purpose=tokens.EMAIL_VERIFICATION, now=now)
    except tokens.TokenExpired as problem:
        claims, expired = problem.claims, True
    except tokens.TokenInvalid:
        raise _invalid_link() from None
    user = await session.get(User, claims.subject_id, with_for_update=True)
    if user is None or user.email != claims.email or not user.is_active:
        raise _invalid_link()
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
        query = query.where(User.id == user_id)
    elif token is not None:
        try:
            claims = tokens.read(settings.secret_key, token, purpose=tokens.EMAIL_VERIFICATION, now=now)
        except tokens.TokenExpired as problem:
            claims = problem.claims
        except tokens.TokenInvalid:
            raise _invalid_link() from None
        query = query.where(User.id == claims.subject_id, User.email == claims.email)
    elif email:
        query = query.where(User.email == email)
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
    return await session.scalar(sa.select(User.email_verified_at).where(User.id == user_id)) is not None


# ---------------------------------------------------------------------------------------------------------------
# The supplier organisation


def profile_snapshot(organisation: Organisation) -> dict[str, Any]:
    """The supplier profile fields (and the SME outcome they give), for audit events and pages."""
    snapshot: dict[str, Any] = {
        "legal_name": organisation.name,
        "trading_name": organisation.trading_name,
        "companies_house_number": organisation.companies_house_number,
        "registered_address": organisation.registered_address,
        "headcount": organisation.headcount,
        "turnover_pence": organisation.turnover_pence,
        "balance_sheet_pence": organisation.balance_sheet_pence,
    }
    sme = sme_of(organisation)
    snapshot["sme"] = None if sme is None else sme.is_sme
    return snapshot


def sme_of(organisation: Organisation) -> SmeAssessment | None:
    """The SME test on the organisation's stored figures; None until all three are known."""
    figures = (organisation.headcount, organisation.turnover_pence, organisation.balance_sheet_pence)
    if any(value is None for value in figures):
        return None
    return assess_sme(*figures)  # type: ignore[arg-type]


def _apply_profile(organisation: Organisation, profile: SupplierProfile) -> None:
    organisation.name = profile.legal_name
    organisation.trading_name = profile.trading_name
    organisation.companies_house_number = profile.companies_house_number
    organisation.registered_address = profile.registered_address
    organisation.headcount = profile.headcount
    organisation.turnover_pence = profile.turnover_pence
    organisation.balance_sheet_pence = profile.balance_sheet_pence


def _number_taken() -> ValidationFailed:
    return ValidationFailed(
        "An organisation with this Companies House number is already registered. If it is yours, ask its "
        "administrator to invite you.",
        field="companies_house_number",
    )


async def check_companies_house_number_free(
    session: AsyncSession, number: str, *, except_organisation_id: int | None = None
) -> None:
    query = sa.select(Organisation.id).where(Organisation.companies_house_number == number)
    if except_organisation_id is not None:
        query = query.where(Organisation.id != except_organisation_id)
    if await session.scalar(query) is not None:
        raise _number_taken()


async def supplier_organisation_ids(session: AsyncSession, user_id: int) -> list[int]:
    rows = await session.scalars(
        sa.select(Membership.organisation_id)
        .join(Organisation, Organisation.id == Membership.organisation_id)
        .where(Membership.user_id == user_id, Organisation.kind == OrganisationKind.SUPPLIER)
        .order_by(Membership.organisation_id)
        .distinct()
    )
    return list(rows.all())


async def _may_create_organisation(session: AsyncSession, user_id: int, *, lock: bool = False) -> User:
    user = await session.get(User, user_id, with_for_update=lock)
    if user is None or not user.is_active:
        raise NotFound("We could not find your account")
    if user.email_verified_at is None:
        raise Forbidden("Confirm your email address before you set up an organisation")
    if await supplier_organisation_ids(session, user_id):
        raise Conflict("You already belong to a supplier organisation")
    return user


async def check_new_organisation(session: AsyncSession, *, user_id: int, form: Mapping[str, str]) -> SupplierProfile:
    """The profile typed for a new organisation, checked (format and a Companies House number not yet
    registered) before the check-your-answers page; nothing is written. Raises InputInvalid / ValidationFailed."""
    await _may_create_organisation(session, user_id)
    profile = parse_supplier_profile(form)
    await check_companies_house_number_free(session, profile.companies_house_number)
    await session.commit()  # end the read transaction
    return profile


async def create_supplier_organisation(
    session: AsyncSession, *, user_id: int, profile: SupplierProfile, now: datetime
) -> Organisation:
    """The verified user's supplier organisation, with them as its administrator."""
    user = await _may_create_organisation(session, user_id, lock=True)
    await check_companies_house_number_free(session, profile.companies_house_number)
    actor = actor_of(user)
    organisation = await create_organisation(
        session, kind=OrganisationKind.SUPPLIER, name=profile.legal_name, trading_name=profile.trading_name,
        companies_house_number=profile.companies_house_number, actor=actor, now=now,
    )
    before = profile_snapshot(organisation)
    _apply_profile(organisation, profile)
    await session.flush()
    await record(session, actor=actor, action="organisation.profile_updated", entity_type="organisation",
                 entity_id=organisation.id or 0, now=now, before=before, after=profile_snapshot(organisation))
    await add_membership(session, user=user, organisation=organisation, role=Role.SUPPLIER_ADMIN, actor=actor, now=now)
    try:
        await session.commit()
    except IntegrityError:  # the same number registered at the same moment by another request
        await session.rollback()
        raise _number_taken() from None
    return organisation


@dataclass(frozen=True)
class SupplierAccess:
    organisation: Organisation
    user: User
    roles: frozenset[Role]

    @property
    def is_admin(self) -> bool:
        return Role.SUPPLIER_ADMIN in self.roles


_NOT_FOUND = "We could not find that page. Check the address, or go back to the supplier portal."


async def supplier_access(session: AsyncSession, *, organisation_id: int, user_id: int,
                          admin: bool = False) -> SupplierAccess:
    """The user's standing in a supplier organisation: NotFound unless they belong to it (so nobody learns that
    someone else's organisation exists), Forbidden if `admin` is asked for and they are not its administrator."""
    organisation = await session.get(Organisation, organisation_id)
    user = await session.get(User, user_id)
    roles = frozenset(
        Role(role) for role in await session.scalars(
            sa.select(Membership.role).where(Membership.user_id == user_id,
                                             Membership.organisation_id == organisation_id)
        )
    )
    if organisation is None or user is None or organisation.kind != OrganisationKind.SUPPLIER or not roles:
        raise NotFound(_NOT_FOUND)
    access = SupplierAccess(organisation, user, roles)
    if admin and not access.is_admin:
        raise Forbidden("Only your organisation's administrators can do this")
    return access


async def update_supplier_profile(
    session: AsyncSession, *, organisation_id: int, user_id: int, form: Mapping[str, str], now: datetime
) -> Organisation:
    """Change the organisation's profile (administrators only), recording before and after."""
    access = await supplier_access(session, organisation_id=organisation_id, user_id=user_id, admin=True)
    profile = parse_supplier_profile(form)
    organisation = access.organisation
    await check_companies_house_number_free(session, profile.companies_house_number,
                                            except_organisation_id=organisation.id)
    before = profile_snapshot(organisation)
    _apply_profile(organisation, profile)
    after = profile_snapshot(organisation)
    if after != before:
        await record(session, actor=actor_of(access.user), action="organisation.profile_updated",
                     entity_type="organisation", entity_id=organisation.id or 0, now=now, before=before, after=after)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise _number_taken() from None
    return organisation


# ---------------------------------------------------------------------------------------------------------------
# Colleagues and invitations


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
    return sa.and_(Invitation.accepted_at.is_(None), Invitation.expires_at > now)


async def load_team(session: AsyncSession, *, organisation_id: int, user_id: int, now: datetime) -> Team:
    access = await supplier_access(session, organisation_id=organisation_id, user_id=user_id)
    members = [
        Member(member_id, full_name, email, role)
        for member_id, full_name, email, role in await session.execute(
            sa.select(User.id, User.full_name, User.email, Membership.role)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.organisation_id == organisation_id)
            .order_by(User.full_name, User.id, Membership.role)
        )
    ]
    inviter = aliased(User)
    pending = [
        PendingInvitation(invitation.id or 0, invitation.email, invitation.role, inviter_name,
                          invitation.created_at, invitation.expires_at)
        for invitation, inviter_name in await session.execute(
            sa.select(Invitation, inviter.full_name)
            .join(inviter, inviter.id == Invitation.invited_by_user_id)
            .where(Invitation.organisation_id == organisation_id, _pending(now))
            .order_by(Invitation.created_at, Invitation.id)
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
        clean_email = _clean_email(email)
    except ValidationFailed as problem:
        errors.add_error(problem, "email")
    if role not in INVITABLE_ROLES:
        errors.add("role", "Select the role your colleague will have")
    if errors:
        raise InputInvalid(errors)
    organisation = access.organisation
    already_member = await session.scalar(
        sa.select(Membership.id).join(User, User.id == Membership.user_id)
        .where(Membership.organisation_id == organisation.id, User.email == clean_email)
    )
    if already_member is not None:
        raise ValidationFailed(f"{clean_email} is already a member of {organisation.name}", field="email")
    waiting = await session.scalar(
        sa.select(Invitation.id).where(Invitation.organisation_id == organisation.id,
                                       Invitation.email == clean_email, _pending(now))
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
        sa.select(Invitation).where(Invitation.id == invitation_id, Invitation.organisation_id == organisation_id)
        .with_for_update()
    )
    if invitation is None:
        raise NotFound(_NOT_FOUND)
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
        raise _invalid_link() from None
    invitation = await session.get(Invitation, claims.subject_id, with_for_update=lock)
    if invitation is None or invitation.email != claims.email:
        raise _invalid_link()
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
    account = await session.scalar(sa.select(User.id).where(User.email == invitation.email))
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
        if await session.scalar(sa.select(User.id).where(User.email == invitation.email)) is not None:
            raise SignInToAccept("An account with this email address already exists. Sign in to accept the "
                                 "invitation.")
        errors = FormErrors()
        name = _check_new_account(full_name, password, password_confirmation, errors,
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


def sign_in_path_for(next_path: str) -> str:
    return f"/login?next={quote(next_path, safe='')}"
