"""OCDS bulk files: every release of a calendar year in one gzipped JSON Lines file, for a data user who wants the
whole publication at once (`/api/v1/ocds/bulk/{year}.jsonl.gz`, listed at `/api/v1/ocds/bulk`).

The daily jobs rebuild them (`rebuild_bulk_files`): the releases are grouped by the year of their date (UTC), and a
year's file is written again only when its content changed, so its ETag and Last-Modified move only then. Each file
and the index are written to a temporary file in the same folder and renamed over the old one, so a reader never
sees half a file. The gzip stream carries no time or name, so the same releases always make the same bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any

from dps.settings import Settings
from dps.transparency import ocds
from dps.transparency.services import all_releases

INDEX_NAME = "index.json"
FILE_NAME = re.compile(r"^(\d{4})\.jsonl\.gz$")
MEDIA_TYPE = "application/gzip"


@dataclass(frozen=True)
class BulkFile:
    year: int
    releases: int
    size: int  # bytes of the gzipped file
    content_sha256: str  # of the uncompressed lines: what decides whether the year changed
    last_modified: datetime  # when this content was first written (whole seconds, as HTTP dates carry)

    @property
    def name(self) -> str:
        return file_name(self.year)

    @property
    def etag(self) -> str:
        return f'"{self.content_sha256[:32]}"'

    def to_json(self) -> dict[str, Any]:
        return {"year": self.year, "releases": self.releases, "size": self.size,
                "content_sha256": self.content_sha256, "last_modified": ocds.iso(self.last_modified)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BulkFile:
        return cls(year=int(data["year"]), releases=int(data["releases"]), size=int(data["size"]),
                   content_sha256=str(data["content_sha256"]), last_modified=ocds.parse_iso(data["last_modified"]))


def file_name(year: int) -> str:
    return f"{year}.jsonl.gz"


def year_of_file(name: str) -> int | None:
    """The year a bulk file's name stands for ("2026.jsonl.gz" -> 2026), or None for any other name."""
    match = FILE_NAME.fullmatch(name)
    return int(match.group(1)) if match else None


# --- pure: from releases to the lines of each year's file ---------------------------------------------------


def releases_by_year(releases: Iterable[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    """The releases grouped by the calendar year of their date (UTC), each year in date order (then id)."""
    years: dict[int, list[dict[str, Any]]] = {}
    for release in releases:
        years.setdefault(ocds.parse_iso(release["date"]).astimezone(UTC).year, []).append(release)
    return {year: sorted(items, key=lambda r: (r["date"], r["id"])) for year, items in sorted(years.items())}


def json_lines(releases: list[dict[str, Any]]) -> bytes:
    """One release per line, compact, keys in a fixed order, UTF-8."""
    return b"".join(json.dumps(release, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode() + b"\n"
                    for release in releases)


def gzipped(content: bytes) -> bytes:
    """gzip with no file name and a zero time in its header: the same content always gives the same bytes."""
    return gzip.compress(content, compresslevel=9, mtime=0)


# --- the stored files -----------------------------------------------------------------------------------------


def bulk_dir(settings: Settings) -> Path:
    return Path(settings.var_dir) / "ocds-bulk"


def read_index(directory: Path) -> dict[int, BulkFile]:
    """The files the last rebuild wrote, by year; none if nothing was built yet."""
    try:
        data = json.loads((directory / INDEX_NAME).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    return {int(item["year"]): BulkFile.from_json(item) for item in data.get("files", [])}


def bulk_files(settings: Settings) -> list[BulkFile]:
    """The built files whose file is there, oldest year first."""
    directory = bulk_dir(settings)
    return [entry for year, entry in sorted(read_index(directory).items())
            if (directory / file_name(year)).is_file()]


def bulk_file(settings: Settings, year: int) -> tuple[BulkFile, Path] | None:
    directory = bulk_dir(settings)
    entry = read_index(directory).get(year)
    path = directory / file_name(year)
    if entry is None or not path.is_file():
        return None
    return entry, path


def write_atomically(path: Path, content: bytes) -> None:
    """Write to a temporary file beside `path`, flush it to disk, then rename it over `path` (readable by all)."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            os.fchmod(stream.fileno(), 0o644)  # mkstemp makes it private; the files are published
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _write_index(directory: Path, files: dict[int, BulkFile]) -> None:
    body = {"files": [files[year].to_json() for year in sorted(files)]}
    write_atomically(directory / INDEX_NAME, json.dumps(body, indent=1).encode())


def store_bulk_files(directory: Path, releases: list[dict[str, Any]], now: datetime,
                     progress: Callable[[int, int], None] | None = None) -> int:
    """Write the file of every year whose releases changed since the last build (and drop years with none left);
    returns how many files were written. `progress(done, total)` after each year."""
    directory.mkdir(parents=True, exist_ok=True)
    before = read_index(directory)
    built_at = now.astimezone(UTC).replace(microsecond=0)
    years = releases_by_year(releases)
    after: dict[int, BulkFile] = {}
    written = 0
    for done, (year, items) in enumerate(years.items(), start=1):
        content = json_lines(items)
        digest = hashlib.sha256(content).hexdigest()
        path = directory / file_name(year)
        known = before.get(year)
        if known is not None and known.content_sha256 == digest and path.is_file():
            after[year] = known
        else:
            compressed = gzipped(content)
            write_atomically(path, compressed)
            after[year] = BulkFile(year=year, releases=len(items), size=len(compressed), content_sha256=digest,
                                   last_modified=built_at)
            written += 1
        if progress:
            progress(done, len(years))
    if after != before:
        _write_index(directory, after)
    for year in set(before) - set(after):
        with contextlib.suppress(FileNotFoundError):
            (directory / file_name(year)).unlink()
    return written


async def rebuild_bulk_files(sessions: Any, settings: Settings, now: datetime,
                             progress: Callable[[int, int], None] | None = None) -> int:
    """The daily job: rebuild the bulk files of the years that changed. Returns how many files were written."""
    async with sessions() as session:
        releases = await all_releases(session, settings)
    return await asyncio.to_thread(store_bulk_files, bulk_dir(settings), releases, now, progress)


# --- pure: conditional requests (RFC 9110 section 13) ---------------------------------------------------------


def _etags(header: str) -> list[str]:
    return [tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()]


def not_modified(entry: BulkFile, if_none_match: str | None, if_modified_since: str | None) -> bool:
    """Whether a GET with these headers is answered 304: If-None-Match names the file's ETag (weakly compared) or is
    `*`; only without If-None-Match, If-Modified-Since is a valid HTTP date not before the file's Last-Modified."""
    if if_none_match is not None:
        tags = _etags(if_none_match)
        return "*" in tags or entry.etag in tags
    if not if_modified_since:
        return False
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError, IndexError, OverflowError):
        return False
    if since is None or since.tzinfo is None:
        return False
    return entry.last_modified <= since


def http_date(instant: datetime) -> str:
    return format_datetime(instant.astimezone(UTC), usegmt=True)
