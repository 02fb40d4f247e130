"""Health of the parts the marketplace depends on: the database and the search engine.

The search checks come from the composition root (`dps.wiring.HEALTH_CHECKS`), so this module knows no adapter.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from dps.settings import Settings

CHECK_TIMEOUT_SECONDS = 3


@dataclass(frozen=True)
class IndexLagReport:
    """Index changes waiting in the outbox, and since when: how far search is behind the database."""

    pending: int
    oldest_pending_at: datetime | None


@dataclass(frozen=True)
class HealthChecks:
    search: Callable[[Settings], Awaitable[bool]]
    search_index_lag: Callable[[AsyncSession], Awaitable[IndexLagReport]]


async def check_database(session: AsyncSession) -> bool:
    try:
        await asyncio.wait_for(session.execute(sa.text("SELECT 1")), timeout=CHECK_TIMEOUT_SECONDS)
        return True
    except Exception:  # any failure means "down"; the reason goes to the log, not the caller
        return False


async def check_search(settings: Settings, checks: HealthChecks) -> bool:
    """Ask the configured search adapter (embedded: its Tantivy index opens and searches; Meilisearch: /health)."""
    try:
        return await asyncio.wait_for(checks.search(settings), timeout=CHECK_TIMEOUT_SECONDS)
    except Exception:  # any failure means "down"
        return False


async def search_index_lag(session: AsyncSession, checks: HealthChecks) -> dict[str, Any] | None:
    try:
        lag = await asyncio.wait_for(checks.search_index_lag(session), timeout=CHECK_TIMEOUT_SECONDS)
    except Exception:  # the database is down: the database check says so
        return None
    return {"pending": lag.pending,
            "oldest_pending_at": lag.oldest_pending_at.isoformat() if lag.oldest_pending_at else None}


async def check_health(session: AsyncSession, settings: Settings, checks: HealthChecks) -> tuple[dict[str, Any], bool]:
    database_ok, search_ok = await asyncio.gather(check_database(session), check_search(settings, checks))
    report: dict[str, Any] = {
        "status": "ok" if database_ok and search_ok else "unavailable",
        "database": "ok" if database_ok else "unavailable",
        "search": "ok" if search_ok else "unavailable",
        "search_index_lag": await search_index_lag(session, checks) if database_ok else None,
    }
    return report, database_ok and search_ok
