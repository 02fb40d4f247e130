"""The search port and its adapters; `search_index_for(settings)` gives the engine the settings name."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from catalogue.search.port import SearchIndex
from dps.settings import Settings

_INDEXES: dict[tuple[str, str, str | None], SearchIndex] = {}


def embedded_index_path(settings: Settings) -> str:
    """The directory that holds the embedded (Tantivy) index: var/search/ by default."""
    return str(settings.search_index_dir)


def build_search_index(settings: Settings) -> SearchIndex:
    """A new adapter for the configured engine (the caller closes it)."""
    if settings.search_backend == "meilisearch":
        from catalogue.search.meili import MeiliSearchIndex

        return MeiliSearchIndex(settings.meilisearch_url or "", settings.meilisearch_api_key)
    from catalogue.search.tantivy_index import TantivySearchIndex

    return TantivySearchIndex(settings.search_index_dir)


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


@asynccontextmanager
async def search_engine_lifespan(app: Any) -> AsyncIterator[None]:
    """App lifespan: outside tests, start the engine at start-up (Meilisearch settings applied, the embedded index
    opened, so the first buyer does not wait); close it at shutdown."""
    settings: Settings = app.state.settings
    if settings.environment != "test":
        import logging

        from catalogue.search.port import SearchQuery

        try:
            index = search_index_for(settings)
            await index.start()
            await index.search(SearchQuery(page_size=1))
        except Exception:  # a dead engine must not stop the site; /health reports it
            logging.getLogger("dps.search").exception("search engine did not start; it will be retried on use")
    try:
        yield
    finally:
        await forget_search_index(settings)
