"""The outbox keeps every processed message, so its two lookups that run on every /health call must go through indexes
that hold only what they look for: the dead letters, and the messages still waiting."""

from __future__ import annotations

import sqlalchemy as sa


async def test_the_health_checks_outbox_lookups_read_partial_indexes(db, backend):
    backlog = ("SELECT min(available_at) FROM outbox_message WHERE processed_at IS NULL AND dead_at IS NULL")
    dead = "SELECT count(*) FROM outbox_message WHERE dead_at IS NOT NULL"
    if backend == "sqlite":
        plans = {name: " ".join(str(row[-1]) for row in (await db.execute(sa.text(f"EXPLAIN QUERY PLAN {query}"))))
                 for name, query in (("backlog", backlog), ("dead", dead))}
        assert "ix_outbox_message_waiting" in plans["backlog"], plans
        assert "ix_outbox_message_dead" in plans["dead"], plans
    else:  # a table this small is read whole whatever its indexes: check each index's predicate instead
        definitions = dict((await db.execute(sa.text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'outbox_message'"))).all())
        assert "WHERE ((processed_at IS NULL) AND (dead_at IS NULL))" in definitions["ix_outbox_message_waiting"]
        assert "WHERE (dead_at IS NOT NULL)" in definitions["ix_outbox_message_dead"]
    await db.commit()
