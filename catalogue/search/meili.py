"""The Meilisearch engine (SEARCH_BACKEND=meilisearch), on the official async client meilisearch-python-sdk.

Index settings (searchable, filterable and sortable attributes, synonyms such as "AF" / "atrial fibrillation",
one typo from 5 letters) are applied at start. Every write waits for its task, so a caller that applied a change
can search for it at once (read-your-writes). A removed listing stays as a tombstone ({id, index_version,
live: false}) so an older, late delivery cannot bring it back; searches always filter on `live = true`.

The query, filter, sort and settings building are pure functions, tested without a server; the contract suite
runs against a real server when MEILISEARCH_URL is set.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Hashable, Mapping, Sequence
from datetime import datetime
from typing import Any

import msgspec

from catalogue.search.port import (
    FACET_FIELDS,
    MARK_END,
    MARK_START,
    NO_EXPIRY,
    SYNONYMS,
    IndexChange,
    Progress,
    SearchDocument,
    SearchHit,
    SearchQuery,
    SearchResult,
    safe_highlight,
)

INDEX_UID = "innovations"
TASK_TIMEOUT_MS = 30_000
SNIPPET_WORDS = 24


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def day_number(iso_day: str) -> int:
    """'2026-01-05' -> 20260105: dates as integers Meilisearch can compare."""
    return int(iso_day.replace("-", "")[:8])


def build_filter(query: SearchQuery) -> list[Any]:
    """Meilisearch's array filter form: the outer list is ANDed, an inner list is ORed."""
    clauses: list[Any] = ["live = true"]
    for field, values in query.filters.items():
        if field not in FACET_FIELDS or not values:
            continue
        options = [f"{field} = {_quote(value)}" for value in values]
        clauses.append(options if len(options) > 1 else options[0])
    if query.assurance_current_on is not None:
        clauses.append(f"assurance_expires_on >= {day_number(query.assurance_current_on.isoformat())}")
    return clauses


def build_sort(query: SearchQuery) -> list[str] | None:
    if query.sort == "newest" or (query.sort == "relevance" and not query.text.strip()):
        return ["published_at_ts:desc", "id:desc"]
    if query.sort == "name":
        return ["name_sort:asc", "id:asc"]
    return None  # relevance: Meilisearch's ranking rules


def search_parameters(query: SearchQuery) -> dict[str, Any]:
    """Keyword arguments for AsyncIndex.search."""
    parameters: dict[str, Any] = {
        "filter": build_filter(query),
        "facets": list(query.facets),
        "sort": build_sort(query),
        "page": query.page,
        "hits_per_page": query.page_size,
        "attributes_to_retrieve": ["id", "public"],
    }
    if query.highlight and query.text.strip():
        parameters.update({
            "attributes_to_highlight": ["name", "summary"], "attributes_to_crop": ["body"],
            "crop_length": SNIPPET_WORDS, "crop_marker": "…",
            "highlight_pre_tag": MARK_START, "highlight_post_tag": MARK_END,
        })
    return parameters


def meili_document(document: SearchDocument) -> dict[str, Any]:
    published = datetime.fromisoformat(document.published_at.replace("Z", "+00:00"))
    body: dict[str, Any] = {
        "id": document.id, "index_version": document.index_version, "live": True, "public": dict(document.public),
        "name": document.name, "summary": document.summary, "body": document.body, "keywords": document.keywords,
        "published_at_ts": int(published.timestamp()), "name_sort": document.name.casefold(),
        "assurance_expires_on": day_number(document.assurance_expires_on or NO_EXPIRY),
    }
    for field in FACET_FIELDS:
        body[field] = list(document.values.get(field, ()))
    return body


def tombstone(listing_id: int, index_version: int) -> dict[str, Any]:
    return {"id": listing_id, "index_version": index_version, "live": False}


def index_settings() -> dict[str, Any]:
    """The settings applied at start (as MeilisearchSettings keyword arguments)."""
    return {
        "searchable_attributes": ["name", "summary", "keywords", "body"],
        "filterable_attributes": [*FACET_FIELDS, "live", "assurance_expires_on"],
        "sortable_attributes": ["published_at_ts", "name_sort", "id"],
        "displayed_attributes": ["id", "index_version", "public"],
        "synonyms": {word: list(alternatives) for word, alternatives in SYNONYMS.items()},
        "typo_tolerance": {"enabled": True, "min_word_size_for_typos": {"one_typo": 5, "two_typos": 9}},
        "faceting": {"max_values_per_facet": 200},
        "pagination": {"max_total_hits": 100_000},
    }


