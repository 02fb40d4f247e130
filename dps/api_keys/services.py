"""API keys: created and revoked by the authority (or `dps api-key create`), each with its own rate limit.

A key is 256 random bits shown once; only its SHA-256 is stored, which is enough for keys that cannot be guessed.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dps.api_keys.models import ApiKey
from dps.audit.services import Actor, record
from dps.errors import Conflict, NotFound, ValidationFailed

API_KEY_PREFIX = "dpsk_"
DEFAULT_RATE_LIMIT = 600


def hash_api_key(secret: str) -> str:
    """Keys are 256 random bits, so a plain SHA-256 is enough to store them safely and find them fast."""
    return hashlib.sha256(secret.encode()).hexdigest()


async def create_api_key(session: AsyncSession, *, name: str, actor: Actor, now: datetime,
                         rate_limit_per_minute: int = DEFAULT_RATE_LIMIT) -> tuple[ApiKey, str]:
    """Create a key; returns it with the secret, which is shown once and never stored. Commits."""
    if not name.strip():
        raise ValidationFailed("Enter a name for the key, such as the consumer's organisation", field="name")
    if len(name.strip()) > 120:
        raise ValidationFailed("Name must be 120 characters or fewer", field="name")
    if rate_limit_per_minute < 1:
        raise ValidationFailed("The rate limit must be at least 1 request a minute", field="rate_limit")
    secret = API_KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(name=name.strip(), prefix=secret[: len(API_KEY_PREFIX) + 6], key_hash=hash_api_key(secret),
                 rate_limit_per_minute=rate_limit_per_minute, created_at=now, created_by_user_id=actor.user_id)
    session.add(key)
    await session.flush()
    await record(session, actor=actor, action="api_key.created", entity_type="api_key", entity_id=key.id or 0,
                 now=now, after={"name": key.name, "prefix": key.prefix,
                                 "rate_limit_per_minute": rate_limit_per_minute})
    await session.commit()
    return key, secret


async def revoke_api_key(session: AsyncSession, key_id: int, *, actor: Actor, now: datetime) -> ApiKey:
    key = await session.scalar(sa.select(ApiKey).where(col(ApiKey.id) == key_id).with_for_update())
    if key is None:
        raise NotFound("There is no such API key")
    if key.revoked_at is not None:
        raise Conflict("This key has already been revoked")
    key.revoked_at, key.revoked_by_user_id = now, actor.user_id
    await record(session, actor=actor, action="api_key.revoked", entity_type="api_key", entity_id=key.id or 0,
                 now=now, before={"revoked": False}, after={"revoked": True})
    await session.commit()
    return key


async def api_keys(session: AsyncSession) -> list[ApiKey]:
    return list((await session.scalars(sa.select(ApiKey).order_by(col(ApiKey.revoked_at).is_not(None),
                                                                  col(ApiKey.name)))).all())


async def active_api_key(session: AsyncSession, secret: str) -> ApiKey | None:
    if not secret.startswith(API_KEY_PREFIX) or len(secret) > 100:
        return None
    return await session.scalar(sa.select(ApiKey).where(col(ApiKey.key_hash) == hash_api_key(secret),
                                                        col(ApiKey.revoked_at).is_(None)))
