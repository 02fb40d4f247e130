"""A revoked key answers 401 at once in every app process. Two apps share one database (and, scaled out, one Redis):
app B has the key cached; the authority revokes it through app A; B refuses it on the very next request. Without
Redis the same holds for every app of one process. The guard's cache is real (a key revoked behind its back, with
nobody told, is still let through until the cache's ten seconds are up), which is what makes the signal necessary."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from litestar.testing import AsyncTestClient

from dps.api_keys import services
from dps.api_keys.models import ApiKey
from dps.app import create_app
from dps.audit.services import Actor
from dps.identity.models import Role
from dps.web.api_key_state import KEY_CACHE_SECONDS, ApiKeyCache, CachedKey
from tests.factories import make_api_consumer, make_authority_user, signed_in
from tests.helpers import post_form, scalar, sign_in

REDIS_URL = "redis://127.0.0.1:6379/0"


async def _redis_answers() -> bool:
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        return bool(await client.ping())
    except Exception:
        return False
    finally:
        await client.aclose()


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.mark.parametrize("store", ["memory", "redis"])
async def test_a_key_revoked_through_one_app_is_refused_at_once_by_another(store, settings, db, passwords, clock):
    if store == "redis" and not await _redis_answers():
        pytest.skip(f"Redis does not answer at {REDIS_URL}: the shared-store case needs it")
    shared = dataclasses.replace(settings, redis_url=REDIS_URL if store == "redis" else None)
    consumer = await signed_in(db, await make_api_consumer(db, passwords, clock, email="ria@newsroom.example"))
    _, quiet_secret = await services.create_consumer_key(db, consumer, name="Revoked with nobody told", now=clock.now())
    _, secret = await services.create_consumer_key(db, consumer, name="Newsroom scraper", now=clock.now())
    key_id = await scalar(db, sa.select(ApiKey.id).where(ApiKey.name == "Newsroom scraper"))
    quiet_id = await scalar(db, sa.select(ApiKey.id).where(ApiKey.name == "Revoked with nobody told"))
    admin = await make_authority_user(db, passwords, clock, email="ada@authority.example", role=Role.AUTHORITY_ADMIN)

    app_a, app_b = create_app(shared, clock=clock), create_app(shared, clock=clock)
    async with AsyncTestClient(app=app_a, base_url="http://testserver.local") as a, \
            AsyncTestClient(app=app_b, base_url="http://testserver.local") as b:
        a.follow_redirects = b.follow_redirects = False
        for each in (quiet_secret, secret):  # B reads both keys from the database and caches them
            assert (await b.get("/api/v1/innovations", headers=_bearer(each))).status_code == 200

        # Revoked in the database with no app told: B's cache still lets it through (so B really is caching)...
        await services.revoke_api_key(db, quiet_id, actor=Actor.system("test"), now=clock.now())
        assert (await b.get("/api/v1/innovations", headers=_bearer(quiet_secret))).status_code == 200

        # ...but a revocation through app A reaches B before its next request.
        assert (await sign_in(a, admin.email)).status_code == 303
        revoked = await post_form(a, f"/authority/api-keys/{key_id}/revoke", {}, form_page="/authority/api-keys")
        assert revoked.status_code == 303
        refused = await b.get("/api/v1/innovations", headers=_bearer(secret))
        assert refused.status_code == 401, refused.text
        assert refused.json()["detail"] == "The API key is not recognised or has been revoked"
        assert (await a.get("/api/v1/innovations", headers=_bearer(secret))).status_code == 401
        # B dropped its whole cache, so the key revoked behind its back is refused now too.
        assert (await b.get("/api/v1/innovations", headers=_bearer(quiet_secret))).status_code == 401


class _Generation:
    def __init__(self) -> None:
        self.value: int | None = 0

    async def current(self) -> int | None:
        return self.value

    async def move_on(self) -> None:
        assert self.value is not None
        self.value += 1

    async def close(self) -> None:
        return None


async def test_the_cache_is_trusted_only_while_the_generation_stands_still() -> None:
    generation = _Generation()
    cache = ApiKeyCache(generation)
    now = datetime(2026, 1, 5, 9, 0).astimezone()
    key = CachedKey(7, 600, now)

    first = await cache.lookup("hash", now)
    assert first.key is None
    cache.store("hash", key, first.generation)
    assert (await cache.lookup("hash", now + timedelta(seconds=1))).key == key
    assert (await cache.lookup("hash", now + timedelta(seconds=KEY_CACHE_SECONDS))).key is None  # too old

    cache.store("hash", key, (await cache.lookup("hash", now)).generation)
    await generation.move_on()  # another process changed a key
    assert (await cache.lookup("hash", now)).key is None

    # A key read from the database before a change must not be kept after it.
    stale = await cache.lookup("hash", now)
    await generation.move_on()
    assert (await cache.lookup("other", now)).key is None  # a request under the new generation
    cache.store("hash", key, stale.generation)
    assert (await cache.lookup("hash", now)).key is None

    # When the generation cannot be read (Redis away), nothing cached is trusted.
    cache.store("hash", key, (await cache.lookup("hash", now)).generation)
    generation.value = None
    assert (await cache.lookup("hash", now)).key is None
    empty: Any = await cache.lookup("hash", now)
    cache.store("hash", key, empty.generation)
    generation.value = 2
    assert (await cache.lookup("hash", now)).key is None


async def test_requests_that_miss_the_cache_together_share_one_database_read() -> None:
    generation = _Generation()
    cache = ApiKeyCache(generation)
    now = datetime(2026, 1, 5, 9, 0).astimezone()
    reads: list[str] = []
    release = asyncio.Event()

    async def read() -> CachedKey | None:
        reads.append("read")
        await release.wait()
        return CachedKey(7, 600, now)

    async def request() -> CachedKey | None:
        found = await cache.lookup("hash", now)
        return found.key or await cache.read_once("hash", found.generation, read)

    waiting = [asyncio.ensure_future(request()) for _ in range(16)]
    await asyncio.sleep(0)  # every request has missed the cache and is waiting
    waiting[0].cancel()  # a client that gives up does not stop the read the others wait for
    await generation.move_on()  # a key changed meanwhile: a request from now on does not share the older read
    late = asyncio.ensure_future(request())
    await asyncio.sleep(0)
    release.set()
    answers = await asyncio.gather(*waiting[1:], late)
    assert len(reads) == 2  # one for the fifteen requests before the change, one for the request after it
    assert {answer.key_id for answer in answers if answer} == {7} and len(answers) == 16
    assert (await cache.lookup("hash", now)).key == CachedKey(7, 600, now)  # kept from the read under the new one


async def test_a_key_is_read_without_waiting_for_the_database_write_lock(settings, db, passwords, clock, backend,
                                                                           session_engine):
    if backend != "sqlite":
        pytest.skip("the write lock taken up front is SQLite's (BEGIN IMMEDIATE)")
    consumer = await signed_in(db, await make_api_consumer(db, passwords, clock, email="omar@charity.example"))
    _, secret = await services.create_consumer_key(db, consumer, name="Charity dashboard", now=clock.now())
    app = create_app(settings, clock=clock)
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client, \
            session_engine.connect() as writer:
        assert (await client.get("/api/v1/innovations", headers=_bearer(secret))).status_code == 200
        clock.advance(timedelta(seconds=KEY_CACHE_SECONDS))  # the key is read again; its last use is not yet due
        await writer.execute(sa.text("UPDATE api_key SET name = name"))  # another writer holds the lock meanwhile
        try:
            started = time.monotonic()
            answers = await asyncio.gather(*(client.get("/api/v1/innovations", headers=_bearer(secret))
                                             for _ in range(2)))
            waited = time.monotonic() - started  # SQLite's busy wait for the lock would be up to 30 s each
        finally:
            await writer.rollback()
    assert [answer.status_code for answer in answers] == [200] * 2
    assert waited < 5
