"""PostgreSQL down or restarting: pages answer a 503 page and the API a 503 problem, never a stack trace."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from litestar.testing import AsyncTestClient

from dps.app import create_app
from dps.db import database_unavailable
from dps.settings import Settings
from tests.conftest import POSTGRES_ADMIN_URL
from tests.helpers import pick_free_port

needs_postgres = pytest.mark.skipif(POSTGRES_ADMIN_URL is None, reason="the PostgreSQL leg runs where it is set up")


def unreachable_app(tmp_path):
    port = pick_free_port()  # nothing listens here
    return create_app(Settings.from_env({"DPS_ENV": "test", "DPS_VAR_DIR": str(tmp_path),
                                         "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{port}/dps"}))


@needs_postgres
async def test_a_page_needing_the_database_is_a_503_page_when_it_is_down(tmp_path):
    async with AsyncTestClient(app=unreachable_app(tmp_path), base_url="http://testserver.local") as client:
        response = await client.get("/catalogue/innovations/1")
        assert response.status_code == 503
        assert "Sorry, the service is unavailable" in response.text
        assert "Traceback" not in response.text
        assert response.headers["retry-after"] == "30"


@needs_postgres
async def test_the_api_answers_a_503_problem_when_the_database_is_down(tmp_path):
    async with AsyncTestClient(app=unreachable_app(tmp_path), base_url="http://testserver.local") as client:
        response = await client.get("/api/v1/innovations", headers={"Authorization": "Bearer dpsk_" + "x" * 43})
        assert response.status_code == 503
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["status"] == 503


def test_connection_failures_are_told_apart_from_bugs():
    refused = sa.exc.OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))
    assert database_unavailable(refused)
    assert database_unavailable(ConnectionRefusedError())
    assert database_unavailable(sa.exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached"))
    assert not database_unavailable(sa.exc.IntegrityError("INSERT", {}, Exception("duplicate key")))
    assert not database_unavailable(ValueError("a bug"))
