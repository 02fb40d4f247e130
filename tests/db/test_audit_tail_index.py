"""The unsealed audit tail's size and age (/health on every call, `dps audit verify`) read its partial index alone, not
each unsealed event's row: a long tail, when the sealer has stopped, is when the answer matters."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from dps.audit.services import Actor, record, unsealed_tail, unsealed_tail_statement


async def test_the_unsealed_tail_is_read_from_its_covering_partial_index(db, backend, clock):
    if backend == "sqlite":
        statement = unsealed_tail_statement("sqlite").compile(dialect=(await db.connection()).dialect)
        plan = " ".join(str(row[-1]) for row in await db.execute(sa.text(f"EXPLAIN QUERY PLAN {statement}")))
        assert "COVERING INDEX ix_audit_event_unsealed" in plan, plan
    else:  # the planner picks by the table's size: check the index's columns and predicate instead
        definition = await db.scalar(sa.text(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_audit_event_unsealed'"))
        assert "(xid, id, occurred_at, sequence) WHERE (sequence IS NULL)" in definition
    await db.commit()


async def test_the_tail_reports_its_size_and_its_oldest_event(db, clock):
    """The same answer through the index as through the table: two events written a minute apart, neither sealed."""
    first, actor = clock.now(), Actor(user_id=None, label="a test")
    before = await unsealed_tail(db)
    await record(db, actor=actor, action="test.first", entity_type="test", entity_id=1, now=first)
    a_minute_later = first + timedelta(minutes=1)
    await record(db, actor=actor, action="test.second", entity_type="test", entity_id=2, now=a_minute_later)
    await db.commit()
    tail = await unsealed_tail(db)
    assert tail.count == before.count + 2
    assert tail.oldest_at == min(at for at in (before.oldest_at, first) if at is not None)
