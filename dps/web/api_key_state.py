"""What the API-key guard keeps between requests, and how a change to a key reaches every app process at once.

- The cache (`ApiKeyCache`, one per app): a key seen recently is trusted for KEY_CACHE_SECONDS without a database
  read, but only while the *key generation* has not moved. Every revocation, rotation and rate-limit change moves the
  generation on (`keys_changed`), after its transaction commits; each request reads the generation first and, if it
  moved, drops the whole cache and reads the key from the database again. So a revoked key answers 401 at once.
  The read goes through the reading engine (no write lock on SQLite), and the requests that miss the cache at the
  same moment share one read (`read_once`): when a busy key's entry expires, they would otherwise all read it.
- The generation is shared by every process through Redis when REDIS_URL is set (one GET a request, like the rate
  limiter's counters), and by every app in this process otherwise. If Redis cannot be read, the cache is not trusted
  (the database decides), so a revoked key is never let through for want of Redis.
- Usage (`ApiKeyUsage`): each request adds one to its key's count for the day, an atomic counter in the rate
  limiter's store (memory or Redis, kept two days), and notes the time in memory; the times are written to
  `api_key.last_used_at` at most once every LAST_USE_FLUSH_SECONDS by each process (and when a keys page is shown or
  the app stops), never by a write per request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from limits.aio.storage import Storage
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dps.api_keys.models import ApiKey

logger = logging.getLogger("dps.api")

KEY_CACHE_SECONDS = 10
LAST_USE_FLUSH_SECONDS = 60
USE_COUNT_KEPT_SECONDS = 2 * 24 * 60 * 60
GENERATION_KEY = "dps-api:key-generation"


class KeyGeneration(Protocol):
    async def current(self) -> int | None:
        """The generation now; None when it cannot be known (then nothing cached may be trusted)."""

    async def move_on(self) -> None:
        """Tell every process that some key changed."""

    async def close(self) -> None: ...


class ProcessKeyGeneration:
    """Without Redis: one counter for every app in this process."""

    _value = 0

    async def current(self) -> int | None:
        return ProcessKeyGeneration._value

    async def move_on(self) -> None:
        ProcessKeyGeneration._value += 1

    async def close(self) -> None:
        return None


class RedisKeyGeneration:
    """With Redis: a counter every process reads before it trusts its cache."""

    def __init__(self, redis_url: str) -> None:
        from redis.asyncio import Redis

        self._redis: Any = Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)

    async def current(self) -> int | None:
        try:
            value = await self._redis.get(GENERATION_KEY)
        except Exception as error:  # Redis away: the database decides until it is back
            logger.warning("cannot read the API key generation from Redis: %s", error)
            return None
        return int(value or 0)

    async def move_on(self) -> None:
        await self._redis.incr(GENERATION_KEY)

    async def close(self) -> None:
        await self._redis.aclose()


def key_generation(redis_url: str | None) -> KeyGeneration:
    return RedisKeyGeneration(redis_url) if redis_url else ProcessKeyGeneration()


@dataclass(frozen=True)
class CachedKey:
    key_id: int
    rate_limit_per_minute: int
    cached_at: datetime


@dataclass(frozen=True)
class CacheLookup:
    """What the cache holds for a key (None: ask the database) and the generation it was read under, which a key
    read from the database must be stored with."""

    key: CachedKey | None
    generation: int | None


class ApiKeyCache:
    """One app's keys seen recently, by key hash."""

    def __init__(self, generation: KeyGeneration) -> None:
        self._generation_source = generation
        self._generation: int | None = None
        self._entries: dict[str, CachedKey] = {}
        self._reads: dict[tuple[str, int | None], asyncio.Future[CachedKey | None]] = {}  # database reads in flight

    async def lookup(self, key_hash: str, now: datetime) -> CacheLookup:
        generation = await self._generation_source.current()
        if generation is None or generation != self._generation:
            self._entries.clear()
            self._generation = generation
        cached = self._entries.get(key_hash) if generation is not None else None
        if cached is not None and now - cached.cached_at < timedelta(seconds=KEY_CACHE_SECONDS):
            return CacheLookup(cached, generation)
        return CacheLookup(None, generation)

    async def read_once(self, key_hash: str, generation: int | None,
                        read: Callable[[], Awaitable[CachedKey | None]]) -> CachedKey | None:
        """The key as `read` finds it in the database, by one read however many requests ask at once, then kept (see
        `store`). When a key's cached entry expires under load, every request in flight would otherwise read it at
        the same moment, each on a connection of its own. A read started under an older generation is not shared:
        a key revoked since must be read again."""
        flight = (key_hash, generation)
        reading = self._reads.get(flight)
        if reading is None:
            reading = self._reads[flight] = asyncio.ensure_future(read())
            reading.add_done_callback(lambda _: self._reads.pop(flight, None))
        key = await asyncio.shield(reading)  # one request given up on does not stop the read the others wait for
        self.store(key_hash, key, generation)
        return key

    def store(self, key_hash: str, key: CachedKey | None, generation: int | None) -> None:
        """Keep a key read from the database, unless the generation moved since the lookup (it may be stale)."""
        if generation is None or generation != self._generation:
            return  # read before a key changed, or with no generation to trust: the cache was emptied since
        if key is None:
            self._entries.pop(key_hash, None)
            return
        self._entries[key_hash] = key

    async def keys_changed(self) -> None:
        """A key was revoked, rotated or given another limit (committed): every process drops its cache."""
        self._entries.clear()
        await self._generation_source.move_on()

    async def close(self) -> None:
        await self._generation_source.close()


class ApiKeyUsage:
    """Counts each key's requests per day (in the rate limiter's store) and writes its last use now and then."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._last_use: dict[int, datetime] = {}
        self._flushed_at: datetime | None = None

    @staticmethod
    def _counter(key_id: int, day: date) -> str:
        return f"uses:{key_id}:{day.isoformat()}"

    async def record(self, key_id: int, day: date, now: datetime) -> None:
        await self._storage.incr(self._counter(key_id, day), USE_COUNT_KEPT_SECONDS)
        previous = self._last_use.get(key_id)
        if previous is None or now > previous:
            self._last_use[key_id] = now

    async def counts_on(self, key_ids: list[int], day: date) -> dict[int, int]:
        return {key_id: int(await self._storage.get(self._counter(key_id, day)) or 0) for key_id in key_ids}

    def flush_due(self, now: datetime) -> bool:
        return bool(self._last_use) and (
            self._flushed_at is None or now - self._flushed_at >= timedelta(seconds=LAST_USE_FLUSH_SECONDS))

    async def flush(self, session: AsyncSession, now: datetime) -> int:
        """Write the last uses noted since the last flush (a later time only); returns how many keys. Commits."""
        pending, self._last_use, self._flushed_at = self._last_use, {}, now
        if not pending:
            return 0
        for key_id, used_at in sorted(pending.items()):
            await session.execute(
                sa.update(ApiKey)
                .where(col(ApiKey.id) == key_id,
                       sa.or_(col(ApiKey.last_used_at).is_(None), col(ApiKey.last_used_at) < used_at))
                .values(last_used_at=used_at))
        await session.commit()
        return len(pending)
