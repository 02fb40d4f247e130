"""API keys: made by API consumers for themselves (create, rotate, revoke), or issued by the authority (or
`dps api-key create`), each with its own rate limit, which the authority may change.

A key is 256 random bits shown once; only its SHA-256 is stored, which is enough for keys that cannot be guessed.
A consumer only ever reaches the keys of their own API consumer organisation: any other key is "not found".
After a revocation, rotation or new limit commits, the caller tells every app process (dps.web.api.keys_changed).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dps.api_keys.models import ApiConsumer, ApiKey
from dps.api_keys.rules import (
    DEFAULT_RATE_LIMIT,
    MAX_RATE_LIMIT,
    key_name_problem,
    may_create_key,
    rate_limit_problem,
)
from dps.audit.services import Actor, record
from dps.errors import Conflict, NotFound, ValidationFailed
from dps.identity.models import Organisation, OrganisationKind, User
from dps.identity.services import SignedInUser, actor_of

API_KEY_PREFIX = "dpsk_"


def hash_api_key(secret: str) -> str:
    """Keys are 256 random bits, so a plain SHA-256 is enough to store them safely and find them fast."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> tuple[str, str, str]:
    """A new secret, its prefix (shown to tell keys apart) and its hash."""
    secret = API_KEY_PREFIX + secrets.token_urlsafe(32)
    return secret, secret[: len(API_KEY_PREFIX) + 6], hash_api_key(secret)


async def create_api_key(session: AsyncSession, *, name: str, actor: Actor, now: datetime,
                         rate_limit_per_minute: int = DEFAULT_RATE_LIMIT,
                         owner_organisation_id: int | None = None) -> tuple[ApiKey, str]:
    """Create a key; returns it with the secret, which is shown once and never stored. Commits."""
    cleaned, problem = key_name_problem(name)
    if problem:
        raise ValidationFailed(problem, field="name")
    if not 1 <= rate_limit_per_minute <= MAX_RATE_LIMIT:
        raise ValidationFailed(f"The rate limit must be from 1 to {MAX_RATE_LIMIT:,} requests a minute",
                               field="rate_limit")
    secret, prefix, key_hash = new_secret()
    key = ApiKey(name=cleaned, prefix=prefix, key_hash=key_hash, rate_limit_per_minute=rate_limit_per_minute,
                 created_at=now, created_by_user_id=actor.user_id, owner_organisation_id=owner_organisation_id)
    session.add(key)
    await session.flush()
    await record(session, actor=actor, action="api_key.created", entity_type="api_key", entity_id=key.id or 0,
                 now=now, after={"name": key.name, "prefix": key.prefix,
                                 "rate_limit_per_minute": rate_limit_per_minute,
                                 "owner_organisation_id": owner_organisation_id})
    await session.commit()
    return key, secret


async def _revoke(session: AsyncSession, key: ApiKey, actor: Actor, now: datetime) -> ApiKey:
    if key.revoked_at is not None:
        raise Conflict("This key has already been revoked")
    key.revoked_at, key.revoked_by_user_id = now, actor.user_id
    await record(session, actor=actor, action="api_key.revoked", entity_type="api_key", entity_id=key.id or 0,
                 now=now, before={"revoked": False}, after={"revoked": True, "prefix": key.prefix})
    await session.commit()
    return key


async def _key_for_update(session: AsyncSession, key_id: int) -> ApiKey:
    key = await session.scalar(sa.select(ApiKey).where(col(ApiKey.id) == key_id).with_for_update())
    if key is None:
        raise NotFound("There is no such API key")
    return key


async def revoke_api_key(session: AsyncSession, key_id: int, *, actor: Actor, now: datetime) -> ApiKey:
    """The authority revokes any key. Commits."""
    return await _revoke(session, await _key_for_update(session, key_id), actor, now)


async def change_rate_limit(session: AsyncSession, key_id: int, raw_limit: str, *, actor: Actor,
                            now: datetime) -> ApiKey:
    """The authority gives a key another rate limit, typed into a form. Commits."""
    limit, problem = rate_limit_problem(raw_limit)
    if problem or limit is None:
        raise ValidationFailed(problem or "Enter the rate limit", field="rate_limit")
    key = await _key_for_update(session, key_id)
    if key.revoked_at is not None:
        raise Conflict("This key has been revoked: its rate limit can no longer be changed")
    before = key.rate_limit_per_minute
    if before == limit:
        await session.commit()  # nothing to change or record
        return key
    key.rate_limit_per_minute = limit
    await record(session, actor=actor, action="api_key.rate_limit_changed", entity_type="api_key",
                 entity_id=key.id or 0, now=now, before={"rate_limit_per_minute": before},
                 after={"rate_limit_per_minute": limit})
    await session.commit()
    return key


# --- a consumer's own keys ---------------------------------------------------------------------------------------


def _consumer_organisation(user: SignedInUser) -> int:
    """The API consumer organisation whose keys this person manages."""
    ids = sorted(user.organisation_ids_of_kind(OrganisationKind.API_CONSUMER))
    if not ids:
        raise NotFound("There is no such API key")
    return ids[0]


