"""The search port and its adapters; `search_index_for(settings)` gives the engine the settings name."""

from __future__ import annotations

from dps.settings import Settings

from catalogue.search.port import SearchIndex

_INDEXES: dict[tuple[str, str, str | None], SearchIndex] = {}


def embedded_index_path(settings: Settings) -> str:
    return str(settings.var_dir / "search" / "catalogue.sqlite3")


def build_search_index(settings: Settings) -> SearchIndex:
    """A new adapter for the configured engine (the caller closes it)."""
    if settings.search_backend == "meilisearch":
        from catalogue.search.meili import MeiliSearchIndex

        return MeiliSearchIndex(settings.meilisearch_url or "", settings.meilisearch_api_key)
    import os
    from pathlib import Path

    from catalogue.search.embedded import EmbeddedSearchIndex

    # SEARCH_RESULT_CACHE=off turns the embedded engine's cache of recent queries off (benchmarks use it).
    return EmbeddedSearchIndex(Path(embedded_index_path(settings)),
                               cache_results=os.environ.get("SEARCH_RESULT_CACHE", "on") != "off")


def search_index_for(settings: Settings) -> SearchIndex:
    """The process's shared adapter for these settings (one per engine and location)."""
    key = (settings.search_backend, embedded_index_path(settings), settings.meilisearch_url)
    index = _INDEXES.get(key)
    if index is None:
        index = _INDEXES[key] = build_search_index(settings)
    return index


async def forget_search_index(settings: Settings) -> None:
    """Close and drop the shared adapter (tests, and `dps reindex` at exit)."""
    key = (settings.search_backend, embedded_index_path(settings), settings.meilisearch_url)
    index = _INDEXES.pop(key, None)
    if index is not None:
        await index.close()


def forget_search_index_now(settings: Settings) -> None:
    """Synchronous variant for test teardown: drop the shared adapter, closing it if it can close synchronously."""
    key = (settings.search_backend, embedded_index_path(settings), settings.meilisearch_url)
    index = _INDEXES.pop(key, None)
    close_now = getattr(index, "close_now", None)
    if close_now is not None:
        close_now()
