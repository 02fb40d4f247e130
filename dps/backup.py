"""Backups of the whole database: `pg_dump` / `pg_restore` on PostgreSQL, SQLite's online backup API on SQLite.

Both copy a consistent snapshot while the marketplace keeps running. A restore replaces everything in the target
database with the backup's contents; `dps audit verify` then shows the audit chain came back whole."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url


class BackupFailed(Exception):
    """The tool or the file said no; the message says why."""


def _sqlite_path(database_url: str) -> Path:
    database = make_url(database_url).database
    if not database or database == ":memory:":
        raise BackupFailed("an in-memory SQLite database cannot be backed up")
    return Path(database)


def _postgres(database_url: str) -> tuple[str, dict[str, str]]:
    """A libpq URL without its password (kept out of the process list) and the environment that carries it."""
    url = make_url(database_url).set(drivername="postgresql")
    environment = dict(os.environ)
    if url.password:
        environment["PGPASSWORD"] = str(url.password)
        url = url.set(password=None)
    return url.render_as_string(hide_password=False), environment


def _run(command: list[str], environment: dict[str, str]) -> None:
    try:
        done = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
    except FileNotFoundError as error:
        raise BackupFailed(f"{command[0]} is not installed (it comes with the PostgreSQL client tools)") from error
    if done.returncode != 0:
        raise BackupFailed(f"{command[0]} failed: {done.stderr.strip()[-2000:]}")


def backup_database(database_url: str, path: Path) -> int:
    """Write a consistent copy of the database to `path` (replaced whole, never left half written); returns its
    size in bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    if database_url.startswith("sqlite"):
        source = sqlite3.connect(_sqlite_path(database_url))
        target = sqlite3.connect(partial)
        try:
            source.backup(target)  # pages copied under SQLite's own locking: writers go on meanwhile
            if target.execute("PRAGMA integrity_check").fetchone() != ("ok",):
                raise BackupFailed("the copy failed SQLite's integrity check")
        finally:
            target.close()
            source.close()
    else:
        url, environment = _postgres(database_url)
        _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", "--file", str(partial),
              "--dbname", url], environment)
    partial.replace(path)
    return path.stat().st_size


def restore_database(database_url: str, path: Path) -> None:
    """Replace the database's contents with the backup at `path` (a file `backup_database` wrote)."""
    if not path.is_file():
        raise BackupFailed(f"there is no backup at {path}")
    if database_url.startswith("sqlite"):
        source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            if source.execute("PRAGMA integrity_check").fetchone() != ("ok",):
                raise BackupFailed(f"{path} is not an intact SQLite database")
            target_path = _sqlite_path(database_url)
            target_path.parent.mkdir(parents=True, exist_ok=True)
            target = sqlite3.connect(target_path)
            try:
                source.backup(target)
            finally:
                target.close()
        except sqlite3.DatabaseError as error:
            raise BackupFailed(f"{path} is not a SQLite backup: {error}") from error
        finally:
            source.close()
        return
    url, environment = _postgres(database_url)
    _run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
          "--exit-on-error", "--dbname", url, str(path)], environment)
