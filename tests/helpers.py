"""Helpers the tests share: sign in through the real form, read the CSRF token, read what the app committed.
The data a test arranges is built with tests/factories.py."""

from __future__ import annotations

import asyncio
import socket
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

PASSWORD = "correct-horse-battery"  # every user a factory makes has it


async def scalar(db: AsyncSession, statement: Any) -> Any:
    """Run a read and end its transaction at once: the next read sees what the app committed since."""
    value = await db.scalar(statement)
    await db.commit()
    return value


async def count_rows(db: AsyncSession, model: Any) -> int:
    return int(await scalar(db, sa.select(sa.func.count()).select_from(model)))


async def seal_audit_log(db: AsyncSession, now: datetime, patience_seconds: float = 60) -> int:
    """Seal every audit event committed so far into the hash chain, as the worker's sealer does; returns how many.

    On PostgreSQL the sealer's watermark is the oldest transaction still running on the whole server, so a
    transaction of another database (another test run sharing the server) holds it back for a moment: the
    helper retries until every event committed before the call is sealed."""
    from dps.audit.models import AuditEvent
    from dps.audit.sealing import seal_round

    await db.commit()  # the test's own transaction must not hold the watermark back
    committed = await scalar(db, sa.select(sa.func.max(AuditEvent.id)).where(AuditEvent.sequence.is_(None)))
    sealed = 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience_seconds
    while committed is not None:
        sealed += await seal_round(db, now)
        left = await scalar(db, sa.select(sa.func.count()).where(AuditEvent.sequence.is_(None),
                                                                 AuditEvent.id <= committed))
        if not left:
            break
        if loop.time() > deadline:
            raise AssertionError(f"{left} committed audit events still unsealed after {patience_seconds} s")
        await asyncio.sleep(0.05)  # another transaction on the server is still under way
    return sealed


def set_cookie(client: AsyncTestClient[Any], name: str, value: str) -> None:
    client.cookies.set(name, value, domain="testserver.local")


async def csrf_token(client: AsyncTestClient[Any], path: str = "/login") -> str:
    """Load a page so the CSRF cookie is set, and return the token forms must send back."""
    response = await client.get(path)
    assert response.status_code in (200, 303), response.text
    token = client.cookies.get("csrftoken")
    assert token, "no CSRF cookie was set"
    return token


async def sign_in(client: AsyncTestClient[Any], email: str, password: str = PASSWORD, next_path: str = "") -> Any:
    token = await csrf_token(client)
    return await client.post(
        "/login", data={"email": email, "password": password, "next": next_path, "_csrf_token": token}
    )


async def post_form(client: AsyncTestClient[Any], path: str, data: dict[str, str], form_page: str | None = None) -> Any:
    token = await csrf_token(client, form_page or path)
    return await client.post(path, data={**data, "_csrf_token": token})


def pick_free_port() -> int:
    """A TCP port nothing listens on now, for a server a test starts."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