async def _own_key(session: AsyncSession, user: SignedInUser, key_id: int) -> ApiKey:
    """The key, locked, if it belongs to one of the person's API consumer organisations; otherwise not found."""
    organisations = user.organisation_ids_of_kind(OrganisationKind.API_CONSUMER)
    key = await session.scalar(sa.select(ApiKey).where(
        col(ApiKey.id) == key_id, col(ApiKey.owner_organisation_id).in_(organisations)).with_for_update())
    if key is None:
        raise NotFound("There is no such API key")
    return key


async def consumer_keys(session: AsyncSession, user: SignedInUser) -> list[ApiKey]:
    """The person's organisation's keys: those in use first, newest first."""
    organisations = user.organisation_ids_of_kind(OrganisationKind.API_CONSUMER)
    rows = await session.scalars(sa.select(ApiKey).where(col(ApiKey.owner_organisation_id).in_(organisations))
                                 .order_by(col(ApiKey.revoked_at).is_not(None), col(ApiKey.created_at).desc(),
                                           col(ApiKey.id).desc()))
    return list(rows.all())


async def create_consumer_key(session: AsyncSession, user: SignedInUser, *, name: str,
                              now: datetime) -> tuple[ApiKey, str]:
    """A consumer makes a key for themselves, at the default rate limit. Commits."""
    organisation_id = _consumer_organisation(user)
    # Lock the organisation's row so two keys made at once are both counted against the limit.
    await session.execute(sa.select(col(Organisation.id)).where(col(Organisation.id) == organisation_id)
                          .with_for_update())
    active = await session.scalar(sa.select(sa.func.count()).select_from(ApiKey).where(
        col(ApiKey.owner_organisation_id) == organisation_id, col(ApiKey.revoked_at).is_(None)))
    refusal = may_create_key(int(active or 0))
    if refusal:
        raise ValidationFailed(refusal, field="name")
    return await create_api_key(session, name=name, actor=actor_of(user), now=now,
                                owner_organisation_id=organisation_id)


async def rotate_consumer_key(session: AsyncSession, user: SignedInUser, key_id: int,
                              now: datetime) -> tuple[ApiKey, str]:
    """A new secret for the key; the old one stops working at once. Returns the key and its new secret. Commits."""
    key = await _own_key(session, user, key_id)
    if key.revoked_at is not None:
        raise Conflict("This key has been revoked: create a new key instead")
    old_prefix = key.prefix
    secret, key.prefix, key.key_hash = new_secret()
    key.rotated_at = now
    await record(session, actor=actor_of(user), action="api_key.rotated", entity_type="api_key",
                 entity_id=key.id or 0, now=now, before={"prefix": old_prefix}, after={"prefix": key.prefix})
    await session.commit()
    return key, secret


async def revoke_consumer_key(session: AsyncSession, user: SignedInUser, key_id: int, now: datetime) -> ApiKey:
    """A consumer revokes one of their own keys. Commits."""
    return await _revoke(session, await _own_key(session, user, key_id), actor_of(user), now)


# --- every key, for the authority ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyRow:
    """A key and who holds it: an API consumer (organisation, purpose and the person who made it), or nobody
    (a key the authority issued by hand: `organisation_name` is None)."""

    key: ApiKey
    organisation_name: str | None
    purpose: str | None
    owner_name: str | None
    owner_email: str | None


def _key_rows_query() -> Any:
    return (sa.select(ApiKey, col(Organisation.name), col(ApiConsumer.purpose), col(User.full_name), col(User.email))
            .outerjoin(Organisation, col(Organisation.id) == col(ApiKey.owner_organisation_id))
            .outerjoin(ApiConsumer, col(ApiConsumer.organisation_id) == col(ApiKey.owner_organisation_id))
            .outerjoin(User, col(User.id) == col(ApiKey.created_by_user_id)))


async def key_rows(session: AsyncSession) -> list[KeyRow]:
    """Every key, those in use first, by organisation and name."""
    rows = await session.execute(_key_rows_query().order_by(
        col(ApiKey.revoked_at).is_not(None), col(Organisation.name).is_(None), col(Organisation.name),
        col(ApiKey.name), col(ApiKey.id)))
    return [KeyRow(key, organisation, purpose, name, email) for key, organisation, purpose, name, email in rows]


async def key_row(session: AsyncSession, key_id: int) -> KeyRow:
    row = (await session.execute(_key_rows_query().where(col(ApiKey.id) == key_id))).first()
    if row is None:
        raise NotFound("There is no such API key")
    key, organisation, purpose, name, email = row
    return KeyRow(key, organisation, purpose, name, email)


async def active_api_key(session: AsyncSession, secret: str) -> ApiKey | None:
    if not secret.startswith(API_KEY_PREFIX) or len(secret) > 100:
        return None
    return await session.scalar(sa.select(ApiKey).where(col(ApiKey.key_hash) == hash_api_key(secret),
                                                        col(ApiKey.revoked_at).is_(None)))
