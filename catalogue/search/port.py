"""The search port: one query model, one result model, one document model, and the interface both engines
(embedded Tantivy and Meilisearch) implement. Nothing here knows which engine is behind it."""

from __future__ import annotations

import html
from collections.abc import AsyncIterable, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Any, Protocol, cast

import msgspec

# Facets buyers and API consumers filter on. Booleans are the strings "true" and "false".
FACET_FIELDS: tuple[str, ...] = ("category", "care_setting", "device_class", "esf_tier", "dtac", "dspt", "mtfm",
                                 "sme", "icb")
FILTER_FIELDS: tuple[str, ...] = FACET_FIELDS
BOOLEAN_FIELDS: frozenset[str] = frozenset({"dtac", "mtfm", "sme"})
SORTS: tuple[str, ...] = ("relevance", "newest", "name")
MAX_PAGE_SIZE = 100
MAX_QUERY_LENGTH = 200
NO_EXPIRY = "9999-12-31"

# Words and phrases that mean the same thing to buyers. Both engines apply them.
SYNONYMS: Mapping[str, tuple[str, ...]] = {
    "af": ("atrial fibrillation",),
    "atrial fibrillation": ("af",),
    "ecg": ("electrocardiogram",),
    "electrocardiogram": ("ecg",),
    "copd": ("chronic obstructive pulmonary disease",),
    "chronic obstructive pulmonary disease": ("copd",),
    "ai": ("artificial intelligence",),
    "artificial intelligence": ("ai",),
    "ssi": ("surgical site infection",),
    "surgical site infection": ("ssi",),
}

# Highlight markers: characters no one types, replaced by <mark> after the text has been escaped.
MARK_START, MARK_END = "\ue000", "\ue001"


def safe_highlight(marked: str) -> str:
    """Escape text that carries our markers, then turn the markers into <mark> tags: safe to put in a page."""
    return html.escape(marked, quote=False).replace(MARK_START, "<mark>").replace(MARK_END, "</mark>")


@dataclass(frozen=True)
class SearchQuery:
    text: str = ""
    # Field -> accepted values: OR within one field, AND across fields.
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    facets: tuple[str, ...] = FACET_FIELDS
    sort: str = "relevance"  # relevance | newest | name
    page: int = 1
    page_size: int = 20
    highlight: bool = True
    # When set: only listings none of whose assurance has expired on that day.
    assurance_current_on: date | None = None

    def __post_init__(self) -> None:
        if self.sort not in SORTS:
            raise ValueError(f"unknown sort {self.sort!r}")
        if not 1 <= self.page_size <= MAX_PAGE_SIZE or self.page < 1:
            raise ValueError("page must be 1 or more and page_size 1 to 100")
        unknown = set(self.filters) - set(FILTER_FIELDS)
        if unknown:
            raise ValueError(f"unknown filter {sorted(unknown)}")

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


@dataclass(frozen=True)
class SearchHit:
    id: int
    # The public innovation document, as the API shows it (URLs as paths), as the JSON the index stores: the API
    # sends it on as it is; pages read `document`, decoded on first use.
    document_json: bytes
    # "name", "summary", "snippet": escaped HTML with <mark> around matched words (empty without a text query).
    highlights: Mapping[str, str] = field(default_factory=dict)

    @cached_property
    def document(self) -> Mapping[str, Any]:
        return cast(Mapping[str, Any], msgspec.json.decode(self.document_json))


@dataclass(frozen=True)
class SearchResult:
    hits: list[SearchHit]
    total: int
    page: int
    page_size: int
    facets: dict[str, dict[str, int]]
    # Which state of the index answered, where the engine can say (None where it cannot): the same query on the
    # same generation has the same answer, so what is built from it may be kept as long as the generation lasts.
    generation: Hashable | None = None


@dataclass(frozen=True)
class SearchDocument:
    """What the index holds for one listing. Built by catalogue.services from the database."""

    id: int
    index_version: int
    public: Mapping[str, Any]  # returned in hits
    name: str
    summary: str
    body: str  # the description: where snippets come from
    values: Mapping[str, tuple[str, ...]]  # filter/facet field -> values
    published_at: str  # ISO 8601 UTC, for "newest"
    assurance_expires_on: str = NO_EXPIRY  # earliest expiry, ISO date
    keywords: str = ""  # other searchable words: clinical areas, category, supplier, guidance, places using it

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "index_version": self.index_version, "public": dict(self.public), "name": self.name,
                "summary": self.summary, "body": self.body,
                "values": {key: list(value) for key, value in self.values.items()},
                "published_at": self.published_at, "assurance_expires_on": self.assurance_expires_on,
                "keywords": self.keywords}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SearchDocument:
        return cls(id=int(data["id"]), index_version=int(data["index_version"]), public=data["public"],
                   name=data["name"], summary=data["summary"], body=data["body"],
                   values={key: tuple(value) for key, value in data["values"].items()},
                   published_at=data["published_at"], assurance_expires_on=data.get("assurance_expires_on", NO_EXPIRY),
                   keywords=data.get("keywords", ""))


@dataclass(frozen=True)
class IndexChange:
    """Put a document in the index, or take a listing out. Applied only if index_version is newer than what the
    index holds for that listing: replays and out-of-order deliveries change nothing."""

    listing_id: int
    index_version: int
    document: SearchDocument | None  # None: remove

    def to_json(self) -> dict[str, Any]:
        return {"listing_id": self.listing_id, "index_version": self.index_version,
                "document": None if self.document is None else self.document.to_json()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> IndexChange:
        document = data.get("document")
        return cls(int(data["listing_id"]), int(data["index_version"]),
                   None if document is None else SearchDocument.from_json(document))


Progress = Callable[[int], None]


class SearchIndex(Protocol):
    """The port. Adapters: catalogue.search.tantivy_index.TantivySearchIndex (embedded) and
    catalogue.search.meili.MeiliSearchIndex."""

    name: str

    async def start(self) -> None:
        """Create the index and apply its settings; safe to call again."""

    async def apply(self, change: IndexChange) -> bool:
        """Apply one change if it is newer than what the index holds; True if it changed the index.
        Returns only once a search would see it (read-your-writes)."""

    async def apply_many(self, changes: Sequence[IndexChange]) -> list[bool]:
        """Apply several changes, each only if newer (the outbox's catch-up); one answer each."""

    async def rebuild(self, documents: AsyncIterable[list[SearchDocument]], progress: Progress | None = None) -> int:
        """Replace the whole index with these documents (batches); returns how many were indexed."""

    async def search(self, query: SearchQuery) -> SearchResult: ...

    def generation(self) -> Hashable | None:
        """The generation a search would be answered from now (SearchResult.generation), found without searching,
        so a page kept for it can be answered first; None where the engine cannot tell."""

    async def indexed_version(self, listing_id: int) -> int | None:
        """The index_version the index holds for a listing (also for a removed one), or None."""

    async def health(self) -> bool: ...

    async def close(self) -> None: ...
