"""OCDS bulk files: built by the daily jobs from competitions made through the services, downloaded through the API,
every release valid OCDS (libcoveocds, offline); ETag, Last-Modified and 304; open data without a key; 404s."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

from dps.db import make_engine, make_sessionmaker
from dps.transparency import bulk, services
from dps.wiring import run_daily_jobs
from tests.factories import make_competition_world, make_published_competition
from tests.transparency.support import assert_valid, awarded_competition

ONE_YEAR = [{"id": "x-2026-b", "date": "2026-03-01T10:00:00Z"}, {"id": "x-2026-a", "date": "2026-03-01T10:00:00Z"},
            {"id": "x-2025", "date": "2025-12-31T23:59:59Z"}, {"id": "x-2026-c", "date": "2026-01-01T00:00:00+00:00"}]

LATER_IN_2026 = {"clarification_deadline-month": "11", "tender_deadline-month": "11", "contract_starts_on-year": "2027",
                 "contract_ends_on-year": "2028"}


async def _run_jobs(settings: Any, now: datetime) -> dict[str, int]:
    engine = make_engine(settings.database_url)
    try:
        return await run_daily_jobs(make_sessionmaker(engine), now, settings)
    finally:
        await engine.dispose()


def _lines(content: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in gzip.decompress(content).decode().splitlines()]


async def test_bulk_files_hold_every_release_by_year_valid_ocds_with_etags(client, db, passwords, clock, settings):
    before = await client.get("/api/v1/ocds/bulk")
    assert before.status_code == 200 and before.json()["data"] == []
    unbuilt = await client.get("/api/v1/ocds/bulk/2026.jsonl.gz")
    assert unbuilt.status_code == 404 and unbuilt.headers["content-type"].startswith("application/problem+json")
    assert unbuilt.json()["type"].endswith("not-found") and unbuilt.json()["status"] == 404

    clock.set(datetime(2025, 12, 22, 9, 0, tzinfo=UTC))  # published in 2025, awarded and contracted in 2026
    world, _ = await awarded_competition(db, passwords, clock)
    built_at = clock.now() + timedelta(hours=2, microseconds=123)
    done = await _run_jobs(settings, built_at)
    assert done["ocds_bulk_files_written"] == 2

    listing = await client.get("/api/v1/ocds/bulk")  # no key: open data
    assert listing.status_code == 200 and int(listing.headers["ratelimit-remaining"]) >= 0
    files = listing.json()["data"]
    assert [f["year"] for f in files] == [2025, 2026]
    assert files[1]["url"] == f"{settings.base_url}/api/v1/ocds/bulk/2026.jsonl.gz"
    assert files[1]["last_modified"] == built_at.replace(microsecond=0).isoformat().replace("+00:00", "Z")

    every_release = (await client.get("/api/v1/ocds/releases")).json()["releases"]
    downloaded: list[dict[str, Any]] = []
    for listed in files:
        response = await client.get(f"/api/v1/ocds/bulk/{listed['year']}.jsonl.gz")
        assert response.status_code == 200 and response.headers["content-type"] == "application/gzip"
        assert len(response.content) == listed["size_bytes"]
        assert response.headers["last-modified"] == format_datetime(built_at.replace(microsecond=0), usegmt=True)
        releases = _lines(response.content)
        assert len(releases) == listed["release_count"]
        assert {r["date"][:4] for r in releases} == {str(listed["year"])}
        assert_valid(services.package(releases, settings, uri=listed["url"], published_at=built_at))
        downloaded.extend(releases)
    assert [r["tag"] for r in downloaded] == [["tender"], ["award"], ["contract"]]
    assert downloaded == every_release

    # Conditional requests: the ETag or the date held answers 304 with no body, while nothing changed.
    path = "/api/v1/ocds/bulk/2026.jsonl.gz"
    first = await client.get(path)
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    for headers in ({"If-None-Match": etag}, {"If-None-Match": f'"other", W/{etag}'}, {"If-None-Match": "*"},
                    {"If-Modified-Since": modified}):
        again = await client.get(path, headers=headers)
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag, headers
    for headers in ({"If-None-Match": '"an-old-copy"'}, {"If-Modified-Since": "Sat, 17 Jan 2026 02:00:03 GMT"},
                    {"If-Modified-Since": "not a date"},
                    {"If-None-Match": '"an-old-copy"', "If-Modified-Since": modified}):
        assert (await client.get(path, headers=headers)).status_code == 200, headers

    # A later run with nothing new writes nothing: the ETag and the date stay.
    assert (await _run_jobs(settings, built_at + timedelta(days=1)))["ocds_bulk_files_written"] == 0
    assert (await client.get(path, headers={"If-None-Match": etag})).status_code == 304

    # A competition published in 2026 changes 2026's file only.
    clock.set(built_at + timedelta(days=2))
    await make_published_competition(db, clock, world=world, title="Remote monitoring pilot", **LATER_IN_2026)
    rebuilt_at = clock.now() + timedelta(hours=1)
    assert (await _run_jobs(settings, rebuilt_at))["ocds_bulk_files_written"] == 1
    changed = await client.get(path, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert changed.headers["last-modified"] == format_datetime(rebuilt_at.replace(microsecond=0), usegmt=True)
    assert [r["tag"] for r in _lines(changed.content)] == [["award"], ["contract"], ["tender"]]
    old_year = await client.get("/api/v1/ocds/bulk/2025.jsonl.gz", headers={"If-Modified-Since": modified})
    assert old_year.status_code == 304
    assert [f["release_count"] for f in (await client.get("/api/v1/ocds/bulk")).json()["data"]] == [1, 3]

    for missing in ("1999.jsonl.gz", "2026.json", "2026", "index.json", ".2026.jsonl.gz.tmp", "..%2Findex.json",
                    "2026.jsonl.gz/index.json"):
        answer = await client.get(f"/api/v1/ocds/bulk/{missing}")
        assert answer.status_code == 404 and answer.json()["type"].endswith("not-found"), missing
    refused = await client.get(path, headers={"Authorization": "Bearer dpsk_not-a-real-key"})
    assert refused.status_code == 401
    unknown = await client.get(path, params={"page": "2"})
    assert unknown.status_code == 400 and unknown.json()["invalid_params"][0]["name"] == "page"


async def test_a_year_with_no_releases_left_loses_its_file(db, passwords, clock, settings, client):
    world = await make_competition_world(db, passwords, clock)
    await make_published_competition(db, clock, world=world)
    assert (await _run_jobs(settings, clock.now()))["ocds_bulk_files_written"] == 1
    directory = bulk.bulk_dir(settings)
    bulk.store_bulk_files(directory, [], clock.now())
    assert not (directory / "2026.jsonl.gz").exists() and bulk.read_index(directory) == {}
    assert (await client.get("/api/v1/ocds/bulk/2026.jsonl.gz")).status_code == 404


def test_releases_are_grouped_by_the_utc_year_of_their_date_in_date_then_id_order():
    years = bulk.releases_by_year(ONE_YEAR)
    assert {year: [r["id"] for r in items] for year, items in years.items()} == {
        2025: ["x-2025"], 2026: ["x-2026-c", "x-2026-a", "x-2026-b"]}
    an_hour_ahead_of_utc = [{"id": "y", "date": "2026-01-01T00:30:00+01:00"}]  # 2025-12-31T23:30Z
    assert list(bulk.releases_by_year(an_hour_ahead_of_utc)) == [2025]


def test_the_same_releases_always_make_the_same_bytes():
    content = bulk.json_lines(ONE_YEAR)
    assert bulk.gzipped(content) == bulk.gzipped(bulk.json_lines([dict(reversed(r.items())) for r in ONE_YEAR]))
    assert content.count(b"\n") == 4 and gzip.decompress(bulk.gzipped(content)) == content


def test_not_modified_follows_rfc_9110():
    entry = bulk.BulkFile(year=2026, releases=1, size=10, content_sha256="ab" * 32,
                          last_modified=datetime(2026, 1, 17, 2, 0, 3, tzinfo=UTC))
    same = "Sat, 17 Jan 2026 02:00:03 GMT"
    assert bulk.not_modified(entry, entry.etag, None)
    assert bulk.not_modified(entry, f"W/{entry.etag}", None)
    assert bulk.not_modified(entry, f'"a", {entry.etag}', None)
    assert bulk.not_modified(entry, "*", None)
    assert not bulk.not_modified(entry, '"a"', same)  # If-None-Match wins over If-Modified-Since
    assert not bulk.not_modified(entry, "", same)
    assert bulk.not_modified(entry, None, same)
    assert bulk.not_modified(entry, None, "Sun, 18 Jan 2026 00:00:00 GMT")
    assert not bulk.not_modified(entry, None, "Sat, 17 Jan 2026 02:00:02 GMT")
    for odd in ("", "yesterday", "Sat, 17 Jan 2026 02:00:03", "Sat, 99 Foo 2026 99:99:99 GMT", "\x00"):
        assert not bulk.not_modified(entry, None, odd), odd
    assert not bulk.not_modified(entry, None, None)
    assert bulk.year_of_file("2026.jsonl.gz") == 2026
    assert [bulk.year_of_file(n) for n in ("26.jsonl.gz", "2026.jsonl", "x2026.jsonl.gz", "2026.jsonl.gz/")] == [
        None] * 4
