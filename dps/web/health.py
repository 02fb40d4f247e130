"""Health of the parts the marketplace depends on: the database and the search engine."""

from __future__ import annotations

import asyncio
import sqlite3

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from dps.settings import Settings


async def check_database(session: AsyncSession) -> bool:
    try:
        await asyncio.wait_for(session.execute(sa.text("SELECT 1")), timeout=3)
        return True
    except Exception:  # noqa: BLE001 - any failure means "down"; the reason goes to the log, not the caller
        return False


async def check_search(settings: Settings) -> bool:
    if settings.search_backend == "meilisearch":
        try:
            async with httpx.AsyncClient(timeout=2) as client:
                response = await client.get(f"{settings.meilisearch_url}/health")
            return response.status_code == 200
        except httpx.HTTPError:
            return False
    # Embedded search needs SQLite's FTS5 module and a writable index folder.
    try:
        with sqlite3.connect(":memory:") as connection:
            connection.execute("CREATE VIRTUAL TABLE probe USING fts5(body)")
        settings.var_dir.mkdir(parents=True, exist_ok=True)
        return True
    except (sqlite3.Error, OSError):
        return False


async def check_health(session: AsyncSession, settings: Settings) -> tuple[dict[str, str], bool]:
    database_ok, search_ok = await asyncio.gather(check_database(session), check_search(settings))
    report = {
        "status": "ok" if database_ok and search_ok else "unavailable",
        "database": "ok" if database_ok else "unavailable",
        "search": "ok" if search_ok else "unavailable",
    }
    return report, database_ok and search_ok
