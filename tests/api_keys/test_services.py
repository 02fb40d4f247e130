"""API keys as a consumer and the authority change them: each change audited, a consumer only ever reaching the
keys of their own organisation, a rotated secret replacing the old one at once."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from dps.api_keys import services
from dps.api_keys.consumers import become_api_consumer
from dps.api_keys.models import ApiConsumer, ApiKey
from dps.api_keys.rules import MAX_ACTIVE_KEYS
from dps.audit.models import AuditEvent
from dps.errors import Conflict, NotFound, ValidationFailed
from dps.identity.models import Membership, Organisation, OrganisationKind, Role
from dps.identity.services import actor_of
from tests.factories import make_api_consumer, make_authority_user, make_user, signed_in
from tests.helpers import scalar


async def _actions(db, key_id: int) -> list[str]:
    rows = await db.scalars(sa.select(AuditEvent.action).where(AuditEvent.entity_type == "api_key",
                                                               AuditEvent.entity_id == str(key_id))
                            .order_by(AuditEvent.id))
    actions = list(rows.all())
    await db.commit()
    return actions


async def test_a_person_becomes_an_api_consumer_with_an_organisation_and_a_purpose(db, passwords, clock):
    user = await make_user(db, passwords, clock, email="ria@newsroom.example")
    organisation = await become_api_consumer(db, user.id, organisation_name=" The  Data Desk ",
                                             purpose="Reporting on NHS spending", now=clock.now())
    assert (organisation.kind, organisation.name) == (OrganisationKind.API_CONSUMER, "The Data Desk")
    role = await scalar(db, sa.select(Membership.role).where(Membership.user_id == user.id))
    assert role == Role.API_CONSUMER
    purpose = await scalar(db, sa.select(ApiConsumer.purpose).where(ApiConsumer.organisation_id == organisation.id))
    assert purpose == "Reporting on NHS spending"
    assert await scalar(db, sa.select(sa.func.count()).select_from(AuditEvent)
                        .where(AuditEvent.action == "api_consumer.registered")) == 1
    # Asking again changes nothing.
    again = await become_api_consumer(db, user.id, organisation_name="Another", purpose="Something else entirely",
                                      now=clock.now())
    assert again.id == organisation.id
    assert await scalar(db, sa.select(sa.func.count()).select_from(Organisation)
                        .where(Organisation.kind == OrganisationKind.API_CONSUMER)) == 1


async def test_a_consumer_creates_rotates_and_revokes_their_own_keys(db, passwords, clock):
    person = await signed_in(db, await make_api_consumer(db, passwords, clock, email="ria@newsroom.example"))
    key, secret = await services.create_consumer_key(db, person, name="Nightly import", now=clock.now())
    key_id = key.id
    assert secret.startswith(key.prefix) and key.key_hash == services.hash_api_key(secret)
    assert key.owner_organisation_id in person.organisation_ids_of_kind(OrganisationKind.API_CONSUMER)
    assert (await services.active_api_key(db, secret)).id == key.id

    clock.advance(timedelta(minutes=5))
    rotated, new_secret = await services.rotate_consumer_key(db, person, key.id, clock.now())
    assert rotated.id == key.id and new_secret != secret and rotated.rotated_at == clock.now()
    assert await services.active_api_key(db, secret) is None  # the old secret stops at once
    assert (await services.active_api_key(db, new_secret)).id == key.id

    revoked = await services.revoke_consumer_key(db, person, key.id, clock.now())
    assert revoked.revoked_at == clock.now()
    assert await services.active_api_key(db, new_secret) is None
    with pytest.raises(Conflict):
        await services.rotate_consumer_key(db, person, key_id, clock.now())
    await db.rollback()
    with pytest.raises(Conflict):
        await services.revoke_consumer_key(db, person, key_id, clock.now())
    await db.rollback()
    assert await _actions(db, key_id) == ["api_key.created", "api_key.rotated", "api_key.revoked"]
    # The audit trail never holds a secret.
    details = await db.scalars(sa.select(AuditEvent.after).where(AuditEvent.entity_type == "api_key"))
    assert not any(secret in str(after) or new_secret in str(after) for after in details.all())
    await db.commit()


async def test_a_consumer_never_reaches_another_consumers_key(db, passwords, clock):
    ria = await signed_in(db, await make_api_consumer(db, passwords, clock, email="ria@newsroom.example"))
    sam = await signed_in(db, await make_api_consumer(db, passwords, clock, email="sam@uni.example",
                                                      organisation_name="University of Leeds"))
    key, secret = await services.create_consumer_key(db, ria, name="Ria's key", now=clock.now())
    key_id = key.id
    for attempt in (lambda: services.rotate_consumer_key(db, sam, key_id, clock.now()),
                    lambda: services.revoke_consumer_key(db, sam, key_id, clock.now())):
        with pytest.raises(NotFound):
            await attempt()
        await db.rollback()
    assert [k.id for k in await services.consumer_keys(db, sam)] == []
    assert [k.id for k in await services.consumer_keys(db, ria)] == [key_id]
    assert (await services.active_api_key(db, secret)).id == key_id
    # A key the authority issued by hand belongs to no consumer either.
    admin = await make_authority_user(db, passwords, clock, email="ada@authority.example", role=Role.AUTHORITY_ADMIN)
    issued, _ = await services.create_api_key(db, name="Hand-issued", actor=actor_of(admin), now=clock.now())
    issued_id = issued.id
    with pytest.raises(NotFound):
        await services.revoke_consumer_key(db, ria, issued_id, clock.now())
    await db.rollback()
    # Someone who is not a consumer at all has no keys and reaches none.
    stranger = await signed_in(db, await make_user(db, passwords, clock, email="x@example.org"))
    assert await services.consumer_keys(db, stranger) == []
    with pytest.raises(NotFound):
        await services.create_consumer_key(db, stranger, name="Mine", now=clock.now())
    await db.rollback()


async def test_a_consumer_holds_at_most_five_keys_in_use(db, passwords, clock):
    person = await signed_in(db, await make_api_consumer(db, passwords, clock))
    key_ids = [(await services.create_consumer_key(db, person, name=f"Key {n}", now=clock.now()))[0].id
               for n in range(MAX_ACTIVE_KEYS)]
    with pytest.raises(ValidationFailed, match="up to 5 keys") as refused:
        await services.create_consumer_key(db, person, name="One too many", now=clock.now())
    assert refused.value.field == "name"
    await db.rollback()
    await services.revoke_consumer_key(db, person, key_ids[0], clock.now())
    await services.create_consumer_key(db, person, name="In place of key 0", now=clock.now())
    with pytest.raises(ValidationFailed):
        await services.create_consumer_key(db, person, name="  ", now=clock.now())
    await db.rollback()


async def test_the_authority_sees_every_key_with_its_holder_and_changes_its_limit(db, passwords, clock):
    ria = await signed_in(db, await make_api_consumer(db, passwords, clock, email="ria@newsroom.example",
                                                      organisation_name="The Data Desk",
                                                      purpose="Reporting on NHS spending"))
    key, _ = await services.create_consumer_key(db, ria, name="Newsroom scraper", now=clock.now())
    key_id = key.id
    admin = await make_authority_user(db, passwords, clock, email="ada@authority.example", role=Role.AUTHORITY_ADMIN)
    admin_id = admin.id
    issued, _ = await services.create_api_key(db, name="Hand-issued", actor=actor_of(admin), now=clock.now())

    rows = {row.key.id: row for row in await services.key_rows(db)}
    assert (rows[key_id].organisation_name, rows[key_id].purpose, rows[key_id].owner_email) == (
        "The Data Desk", "Reporting on NHS spending", "ria@newsroom.example")
    assert rows[issued.id].organisation_name is None

    changed = await services.change_rate_limit(db, key_id, " 2400 ", actor=actor_of(admin), now=clock.now())
    assert changed.rate_limit_per_minute == 2400
    assert (await scalar(db, sa.select(ApiKey.rate_limit_per_minute).where(ApiKey.id == key_id))) == 2400
    for raw in ("", "0", "-1", "2,400", "²", "1000001"):
        with pytest.raises(ValidationFailed) as refused:
            await services.change_rate_limit(db, key_id, raw, actor=actor_of(admin), now=clock.now())
        assert refused.value.field == "rate_limit"
        await db.rollback()
    await services.change_rate_limit(db, key_id, "2400", actor=actor_of(admin), now=clock.now())  # no change
    await services.revoke_api_key(db, key_id, actor=actor_of(admin), now=clock.now())
    with pytest.raises(Conflict):
        await services.change_rate_limit(db, key_id, "10", actor=actor_of(admin), now=clock.now())
    await db.rollback()
    with pytest.raises(NotFound):
        await services.key_row(db, 999_999)
    assert await _actions(db, key_id) == ["api_key.created", "api_key.rate_limit_changed", "api_key.revoked"]
    event = await scalar(db, sa.select(AuditEvent).where(AuditEvent.action == "api_key.rate_limit_changed"))
    assert (event.before, event.after, event.actor_user_id) == (
        {"rate_limit_per_minute": 600}, {"rate_limit_per_minute": 2400}, admin_id)
