"""Sign-in lockout and the password policy through the services: counted per address under concurrency, audited,
configurable; and the policy applied wherever a password is set (registration, invitations, the CLI command)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
import sqlalchemy as sa

from dps.audit.models import AuditEvent
from dps.audit.services import Actor
from dps.db import make_engine, make_sessionmaker
from dps.errors import ValidationFailed
from dps.forms import InputInvalid
from dps.identity.commands import create_user_with_role
from dps.identity.models import Invitation, Membership, Role, SignInLockout, User
from dps.identity.onboarding.invitations import accept_invitation, invitation_link
from dps.identity.onboarding.registration import register_supplier_user
from dps.identity.rules import PASSWORD_IS_COMMON, PASSWORD_IS_PERSONAL, LockoutPolicy
from dps.identity.services import create_user, sign_in
from dps.settings import Settings, SettingsError, normalise_database_url
from tests.factories import make_supplier, make_trust, make_user
from tests.helpers import PASSWORD, count_rows, scalar

POLICY = LockoutPolicy(failures_allowed=5, lock_for=timedelta(minutes=15))


async def actions(db) -> list[str]:
    rows = (await db.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id))).all()
    await db.commit()
    return [action for action in rows if action.startswith(("sign_in.", "user.signed_in"))]


async def test_concurrent_failures_are_each_counted_and_lock_exactly_once(db, passwords, clock, database_url):
    await make_user(db, passwords, clock, email="ann@acme.example")
    engine = make_engine(normalise_database_url(database_url))  # the app's kind of engine (BEGIN IMMEDIATE)
    sessions = make_sessionmaker(engine)

    async def attempt(password: str):
        async with sessions() as session:
            return await sign_in(session, passwords, email="ann@acme.example", password=password, now=clock.now(),
                                 policy=POLICY)

    try:
        results = await asyncio.gather(*(attempt("not-the-password") for _ in range(8)))
    finally:
        await engine.dispose()

    assert await scalar(db, sa.select(SignInLockout.failures)) == 5
    assert await actions(db) == ["sign_in.failed"] * 4 + ["sign_in.locked"]  # the 3 refused while locked: no change
    assert all(result.user is None for result in results)
    lock_ends = clock.now() + timedelta(minutes=15)
    assert [result.locked_until for result in results].count(lock_ends) == 4  # the one that locked, 3 after it
    assert [result.locked_until for result in results].count(None) == 4


async def test_a_locked_account_does_not_sign_in_with_the_right_password_until_the_lock_ends(db, passwords, clock):
    user = await make_user(db, passwords, clock, email="ann@acme.example")
    for _ in range(5):
        await sign_in(db, passwords, email="ann@acme.example", password="wrong-password!", now=clock.now(),
                      policy=POLICY)

    refused = await sign_in(db, passwords, email="ann@acme.example", password=PASSWORD, now=clock.now(),
                            policy=POLICY)
    assert refused.user is None and refused.locked_until == clock.now() + timedelta(minutes=15)
    assert await scalar(db, sa.select(User.last_login_at).where(User.id == user.id)) is None

    clock.advance(timedelta(minutes=15))
    allowed = await sign_in(db, passwords, email="ann@acme.example", password=PASSWORD, now=clock.now(),
                            policy=POLICY)
    assert allowed.user is not None and allowed.user.id == user.id
    assert await scalar(db, sa.select(SignInLockout.failures)) == 0
    signed_in = await scalar(db, sa.select(AuditEvent).where(AuditEvent.action == "user.signed_in"))
    assert signed_in.before == {"failed_sign_ins": 5}  # the audit trail shows what came before


async def test_an_inactive_account_with_the_right_password_counts_as_a_failure(db, passwords, clock):
    user = await make_user(db, passwords, clock, email="ann@acme.example")
    user.is_active = False
    await db.commit()
    result = await sign_in(db, passwords, email="ann@acme.example", password=PASSWORD, now=clock.now())
    assert result.user is None and result.locked_until is None
    assert await scalar(db, sa.select(SignInLockout.failures)) == 1


async def test_a_huge_typed_address_is_counted_without_failing(db, passwords, clock):
    result = await sign_in(db, passwords, email="x" * 5000 + "@example.org", password="wrong", now=clock.now())
    assert result.user is None
    assert await count_rows(db, SignInLockout) == 1


def test_the_lockout_is_configured_from_the_environment():
    settings = Settings.from_env({"SIGN_IN_LOCKOUT_FAILURES": "3", "SIGN_IN_LOCKOUT_MINUTES": "60"})
    assert (settings.sign_in_lockout_failures, settings.sign_in_lockout_minutes) == (3, 60)
    defaults = Settings.from_env({})
    assert (defaults.sign_in_lockout_failures, defaults.sign_in_lockout_minutes) == (5, 15)
    for name in ("SIGN_IN_LOCKOUT_FAILURES", "SIGN_IN_LOCKOUT_MINUTES"):
        with pytest.raises(SettingsError, match=name):
            Settings.from_env({name: "0"})


# The password policy wherever a password is set


async def test_create_user_refuses_a_common_password_and_the_persons_own_address(db, passwords, clock):
    with pytest.raises(ValidationFailed, match="harder to guess"):
        await create_user(db, passwords, email="ann@acme.example", full_name="Ann", password="Password2026!",
                          actor=Actor.system("test"), now=clock.now())
    with pytest.raises(ValidationFailed) as personal:
        await create_user(db, passwords, email="ann.smith@acme.example", full_name="Ann Smith",
                          password="AnnSmith-2026", actor=Actor.system("test"), now=clock.now())
    assert str(personal.value) == PASSWORD_IS_PERSONAL
    await db.rollback()
    assert await count_rows(db, User) == 0


async def test_registration_refuses_a_common_password_beside_the_field(db, passwords, clock, settings):
    with pytest.raises(InputInvalid) as refused:
        await register_supplier_user(db, passwords, settings, full_name="Dee Smith", email="dee@x.example",
                                     password="qwerty123456", password_confirmation="qwerty123456", now=clock.now())
    assert refused.value.errors.messages == {"password": PASSWORD_IS_COMMON}
    await db.rollback()
    assert await count_rows(db, User) == 0


async def test_accepting_an_invitation_as_a_newcomer_refuses_a_common_password(db, passwords, clock, settings):
    acme = await make_supplier(db, clock)
    ann = await make_user(db, passwords, clock, email="ann@acme.example", organisation=acme, role=Role.SUPPLIER_ADMIN)
    invitation = Invitation(organisation_id=acme.id, email="bob@acme.example", role=Role.SUPPLIER_USER,
                            invited_by_user_id=ann.id, created_at=clock.now(),
                            expires_at=clock.now() + timedelta(days=7))
    db.add(invitation)
    await db.commit()
    token = invitation_link(settings, invitation).split("token=", 1)[1]

    for password, message in (("letmein-letmein", PASSWORD_IS_COMMON), ("bob@acme.example", PASSWORD_IS_PERSONAL)):
        with pytest.raises(InputInvalid) as refused:
            await accept_invitation(db, settings, passwords, token=token, now=clock.now(), full_name="Bob Jones",
                                    password=password, password_confirmation=password)
        assert refused.value.errors.messages == {"password": message}
        await db.rollback()
    assert await count_rows(db, Membership) == 1  # Ann's only

    accepted = await accept_invitation(db, settings, passwords, token=token, now=clock.now(), full_name="Bob Jones",
                                       password="demo-password-2026", password_confirmation="demo-password-2026")
    assert accepted.new_account


async def test_the_create_user_command_refuses_a_common_password(db, clock, settings):
    await make_trust(db, clock, ods="RX1")
    await db.commit()
    engine = make_engine(settings.database_url)
    try:
        with pytest.raises(ValidationFailed, match="harder to guess"):
            await create_user_with_role(make_sessionmaker(engine), settings, email="kim@trust.example.nhs.uk",
                                        role="buyer", organisation_key="RX1", full_name="Kim",
                                        password="123456789012")
    finally:
        await engine.dispose()
    assert await count_rows(db, User) == 0
