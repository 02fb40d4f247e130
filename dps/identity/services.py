"""Users, organisations and memberships: each change is one transaction with its audit event."""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dps.audit.services import Actor, record
from dps.db import table_of
from dps.errors import Conflict, ValidationFailed
from dps.identity.models import ROLES_BY_KIND, Membership, Organisation, OrganisationKind, Role, SignInLockout, User
from dps.identity.passwords import Passwords
from dps.identity.rules import (
    BuyerType,
    LockoutPolicy,
    SignInAttempts,
    after_failure,
    after_success,
    check_new_password,
    locks_now,
    normalise_companies_house_number,
    normalise_ods_code,
    sign_in_key,
)
from dps.reference import ICB_REGIONS, icb_of_trust

_security_log = logging.getLogger("dps.security")
_SIGN_IN_FORM = Actor(user_id=None, label="sign-in form")
_EMAIL_MAX_LENGTH = 320


@dataclass(frozen=True)
class MembershipView:
    organisation_id: int
    organisation_name: str
    organisation_kind: OrganisationKind
    role: Role


@dataclass(frozen=True)
class SignedInUser:
    """What the web layer knows about the person making a request."""

    id: int
    email: str
    full_name: str
    memberships: tuple[MembershipView, ...]
    email_verified: bool = False
    session_epoch: int = 0  # a session signed in under another epoch (before a password reset) is not signed in

    @property
    def roles(self) -> frozenset[Role]:
        return frozenset(m.role for m in self.memberships)

    def has_any_role(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))

    def has_role_in(self, kind: OrganisationKind, *roles: Role) -> bool:
        return any(m.organisation_kind == kind and m.role in roles for m in self.memberships)

    def organisation_ids_of_kind(self, kind: OrganisationKind) -> frozenset[int]:
        return frozenset(m.organisation_id for m in self.memberships if m.organisation_kind == kind)

    def organisation_ids(self, *roles: Role) -> frozenset[int]:
        return frozenset(m.organisation_id for m in self.memberships if not roles or m.role in roles)


def actor_of(user: SignedInUser | User) -> Actor:
    """Who the audit log names for a change a person made."""
    return Actor(user.id, user.email)


def normalise_email(raw: str) -> str:
    email = raw.strip().lower()
    local, _, domain = email.partition("@")
    if not local or "." not in domain or " " in email or len(email) > 320:
        raise ValidationFailed("Enter an email address in the correct format, like name@example.nhs.uk", field="email")
    return email


async def create_user(
    session: AsyncSession,
    passwords: Passwords,
    *,
    email: str,
    full_name: str,
    password: str,
    actor: Actor,
    now: datetime,
    email_verified: bool = False,
) -> User:
    email = normalise_email(email)
    if not full_name.strip():
        raise ValidationFailed("Enter your full name", field="full_name")
    check_new_password(password, email=email, full_name=full_name)
    if await session.scalar(sa.select(col(User.id)).where(col(User.email) == email)) is not None:
        raise Conflict("An account with this email address already exists", )
    user = User(
        email=email,
        full_name=full_name.strip(),
        password_hash=passwords.hash(password),
        created_at=now,
        email_verified_at=now if email_verified else None,
    )
    session.add(user)
    await session.flush()
    await record(
        session, actor=actor, action="user.created", entity_type="user", entity_id=user.id or 0, now=now,
        after={"email": user.email, "full_name": user.full_name},
    )
    return user


@dataclass(frozen=True)
class SignInResult:
    """The user when signed in; otherwise None and, when the address is locked, until when.

    `locked_until` is set for every refused attempt while locked (the one that locked it included), whether or not
    the address has an account: the page says the same either way.
    """

    user: User | None
    locked_until: datetime | None = None


async def _attempts_row(session: AsyncSession, key: str) -> SignInLockout:
    """The address's row, created if missing, locked for this transaction so concurrent attempts count one by one."""
    table = table_of(SignInLockout)
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    await session.execute(insert(table).values(email=key, failures=0).on_conflict_do_nothing(
        index_elements=[table.c.email]))
    row = await session.scalar(
        sa.select(SignInLockout).where(col(SignInLockout.email) == key).with_for_update()
        .execution_options(populate_existing=True)
    )
    assert row is not None  # inserted above, or already there
    return row


