"""The audit log is a hash chain: it verifies, and a row changed behind the application's back is caught."""

from __future__ import annotations

from itertools import pairwise

import sqlalchemy as sa

from dps.audit.models import AuditEvent
from dps.audit.services import Actor, record, verify_chain
from tests.factories import make_supplier


async def test_every_change_extends_a_chain_that_verifies(db, clock):
    await make_supplier(db, clock)
    await db.commit()
    events = (await db.scalars(sa.select(AuditEvent).order_by(AuditEvent.sequence))).all()
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert all(later.prev_hash == earlier.hash for earlier, later in pairwise(events))
    assert events[-1].action == "organisation.created"
    assert await verify_chain(db) is None


async def test_tampering_with_one_row_is_caught_and_named(db, clock):
    for n in range(3):
        await record(db, actor=Actor.system("test"), action="thing.changed", entity_type="thing", entity_id=n,
                     now=clock.now(), after={"value": n})
    await db.commit()
    target = await db.scalar(sa.select(AuditEvent).where(AuditEvent.entity_type == "thing",
                                                         AuditEvent.entity_id == "1"))
    await db.execute(sa.text("UPDATE audit_event SET after = :after WHERE id = :id"),
                     {"after": '{"value": 999}', "id": target.id})
    await db.commit()
    db.expire_all()

    problem = await verify_chain(db)

    assert problem is not None
    assert problem.sequence == target.sequence
    assert problem.reason == "content does not match its hash"


async def test_a_deleted_row_breaks_the_chain(db, clock):
    for n in range(3):
        await record(db, actor=Actor.system("test"), action="thing.changed", entity_type="thing", entity_id=n,
                     now=clock.now())
    await db.commit()
    middle = await db.scalar(sa.select(AuditEvent).where(AuditEvent.entity_type == "thing",
                                                         AuditEvent.entity_id == "1"))
    await db.execute(sa.delete(AuditEvent).where(AuditEvent.id == middle.id))
    await db.commit()

    problem = await verify_chain(db)

    assert problem is not None and problem.sequence == middle.sequence + 1
