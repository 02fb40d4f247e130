"""Health of the parts the marketplace depends on: the database and the search engine."""

from __future__ import annotations

import asyncio
from typing import Any

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
    """Ask the configured search adapter (embedded: its index file answers; Meilisearch: /health)."""
    from catalogue.search import search_index_for

    try:
        return bool(await asyncio.wait_for(search_index_for(settings).health(), timeout=3))
    except Exception:  # noqa: BLE001 - any failure means "down"
        return False


async def search_index_lag(session: AsyncSession) -> dict[str, Any] | None:
    """Index changes waiting in the outbox and since when: how far search is behind the database."""
    from catalogue.services import index_lag

    try:
        lag = await asyncio.wait_for(index_lag(session), timeout=3)
    except Exception:  # noqa: BLE001 - the database is down: the database check says so
        return None
    return {"pending": lag.pending,
            "oldest_pending_at": lag.oldest_pending_at.isoformat() if lag.oldest_pending_at else None}


async def check_health(session: AsyncSession, settings: Settings) -> tuple[dict[str, Any], bool]:
    database_ok, search_ok = await asyncio.gather(check_database(session), check_search(settings))
    report: dict[str, Any] = {
        "status": "ok" if database_ok and search_ok else "unavailable",
        "database": "ok" if database_ok else "unavailable",
        "search": "ok" if search_ok else "unavailable",
        "search_index_lag": await search_index_lag(session) if database_ok else None,
    }
    return report, database_ok and search_ok