async def sign_in(
    session: AsyncSession, passwords: Passwords, *, email: str, password: str, now: datetime,
    policy: LockoutPolicy | None = None,
) -> SignInResult:
    """Sign in with an email address and password, counting failures per address (dps.identity.rules lockout).

    Never says which part failed, nor whether the address has an account: an unknown address is counted and locked
    like a known one, and the password is checked (against a dummy hash if need be) in every case, locked or not,
    so the time taken tells nothing either. A correct password while locked does not sign in.
    Each success, failure and lock is recorded (the count and an audit event) and committed.
    """
    policy = policy or LockoutPolicy()
    key = sign_in_key(email)[:_EMAIL_MAX_LENGTH]
    row = await _attempts_row(session, key)
    attempts = SignInAttempts(failures=row.failures, locked_until=row.locked_until)
    user = await session.scalar(sa.select(User).where(col(User.email) == key))
    password_matches = passwords.verify(user.password_hash if user else None, password)

    if attempts.locked_at(now):
        await session.commit()
        _security_log.warning("sign-in refused: %r is locked until %s (correct password: %s)", key,
                              attempts.locked_until, password_matches and user is not None)
        return SignInResult(None, attempts.locked_until)

    if user is not None and password_matches and user.is_active:
        cleared = after_success(attempts)
        row.failures, row.locked_until = cleared.failures, cleared.locked_until
        user.last_login_at = now
        await record(
            session, actor=actor_of(user), action="user.signed_in", entity_type="user",
            entity_id=user.id or 0, now=now,
            before={"failed_sign_ins": attempts.failures} if attempts.failures else None,
        )
        await session.commit()
        return SignInResult(user)

    counted = after_failure(attempts, now, policy)
    locked = locks_now(attempts, counted, now)
    row.failures, row.locked_until, row.last_failure_at = counted.failures, counted.locked_until, now
    await record(
        session, actor=_SIGN_IN_FORM, action="sign_in.locked" if locked else "sign_in.failed",
        entity_type="sign_in_lockout", entity_id=row.id or 0, now=now,
        before={"failures": attempts.failures},
        after={"email": key, "user_id": user.id if user else None, "failures": counted.failures,
               "locked_until": counted.locked_until.isoformat() if counted.locked_until else None},
    )
    await session.commit()
    if locked:
        _security_log.warning("sign-in locked for %r until %s after %d failures", key, counted.locked_until,
                              counted.failures)
    return SignInResult(None, counted.locked_until if locked else None)


async def create_organisation(
    session: AsyncSession,
    *,
    kind: OrganisationKind,
    name: str,
    actor: Actor,
    now: datetime,
    companies_house_number: str | None = None,
    ods_code: str | None = None,
    buyer_type: BuyerType | None = None,
    region_ods_code: str | None = None,
    trading_name: str | None = None,
) -> Organisation:
    if not name.strip():
        raise ValidationFailed("Enter the organisation's name", field="name")
    organisation = Organisation(kind=kind, name=name.strip(), trading_name=trading_name, created_at=now)
    if kind is OrganisationKind.SUPPLIER:
        organisation.companies_house_number = normalise_companies_house_number(companies_house_number or "")
        taken = sa.select(col(Organisation.id)).where(
            col(Organisation.companies_house_number) == organisation.companies_house_number
        )
        if await session.scalar(taken) is not None:
            raise Conflict("An organisation with this Companies House number is already registered")
    elif kind is OrganisationKind.BUYER:
        if buyer_type is None:
            raise ValidationFailed("Select the type of NHS organisation", field="buyer_type")
        organisation.buyer_type = buyer_type
        organisation.ods_code = normalise_ods_code(ods_code or "", buyer_type)
        if buyer_type == BuyerType.TRUST:
            # Every trust belongs to one ICB (RULES.md 5), known from the reference data; its region follows.
            organisation.parent_icb_ods_code = icb_of_trust(organisation.ods_code)
            region_ods_code = region_ods_code or ICB_REGIONS.get(organisation.parent_icb_ods_code or "")
        organisation.region_ods_code = region_ods_code
        if await session.scalar(sa.select(col(Organisation.id))
                                .where(col(Organisation.ods_code) == organisation.ods_code)):
            raise Conflict("An organisation with this ODS code is already registered")
    session.add(organisation)
    await session.flush()
    await record(
        session, actor=actor, action="organisation.created", entity_type="organisation",
        entity_id=organisation.id or 0, now=now, after=organisation.model_dump(mode="json", exclude={"id"}),
    )
    return organisation


