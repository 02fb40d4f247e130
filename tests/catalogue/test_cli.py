"""`dps api-key create` and `dps reindex`, run as real processes against the test database."""

from __future__ import annotations

from tests.catalogue.support import published_listing, signed_in_supplier
from tests.test_cli import run_dps


async def test_api_key_create_prints_the_key_once_and_it_works(database_url, tmp_path, client):
    env = {"DATABASE_URL": database_url, "DPS_VAR_DIR": str(tmp_path)}
    result = run_dps("api-key", "create", "Analytics team", "--rate-limit", "30", env=env)
    assert result.returncode == 0, result.stderr
    secret = result.stdout.strip().splitlines()[-1]
    assert secret.startswith("dpsk_")
    response = await client.get("/api/v1/innovations", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200


async def test_reindex_rebuilds_with_a_progress_report(client, db, passwords, clock, settings):
    await signed_in_supplier(client, db, passwords, clock)
    listing_id = await published_listing(client, db)
    env = {"DATABASE_URL": settings.database_url, "DPS_VAR_DIR": str(settings.var_dir)}
    result = run_dps("reindex", env=env)
    assert result.returncode == 0, result.stderr
    assert "1 listings" in result.stdout
    again = run_dps("reindex", "--if-empty", env=env)  # what `make run` asks: the index holds the listing
    assert again.returncode == 0, again.stderr
    assert "already holds listings: not rebuilt" in again.stdout
    key = run_dps("api-key", "create", "Reader", env=env).stdout.strip().splitlines()[-1]
    found = await client.get("/api/v1/innovations", params={"q": "wearable"},
                             headers={"Authorization": f"Bearer {key}"})
    assert [item["id"] for item in found.json()["data"]] == [listing_id]


def test_reindex_that_cannot_read_the_listings_says_why_and_changes_nothing(tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}", "DPS_VAR_DIR": str(tmp_path)}  # no tables
    result = run_dps("reindex", env=env)
    assert result.returncode == 1
    assert "no such table: listing" in result.stderr
    assert "The search index is unchanged." in result.stderr
    assert "Traceback" not in result.stderr


async def test_reindex_if_empty_fills_an_index_that_holds_nothing(client, db, passwords, clock, settings):
    await signed_in_supplier(client, db, passwords, clock)
    await published_listing(client, db)  # the outbox is not drained: the index holds nothing yet
    env = {"DATABASE_URL": settings.database_url, "DPS_VAR_DIR": str(settings.var_dir)}
    result = run_dps("reindex", "--if-empty", env=env)
    assert result.returncode == 0, result.stderr
    assert "1 listings" in result.stdout
