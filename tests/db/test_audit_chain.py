"""The audit log is a hash chain that writers never wait on: an event is appended unsealed, the sealer chains
committed events in a well-defined order, and verification catches a row changed, deleted, inserted or moved."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from dps.audit.models import GENESIS_HASH, AuditEvent
from dps.audit.services import (
    Actor,
    ChainHead,
    chain_head,
    hash_of,
    record,
    take_checkpoint,
    unsealed_tail,
    verify_chain,
)
from dps.db import make_engine, make_sessionmaker
from dps.wiring import run_daily_jobs
from tests.factories import make_supplier
from tests.helpers import seal_audit_log


async def _things(db, clock, count: int = 4) -> list[AuditEvent]:
    """`count` events of a thing, committed and sealed; returned in chain order."""
    for n in range(count):
        await record(db, actor=Actor.system("test"), action="thing.changed", entity_type="thing", entity_id=n,
                     now=clock.now(), after={"value": n})
    await db.commit()
    await seal_audit_log(db, clock.now())
    return list((await db.scalars(sa.select(AuditEvent).where(AuditEvent.entity_type == "thing")
                                  .order_by(AuditEvent.sequence))).all())


async def test_an_event_is_appended_unsealed_and_the_sealer_chains_it(db, clock):
    await make_supplier(db, clock)
    await db.commit()
    unsealed = await unsealed_tail(db)
    assert unsealed.count > 0 and unsealed.oldest_at == clock.now()
    assert await db.scalar(sa.select(sa.func.count()).where(AuditEvent.sequence.is_not(None))) == 0

    sealed = await seal_audit_log(db, clock.now())

    assert sealed == unsealed.count
    assert (await unsealed_tail(db)).count == 0
    events = (await db.scalars(sa.select(AuditEvent).order_by(AuditEvent.sequence))).all()
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert events[0].prev_hash == GENESIS_HASH
    assert all(later.prev_hash == earlier.hash for earlier, later in zip(events, events[1:], strict=False))
    assert events[-1].action == "organisation.created"
    assert await chain_head(db) == ChainHead(len(events), events[-1].hash)
    assert await verify_chain(db) is None


async def test_events_sealed_later_continue_the_same_chain(db, clock):
    first = await _things(db, clock, 2)
    await record(db, actor=Actor.system("test"), action="thing.changed", entity_type="thing", entity_id=9,
                 now=clock.now())
    await db.commit()
    assert await seal_audit_log(db, clock.now()) == 1
    latest = await db.scalar(sa.select(AuditEvent).where(AuditEvent.entity_type == "thing",
                                                         AuditEvent.entity_id == "9"))
    assert latest.prev_hash == first[-1].hash and latest.sequence == first[-1].sequence + 1
    assert await verify_chain(db) is None


async def test_a_changed_event_is_caught_and_named(db, clock):
    target = (await _things(db, clock))[1]
    await db.execute(sa.text("UPDATE audit_event SET after = :after WHERE id = :id"),
                     {"after": '{"value": 999}', "id": target.id})
    await db.commit()
    db.expire_all()

    problem = await verify_chain(db)

    assert problem is not None
    assert (problem.sequence, problem.event_id) == (target.sequence, target.id)
    assert problem.reason == "content does not match its hash"


async def test_a_deleted_event_breaks_the_chain(db, clock):
    middle = (await _things(db, clock))[1]
    await db.execute(sa.delete(AuditEvent).where(AuditEvent.id == middle.id))
    await db.commit()

    problem = await verify_chain(db)

    assert problem is not None and problem.sequence == middle.sequence + 1
    assert problem.reason == f"sequence gap: expected {middle.sequence}"


async def test_an_inserted_event_is_caught_even_with_a_well_formed_hash(db, clock):
    things = await _things(db, clock)
    after = things[1]
    # A forger makes room after `after` and writes an event that hashes and links correctly to it.
    for event in reversed(things[2:]):
        await db.execute(sa.update(AuditEvent).where(AuditEvent.id == event.id)
                         .values(sequence=event.sequence + 1))
    forged = AuditEvent(occurred_at=clock.now(), actor_label="system:test", action="thing.changed",
                        entity_type="thing", entity_id="forged", after={"value": -1})
    forged.sequence, forged.prev_hash = after.sequence + 1, after.hash
    forged.hash = hash_of(forged, sequence=forged.sequence, prev_hash=after.hash)
    db.add(forged)
    await db.commit()
    db.expire_all()

    problem = await verify_chain(db)

    # The event after the forgery no longer links to the event before it.
    assert problem is not None and problem.sequence == after.sequence + 2
    assert problem.event_id == things[2].id
    assert problem.reason == "does not link to the previous event's hash"


async def test_events_moved_in_order_are_caught(db, clock):
    things = await _things(db, clock)
    first, second = ((e.id, e.sequence, e.prev_hash, e.hash) for e in things[1:3])
    # Swap their places in the chain, hashes and links included.
    await db.execute(sa.update(AuditEvent).where(AuditEvent.id == first[0]).values(sequence=-1))
    for (event_id, *_), (_, sequence, prev_hash, digest) in ((second, first), (first, second)):
        await db.execute(sa.update(AuditEvent).where(AuditEvent.id == event_id)
                         .values(sequence=sequence, prev_hash=prev_hash, hash=digest))
    await db.commit()
    db.expire_all()

    problem = await verify_chain(db)

    assert problem is not None and (problem.sequence, problem.event_id) == (first[1], second[0])
    assert problem.reason == "content does not match its hash"


async def test_a_rewritten_history_is_caught_by_a_published_checkpoint(db, clock):
    oldest = (await _things(db, clock))[0]
    oldest_id, oldest_sequence, prev_hash = oldest.id, oldest.sequence, oldest.prev_hash
    published = await chain_head(db)
    # A forger who can rewrite every later hash changes an old event and re-chains the rest: the chain alone
    # verifies again, but no longer ends in the published checkpoint.
    await db.execute(sa.update(AuditEvent).where(AuditEvent.id == oldest_id).values(after={"value": 999}))
    await db.commit()
    db.expire_all()
    events = (await db.scalars(sa.select(AuditEvent).where(AuditEvent.sequence >= oldest_sequence)
                               .order_by(AuditEvent.sequence))).all()
    for event in events:
        event.prev_hash = prev_hash
        event.hash = prev_hash = hash_of(event, sequence=event.sequence, prev_hash=prev_hash)
    await db.commit()
    db.expire_all()

    assert await verify_chain(db) is None
    problem = await verify_chain(db, checkpoints=[published])
    assert problem is not None and problem.sequence == published.sequence
    assert problem.reason == "does not match the checkpoint taken at this event"


async def test_the_daily_checkpoint_is_taken_once_a_day_and_checked(db, clock):
    await _things(db, clock, 2)
    checkpoint = await take_checkpoint(db, clock.now())
    await db.commit()
    assert checkpoint is not None and (checkpoint.sequence, checkpoint.hash) == tuple(vars(await chain_head(db))
                                                                                      .values())
    assert await take_checkpoint(db, clock.now() + timedelta(hours=1)) is None  # one a day
    clock.advance(timedelta(days=1))
    await _things(db, clock, 1)
    assert await take_checkpoint(db, clock.now()) is not None
    await db.commit()

    # Cutting the history short below a stored checkpoint is caught.
    await db.execute(sa.delete(AuditEvent).where(AuditEvent.sequence >= checkpoint.sequence))
    await db.commit()
    problem = await verify_chain(db)
    assert problem is not None and problem.sequence == checkpoint.sequence


async def test_the_daily_jobs_publish_a_checkpoint_on_the_contracts_register(client, db, clock, settings):
    empty = await client.get("/contracts-register")
    assert "No checkpoint of the audit log has been published yet" in empty.text
    await _things(db, clock, 2)
    head = await chain_head(db)
    await db.commit()
    engine = make_engine(settings.database_url)
    try:
        done = await run_daily_jobs(make_sessionmaker(engine), clock.now(), settings)
    finally:
        await engine.dispose()
    assert done["audit_checkpoints"] == 1

    page = await client.get("/contracts-register")

    assert page.status_code == 200
    assert f"Checkpoint: <code>{head.sequence}:{head.hash}</code>" in page.text