async def add_membership(
    session: AsyncSession, *, user: User, organisation: Organisation, role: Role, actor: Actor, now: datetime
) -> Membership:
    kind = OrganisationKind(organisation.kind)
    if role not in ROLES_BY_KIND[kind]:
        allowed = ", ".join(sorted(ROLES_BY_KIND[kind]))
        raise ValidationFailed(f"A {kind} organisation's roles are: {allowed}", field="role")
    existing = await session.scalar(
        sa.select(Membership).where(
            col(Membership.user_id) == user.id, col(Membership.organisation_id) == organisation.id,
            col(Membership.role) == role
        )
    )
    if existing is not None:
        return existing
    membership = Membership(user_id=user.id or 0, organisation_id=organisation.id or 0, role=role, created_at=now)
    session.add(membership)
    await session.flush()
    await record(
        session, actor=actor, action="membership.added", entity_type="membership", entity_id=membership.id or 0,
        now=now, after={"user_id": user.id, "organisation_id": organisation.id, "role": role},
    )
    return membership


async def active_member_emails(session: AsyncSession, organisation_id: int,
                               roles: Sequence[Role] | None = None) -> list[str]:
    """The email addresses of the organisation's active members (only those holding one of `roles`, when given),
    in order."""
    parameters: dict[str, Any] = {"organisation_id": organisation_id}
    if roles is not None:
        parameters["roles"] = list(roles)
    return list((await session.scalars(_member_emails_query(roles is not None), parameters)).all())


@functools.cache
def _member_emails_query(of_roles: bool) -> sa.Executable:
    """Built once (for all roles, and for some): every email to an organisation asks."""
    query = (sa.select(col(User.email)).join(Membership, col(Membership.user_id) == User.id)
             .where(col(Membership.organisation_id) == sa.bindparam("organisation_id"), col(User.is_active).is_(True)))
    if of_roles:
        query = query.where(col(Membership.role).in_(sa.bindparam("roles", expanding=True)))
    return query.distinct().order_by(col(User.email))


@functools.cache
def _signed_in_user_query() -> sa.Executable:
    """Built once: every signed-in request runs it, and building it cost about as much as running it."""
    return (sa.select(col(User.email), col(User.full_name), col(User.email_verified_at), col(User.session_epoch),
                      col(Membership.organisation_id), col(Organisation.name), col(Organisation.kind),
                      col(Membership.role))
            .select_from(User)
            .outerjoin(Membership, col(Membership.user_id) == User.id)
            .outerjoin(Organisation, col(Organisation.id) == Membership.organisation_id)
            .where(col(User.id) == sa.bindparam("user_id"), col(User.is_active).is_(True))
            .order_by(col(Organisation.name), col(Membership.role)))


async def load_signed_in_user(session: AsyncSession, user_id: int) -> SignedInUser | None:
    """The active user with their memberships, in one query (every signed-in request asks)."""
    rows = (await session.execute(_signed_in_user_query(), {"user_id": user_id})).all()
    if not rows:
        return None
    email, full_name, email_verified_at, session_epoch = rows[0][:4]
    memberships = tuple(MembershipView(org_id, org_name, OrganisationKind(kind), Role(role))
                        for *_, org_id, org_name, kind, role in rows if org_id is not None)
    return SignedInUser(user_id, email, full_name, memberships, email_verified=email_verified_at is not None,
                        session_epoch=session_epoch)
