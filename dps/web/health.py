"""Health of the parts the marketplace depends on: the database, the search engine and the audit sealer.

An audit tail (committed events not yet sealed into the hash chain) older than `AUDIT_TAIL_LIMIT` makes the
status "degraded": the marketplace still works, but its sealer is stopped or held back by a long transaction.

The search checks come from the composition root (`dps.wiring.HEALTH_CHECKS`), so this module knows no adapter.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from dps.settings import Settings

CHECK_TIMEOUT_SECONDS = 3
AUDIT_TAIL_LIMIT = timedelta(seconds=60)


@dataclass(frozen=True)
class IndexLagReport:
    """Index changes waiting in the outbox, and since when: how far search is behind the database."""

    pending: int
    oldest_pending_at: datetime | None


@dataclass(frozen=True)
class AuditTailReport:
    """Audit events committed but not sealed into the chain yet, and when the oldest of them happened."""

    unsealed: int
    oldest_unsealed_at: datetime | None


@dataclass(frozen=True)
class HealthChecks:
    search: Callable[[Settings], Awaitable[bool]]
    search_index_lag: Callable[[AsyncSession], Awaitable[IndexLagReport]]
    audit_tail: Callable[[AsyncSession], Awaitable[AuditTailReport]]


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


async def audit_sealing(session: AsyncSession, checks: HealthChecks, now: datetime) -> str | None:
    """"ok", or "behind" when the oldest unsealed audit event is older than AUDIT_TAIL_LIMIT. Only the state: the
    page is public, and a count or a time of the latest events would tell anyone that something (a bid) happened.
    `dps audit verify` gives the operator the count and the age."""
    try:
        tail = await asyncio.wait_for(checks.audit_tail(session), timeout=CHECK_TIMEOUT_SECONDS)
    except Exception:  # the database is down: the database check says so
        return None
    behind = tail.oldest_unsealed_at is not None and now - tail.oldest_unsealed_at > AUDIT_TAIL_LIMIT
    return "behind" if behind else "ok"


async def check_health(session: AsyncSession, settings: Settings, checks: HealthChecks,
                       now: datetime) -> tuple[dict[str, Any], bool]:
    """The report, and whether the marketplace can serve (a degraded one can: only an unavailable part fails)."""
    database_ok, search_ok = await asyncio.gather(check_database(session), check_search(settings, checks))
    sealing = await audit_sealing(session, checks, now) if database_ok else None
    serving = database_ok and search_ok
    status = "unavailable" if not serving else "degraded" if sealing == "behind" else "ok"
    report: dict[str, Any] = {
        "status": status,
        "database": "ok" if database_ok else "unavailable",
        "search": "ok" if search_ok else "unavailable",
        "search_index_lag": await search_index_lag(session, checks) if database_ok else None,
        "audit_sealing": sealing,
    }
    return report, serving
