"""Memory: the resident memory of the `dps serve` process, at start and at its peak while the search and page
benchmarks loaded it (the kernel's high-water mark, VmHWM, checked against psutil samples taken every 250 ms)."""

from __future__ import annotations

from typing import Any

from bench.report import Section

MIB = 2**20


def section(server: Any, idle_rss: int, listings_in_search: int | None, database_bytes: int | None,
            index_bytes: int | None) -> Section:
    result = Section("Memory: the server process")
    peak = server.peak_rss()
    result.add("listings in search", listings_in_search, "listings")
    result.add("resident memory after start-up and warm-up", idle_rss / MIB, "MiB")
    result.add("peak resident memory under load (VmHWM)", peak / MIB if peak else None, "MiB")
    result.add("largest 250 ms sample under load", max(server.rss_samples, default=0) / MIB, "MiB")
    if database_bytes is not None:
        result.add("database file size", database_bytes / MIB, "MiB")
    if index_bytes is not None:
        result.add("search index file size", index_bytes / MIB, "MiB")
    return result
