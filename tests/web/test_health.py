from __future__ import annotations

from litestar.testing import AsyncTestClient

from dps.app import create_app
from dps.settings import Settings


async def test_health_reports_each_part_ok(client):
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "search": "ok",
                               "search_index_lag": {"pending": 0, "oldest_pending_at": None}}


async def test_health_names_a_database_that_is_down(tmp_path):
    missing = tmp_path / "no-such-folder" / "dps.db"
    settings = Settings.from_env({"DPS_ENV": "test", "DATABASE_URL": f"sqlite:///{missing}",
                                  "DPS_VAR_DIR": str(tmp_path)})
    async with AsyncTestClient(app=create_app(settings)) as client:
        response = await client.get("/health")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "unavailable", "search": "ok",
                               "search_index_lag": None}


async def test_health_names_a_search_engine_that_is_down(settings, free_port, tmp_path):
    settings = Settings.from_env({
        "DPS_ENV": "test", "DATABASE_URL": settings.database_url, "DPS_VAR_DIR": str(tmp_path),
        "SEARCH_BACKEND": "meilisearch", "MEILISEARCH_URL": f"http://127.0.0.1:{free_port}",
    })
    async with AsyncTestClient(app=create_app(settings)) as client:
        response = await client.get("/health")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "ok", "search": "unavailable",
                               "search_index_lag": {"pending": 0, "oldest_pending_at": None}}
