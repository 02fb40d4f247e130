from __future__ import annotations

from datetime import timedelta

from litestar.testing import AsyncTestClient

from dps.app import create_app
from dps.audit.services import Actor, record
from dps.settings import Settings
from tests.helpers import seal_audit_log


async def test_health_reports_each_part_ok(client, db, clock, smtp_server):
    await seal_audit_log(db, clock.now())
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "search": "ok",
                               "search_index_lag": {"pending": 0, "oldest_pending_at": None},
                               "audit_sealing": "ok", "smtp": "ok", "stripe": "off",
                               "outbox": {"backlog": "ok", "dead_letters": 0}}


async def test_health_is_degraded_while_the_audit_log_goes_unsealed_for_over_a_minute(client, db, clock,
                                                                                        smtp_server):
    await seal_audit_log(db, clock.now())
    await record(db, actor=Actor.system("test"), action="thing.changed", entity_type="thing", entity_id=1,
                 now=clock.now())
    await db.commit()

    clock.advance(timedelta(seconds=60))
    fresh = (await client.get("/health")).json()
    assert (fresh["status"], fresh["audit_sealing"]) == ("ok", "ok")

    clock.advance(timedelta(seconds=1))
    stale = await client.get("/health")
    assert stale.status_code == 200  # still serving: degraded, not down
    assert (stale.json()["status"], stale.json()["audit_sealing"]) == ("degraded", "behind")

    await seal_audit_log(db, clock.now())
    sealed = (await client.get("/health")).json()
    assert (sealed["status"], sealed["audit_sealing"]) == ("ok", "ok")


async def test_health_names_a_database_that_is_down(tmp_path):
    missing = tmp_path / "no-such-folder" / "dps.db"
    settings = Settings.from_env({"DPS_ENV": "test", "DATABASE_URL": f"sqlite:///{missing}",
                                  "DPS_VAR_DIR": str(tmp_path)})
    async with AsyncTestClient(app=create_app(settings)) as client:
        response = await client.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert {key: body[key] for key in ("status", "database", "search", "search_index_lag", "audit_sealing",
                                       "outbox")} == {
        "status": "unavailable", "database": "unavailable", "search": "ok", "search_index_lag": None,
        "audit_sealing": None, "outbox": None}


async def test_health_names_a_search_engine_that_is_down(settings, free_port, tmp_path):
    settings = Settings.from_env({
        "DPS_ENV": "test", "DATABASE_URL": settings.database_url, "DPS_VAR_DIR": str(tmp_path),
        "SEARCH_BACKEND": "meilisearch", "MEILISEARCH_URL": f"http://127.0.0.1:{free_port}",
    })
    async with AsyncTestClient(app=create_app(settings)) as client:
        response = await client.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert {key: body[key] for key in ("status", "database", "search", "search_index_lag")} == {
        "status": "unavailable", "database": "ok", "search": "unavailable",
        "search_index_lag": {"pending": 0, "oldest_pending_at": None}}


async def test_a_healthy_answer_is_kept_fifteen_seconds_and_a_failure_is_asked_again_every_time():
    from datetime import UTC, datetime, timedelta

    from dps.web.health import remembered_if_ok

    answers = iter(["ok", "unavailable", "unavailable", "ok"])
    asked: list[datetime] = []
    start = datetime(2026, 6, 1, 9, tzinfo=UTC)

    async def probe_at(at: datetime) -> str:
        async def probe() -> str:
            asked.append(at)
            return next(answers)
        return await remembered_if_ok(kept, "smtp", at, probe)

    kept: dict[str, datetime] = {}
    assert await probe_at(start) == "ok"
    assert await probe_at(start + timedelta(seconds=14)) == "ok"  # kept: not asked
    assert await probe_at(start + timedelta(seconds=15)) == "unavailable"
    assert await probe_at(start + timedelta(seconds=16)) == "unavailable"  # a failure is never kept
    assert await probe_at(start + timedelta(seconds=17)) == "ok"
    assert asked == [start + timedelta(seconds=s) for s in (0, 15, 16, 17)]
