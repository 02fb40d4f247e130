"""Where a benchmark's data lives: a fresh SQLite file under a work directory, or a PostgreSQL database that the
benchmark creates (and, for throwaway databases, drops)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from dps.settings import Settings

DEFAULT_WORK_DIR = Path("var/bench")  # git-ignored
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True)
class Target:
    """A database plus the var directory that holds the embedded search index (and sessions) beside it."""

    database_url: str  # as a user writes it: sqlite:///path or postgresql://user@host/db
    var_dir: Path

    @classmethod
    def sqlite(cls, work_dir: Path) -> Target:
        work_dir = work_dir.resolve()
        return cls(f"sqlite:///{work_dir / 'dps.db'}", work_dir)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def environment(self, **extra: str) -> dict[str, str]:
        """Environment variables that point the product at this data."""
        return {"DATABASE_URL": self.database_url, "DPS_VAR_DIR": str(self.var_dir), "DPS_ENV": "development",
                **extra}

    def settings(self, environ: Mapping[str, str] | None = None) -> Settings:
        """The product's settings for this data; the rest (the search backend) from the environment."""
        import os

        return Settings.from_env({**os.environ, **(environ or {}), **self.environment()})

    def describe(self) -> str:
        if self.is_sqlite:
            return f"SQLite {self.database_url.removeprefix('sqlite:///')}"
        return f"PostgreSQL {database_name(self.database_url)}"


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def throwaway_name(prefix: str = "dps_bench") -> str:
    return f"{prefix}_{secrets.token_hex(4)}"


async def _admin_connection(admin_url: str):  # an asyncpg connection
    import asyncpg

    return await asyncio.wait_for(asyncpg.connect(admin_url), timeout=5)


async def postgres_answers(admin_url: str) -> str | None:
    """The server version if PostgreSQL answers at `admin_url`, else None."""
    try:
        connection = await _admin_connection(admin_url)
    except Exception:  # any failure means "not available": the caller says so and skips
        return None
    try:
        return str(await connection.fetchval("SHOW server_version"))
    finally:
        await connection.close()


async def create_postgres_database(admin_url: str, name: str) -> str:
    """Create an empty database; returns its URL. Refuses to touch a database that already exists."""
    connection = await _admin_connection(admin_url)
    try:
        if await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            raise SystemExit(f"PostgreSQL database {name} already exists: choose another name or drop it first")
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return with_database(admin_url, name)


async def drop_postgres_database(admin_url: str, name: str) -> None:
    connection = await _admin_connection(admin_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


def fresh_sqlite(target: Target) -> None:
    """Remove the database and search index of an earlier run in this work directory."""
    import shutil

    target.var_dir.mkdir(parents=True, exist_ok=True)
    database = Path(target.database_url.removeprefix("sqlite:///"))
    for path in (database, database.with_name(database.name + "-wal"), database.with_name(database.name + "-shm")):
        path.unlink(missing_ok=True)
    shutil.rmtree(target.var_dir / "search", ignore_errors=True)
    shutil.rmtree(target.var_dir / "sessions", ignore_errors=True)


def database_size(target: Target) -> int | None:
    """Bytes on disk of a SQLite database (with its write-ahead log); None for PostgreSQL."""
    if not target.is_sqlite:
        return None
    database = Path(target.database_url.removeprefix("sqlite:///"))
    return sum(path.stat().st_size for path in (database, database.with_name(database.name + "-wal"))
               if path.exists())