def to_result(query: SearchQuery, raw_hits: list[Mapping[str, Any]], total: int,
              facet_distribution: Mapping[str, Mapping[str, int]] | None) -> SearchResult:
    hits = []
    for raw in raw_hits:
        formatted = raw.get("_formatted") or {}
        highlights: dict[str, str] = {}
        if formatted and query.text.strip():
            snippet = str(formatted.get("body", ""))
            highlights = {"name": safe_highlight(str(formatted.get("name", ""))),
                          "summary": safe_highlight(str(formatted.get("summary", ""))),
                          "snippet": safe_highlight(snippet) if MARK_START in snippet else ""}
        hits.append(SearchHit(id=int(raw["id"]), document_json=msgspec.json.encode(raw["public"]),
                              highlights=highlights))
    facets = {field: {str(k): int(v) for k, v in (facet_distribution or {}).get(field, {}).items() if v}
              for field in query.facets}
    return SearchResult(hits=hits, total=total, page=query.page, page_size=query.page_size, facets=facets)


class MeiliSearchIndex:
    name = "meilisearch"

    def __init__(self, url: str, api_key: str | None = None, index_uid: str = INDEX_UID) -> None:
        from meilisearch_python_sdk import AsyncClient

        self.index_uid = index_uid
        self._client = AsyncClient(url, api_key, timeout=10)
        self._started = False

    @property
    def _index(self) -> Any:
        return self._client.index(self.index_uid)

    async def _wait(self, task: Any) -> None:
        await self._client.wait_for_task(task.task_uid, timeout_in_ms=TASK_TIMEOUT_MS, raise_for_status=True)

    async def start(self) -> None:
        if self._started:
            return
        from meilisearch_python_sdk.models.settings import MeilisearchSettings

        await self._client.get_or_create_index(self.index_uid, primary_key="id")
        await self._wait(await self._index.update_settings(MeilisearchSettings(**index_settings())))
        self._started = True

    async def close(self) -> None:
        await self._client.aclose()

    async def drop(self) -> None:
        await self._client.delete_index_if_exists(self.index_uid)

    def generation(self) -> Hashable | None:
        return None  # Meilisearch names no generation: nothing built from its answers is kept

    async def health(self) -> bool:
        try:
            return (await self._client.health()).status == "available"
        except Exception:  # any failure means "down"
            return False

    async def indexed_version(self, listing_id: int) -> int | None:
        from meilisearch_python_sdk.errors import MeilisearchApiError

        await self.start()
        try:
            found = await self._index.get_document(str(listing_id), fields=["index_version"])
        except MeilisearchApiError as error:
            if error.status_code == 404:
                return None
            raise
        return int(found["index_version"])

    async def apply(self, change: IndexChange) -> bool:
        current = await self.indexed_version(change.listing_id)
        if current is not None and current >= change.index_version:
            return False
        body = tombstone(change.listing_id, change.index_version) if change.document is None \
            else meili_document(change.document)
        await self._wait(await self._index.add_documents([body], primary_key="id"))
        return True

    async def apply_many(self, changes: Sequence[IndexChange]) -> list[bool]:
        return [await self.apply(change) for change in changes]

    async def rebuild(self, documents: AsyncIterable[list[SearchDocument]], progress: Progress | None = None) -> int:
        """Build a fresh index beside the live one, then swap them: searches never see a half-built index."""
        from meilisearch_python_sdk.models.settings import MeilisearchSettings

        await self.start()
        staging = f"{self.index_uid}_rebuild"
        await self._client.delete_index_if_exists(staging)
        await self._client.create_index(staging, primary_key="id")
        staged = self._client.index(staging)
        await self._wait(await staged.update_settings(MeilisearchSettings(**index_settings())))
        indexed = 0
        async for batch in documents:
            await self._wait(await staged.add_documents([meili_document(d) for d in batch], primary_key="id"))
            indexed += len(batch)
            if progress:
                progress(len(batch))
        await self._wait(await self._client.swap_indexes([(self.index_uid, staging)]))
        await self._client.delete_index_if_exists(staging)
        return indexed

    async def search(self, query: SearchQuery) -> SearchResult:
        await self.start()
        parameters = search_parameters(query)
        result = await self._index.search(query.text.strip() or None, **parameters)
        total = result.total_hits if result.total_hits is not None else (result.estimated_total_hits or 0)
        return to_result(query, result.hits, int(total), result.facet_distribution)

