"""Health of the parts the marketplace depends on: the database, the search engine, the mail server, Stripe, the
outbox and the audit sealer.

The database and the search engine are needed to serve (503 "unavailable" without them). The others make the
status "degraded" (still 200) when they fail: SMTP or Stripe not answering (their messages wait in the outbox and
arrive when they are back), outbox messages due for over `OUTBOX_BACKLOG_LIMIT` (no worker is draining), dead
letters waiting for a person (the authority's dead letters page), or an old unsealed audit tail.

An audit tail (committed events not yet sealed into the hash chain) older than `AUDIT_TAIL_LIMIT` makes the
status "degraded": the marketplace still works, but its sealer is stopped or held back by a long transaction.

The search checks come from the composition root (`dps.wiring.HEALTH_CHECKS`), so this module knows no adapter.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from dps.outbox.services import dead_letter_count, oldest_waiting_due
from dps.settings import Settings

CHECK_TIMEOUT_SECONDS = 3
# A mail server or Stripe that answered is trusted for this long, so a load balancer polling /health does not open
# a connection to each of them every time; one that failed is asked again on every call.
HEALTHY_ANSWER_KEPT = timedelta(seconds=15)
AUDIT_TAIL_LIMIT = timedelta(seconds=60)
OUTBOX_BACKLOG_LIMIT = timedelta(minutes=5)


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


async def check_smtp(settings: Settings) -> str:
    """"ok" when the mail server greets us (SMTP 220), "unavailable" when it does not, "off" when mail is kept in
    the local mailbox only (development without SMTP_URL)."""
    if not settings.smtp_enabled:
        return "off"
    address = urlsplit(settings.smtp_url)
    port = address.port or (465 if address.scheme == "smtps" else 25)

    async def greeted() -> bool:
        reader, writer = await asyncio.open_connection(address.hostname, port, ssl=address.scheme == "smtps")
        try:
            return (await reader.readline()).startswith(b"220")
        finally:
            with contextlib.suppress(Exception):
                writer.write(b"QUIT\r\n")
                await writer.drain()
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    try:
        return "ok" if await asyncio.wait_for(greeted(), timeout=CHECK_TIMEOUT_SECONDS) else "unavailable"
    except Exception:  # refused, reset, timed out: down
        return "unavailable"


async def check_stripe(settings: Settings) -> str:
    """"ok" when Stripe's API answers (any answer below 500), "unavailable" on a 5xx or no answer in time, "off"
    when no STRIPE_SECRET_KEY is set (payments are off)."""
    if not settings.stripe_secret_key:
        return "off"
    try:
        async with httpx.AsyncClient(timeout=CHECK_TIMEOUT_SECONDS) as http:
            response = await http.get(settings.stripe_api_base.rstrip("/") + "/v1/balance",
                                      headers={"Authorization": f"Bearer {settings.stripe_secret_key}"})
    except Exception:  # refused, timed out: down
        return "unavailable"
    return "ok" if response.status_code < 500 else "unavailable"


async def outbox_state(session: AsyncSession, now: datetime) -> dict[str, Any] | None:
    """The outbox's backlog ("ok", or "behind" when a message has been due for over OUTBOX_BACKLOG_LIMIT: no worker
    drains it) and its dead letters (failed every attempt; the authority's dead letters page lists them)."""
    try:
        oldest_due = await asyncio.wait_for(oldest_waiting_due(session), timeout=CHECK_TIMEOUT_SECONDS)
        dead = await asyncio.wait_for(dead_letter_count(session), timeout=CHECK_TIMEOUT_SECONDS)
    except Exception:  # the database is down: the database check says so
        return None
    behind = oldest_due is not None and now - oldest_due > OUTBOX_BACKLOG_LIMIT
    return {"backlog": "behind" if behind else "ok", "dead_letters": dead}


async def remembered_if_ok(healthy_until: dict[str, datetime], name: str, now: datetime,
                           probe: Callable[[], Awaitable[str]]) -> str:
    """The probe's answer; an "ok" is kept for HEALTHY_ANSWER_KEPT in `healthy_until` (one per app), anything else
    is not kept, so a part that is down is seen to come back at the next call."""
    if now < healthy_until.get(name, now):
        return "ok"
    state = await probe()
    if state == "ok":
        healthy_until[name] = now + HEALTHY_ANSWER_KEPT
    else:
        healthy_until.pop(name, None)
    return state


async def check_health(session: AsyncSession, settings: Settings, checks: HealthChecks,
                       now: datetime, healthy_until: dict[str, datetime]) -> tuple[dict[str, Any], bool]:
    """The report, and whether the marketplace can serve (a degraded one can: only an unavailable part fails)."""
    database_ok, search_ok, smtp, stripe = await asyncio.gather(
        check_database(session), check_search(settings, checks),
        remembered_if_ok(healthy_until, "smtp", now, lambda: check_smtp(settings)),
        remembered_if_ok(healthy_until, "stripe", now, lambda: check_stripe(settings)))
    sealing = await audit_sealing(session, checks, now) if database_ok else None
    outbox = await outbox_state(session, now) if database_ok else None
    serving = database_ok and search_ok
    degraded = (sealing == "behind" or "unavailable" in (smtp, stripe)
                or (outbox is not None and (outbox["backlog"] == "behind" or outbox["dead_letters"] > 0)))
    status = "unavailable" if not serving else "degraded" if degraded else "ok"
    report: dict[str, Any] = {
        "status": status,
        "database": "ok" if database_ok else "unavailable",
        "search": "ok" if search_ok else "unavailable",
        "search_index_lag": await search_index_lag(session, checks) if database_ok else None,
        "audit_sealing": sealing,
        "smtp": smtp,
        "stripe": stripe,
        "outbox": outbox,
    }
    return report, serving
