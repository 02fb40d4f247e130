"""The outbox keeps every processed message, so its two lookups that run on every /health call must go through indexes
that hold only what they look for: the dead letters, and the messages still waiting."""

from __future__ import annotations

import sqlalchemy as sa

from dps.outbox.services import DEAD_LETTER_COUNT, OLDEST_WAITING_DUE


async def test_the_health_checks_outbox_lookups_read_partial_indexes(db, backend):
    if backend == "sqlite":
        dialect = (await db.connection()).dialect

        async def plan(statement: sa.Select) -> str:
            rows = await db.execute(sa.text(f"EXPLAIN QUERY PLAN {statement.compile(dialect=dialect)}"))
            return " ".join(str(row[-1]) for row in rows)

        assert "ix_outbox_message_waiting" in await plan(OLDEST_WAITING_DUE)
        assert "ix_outbox_message_dead" in await plan(DEAD_LETTER_COUNT)
    else:  # a table this small is read whole whatever its indexes: check each index's predicate instead
        definitions = dict((await db.execute(sa.text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'outbox_message'"))).all())
        assert "WHERE ((processed_at IS NULL) AND (dead_at IS NULL))" in definitions["ix_outbox_message_waiting"]
        assert "WHERE (dead_at IS NOT NULL)" in definitions["ix_outbox_message_dead"]
    await db.commit()
