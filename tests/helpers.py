"""Helpers the tests share: sign in through the real form, read the CSRF token, read what the app committed.
The data a test arranges is built with tests/factories.py."""

from __future__ import annotations

import socket
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
