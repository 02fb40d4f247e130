"""API consumers: anyone may register to get API keys of their own.

A consumer is a person with the api_consumer role in an organisation of kind api_consumer (their organisation's name
as they gave it; nobody checks it, and two people from one university are two consumer organisations), and an
`ApiConsumer` row saying what they use the API for. Registering reuses the supplier registration: the account is
created unverified and a confirmation link is emailed; the same page answers whether or not the address already had
an account. Someone already signed in (a supplier, say) becomes a consumer with just the organisation and purpose.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dps.api_keys.models import ApiConsumer, ApiKey
from dps.api_keys.rules import DEFAULT_RATE_LIMIT, consumer_details
from dps.api_keys.services import new_secret
from dps.audit.services import record
from dps.errors import NotFound
from dps.forms import InputInvalid
from dps.identity.models import Membership, Organisation, OrganisationKind, Role, User
from dps.identity.onboarding.registration import Registration, register_user
from dps.identity.passwords import Passwords
from dps.identity.services import actor_of, add_membership, create_organisation
from dps.settings import Settings

REGISTRATION_FIELDS = ("full_name", "email", "password", "password_confirmation", "organisation_name", "purpose")


async def _make_consumer(session: AsyncSession, user: User, organisation_name: str, purpose: str,
                         now: datetime) -> Organisation:
    actor = actor_of(user)
    organisation = await create_organisation(session, kind=OrganisationKind.API_CONSUMER, name=organisation_name,
                                             actor=actor, now=now)
    await add_membership(session, user=user, organisation=organisation, role=Role.API_CONSUMER, actor=actor, now=now)
    consumer = ApiConsumer(organisation_id=organisation.id or 0, purpose=purpose, created_at=now)
    session.add(consumer)
    await session.flush()
    await record(session, actor=actor, action="api_consumer.registered", entity_type="api_consumer",
                 entity_id=consumer.id or 0, now=now,
                 after={"organisation_id": organisation.id, "organisation_name": organisation.name,
                        "purpose": purpose, "user_id": user.id})
    return organisation


async def demo_api_consumer(session: AsyncSession, user: User, *, organisation_name: str, purpose: str,
                            now: datetime) -> None:
    """For the demo: the person as an API consumer holding one key (whose secret nobody is shown: rotate it to get
    one). Nothing happens if they are a consumer already. Does not commit (the demo is one transaction)."""
    if await _consumer_organisation_of(session, user.id or 0) is not None:
        return
    organisation = await _make_consumer(session, user, organisation_name, purpose, now)
    _secret, prefix, key_hash = new_secret()
    key = ApiKey(name="Dashboard (demo)", prefix=prefix, key_hash=key_hash,
                 rate_limit_per_minute=DEFAULT_RATE_LIMIT, created_at=now, created_by_user_id=user.id,
                 owner_organisation_id=organisation.id)
    session.add(key)
    await session.flush()
    await record(session, actor=actor_of(user), action="api_key.created", entity_type="api_key",
                 entity_id=key.id or 0, now=now, after={"name": key.name, "prefix": key.prefix,
                                                        "rate_limit_per_minute": key.rate_limit_per_minute,
                                                        "owner_organisation_id": organisation.id})


async def _consumer_organisation_of(session: AsyncSession, user_id: int) -> Organisation | None:
    return await session.scalar(
        sa.select(Organisation).join(Membership, col(Membership.organisation_id) == col(Organisation.id))
        .where(col(Membership.user_id) == user_id, col(Organisation.kind) == OrganisationKind.API_CONSUMER))


async def register_api_consumer(session: AsyncSession, passwords: Passwords, settings: Settings, *,
                                full_name: str, email: str, password: str, password_confirmation: str,
                                organisation_name: str, purpose: str, now: datetime) -> Registration:
    """A new account that is an API consumer once its email address is confirmed. Commits."""
    name, text, errors = consumer_details(organisation_name, purpose)

    async def then(session: AsyncSession, user: User) -> None:
        await _make_consumer(session, user, name, text, now)

    return await register_user(session, passwords, settings, full_name=full_name, email=email, password=password,
                               password_confirmation=password_confirmation, now=now, errors=errors,
                               field_order=REGISTRATION_FIELDS, then=then)


async def become_api_consumer(session: AsyncSession, user_id: int, *, organisation_name: str, purpose: str,
                              now: datetime) -> Organisation:
    """A signed-in person becomes an API consumer as well (nothing changes if they are one already). Commits."""
    name, text, errors = consumer_details(organisation_name, purpose)
    if errors:
        raise InputInvalid(errors)
    user = await session.get(User, user_id, with_for_update=True)
    if user is None:
        raise NotFound("There is no such account")
    existing = await _consumer_organisation_of(session, user_id)
    if existing is not None:
        await session.commit()  # nothing changed: end the transaction (a rollback would expire `existing`)
        return existing
    organisation = await _make_consumer(session, user, name, text, now)
    await session.commit()
    return organisation
