"""The embedded search engine: a Tantivy index in a directory under var/search/ (the `tantivy` package).

- Text: BM25 over name, summary, keywords and the description, weighted by field. Each typed word must match
  (AND across words); a word matches exactly, with Meilisearch's typo rules (one typo from 5 letters, two from 9),
  as a prefix when it is the last word (search as you type; a prefix is matched as typed, not with typos), or
  through a synonym. Prefix and typo matches are looked for in one field holding all the text (one walk of one
  term dictionary, not four) and score a constant far below the exact term's: exact matches rank above them.
- Filters are exact terms on one raw field that holds every facet value as "field:value": OR within a field,
  AND across fields, never scored.
- Facet counts are one terms aggregation on that fast field (split back by field), for the query with its filters.
  A query's total and counts are kept until the next commit, keyed by its words and filters, not by its page or
  sort: the aggregation runs the whole query again (its typo and prefix expansions included) and counts every
  match, so it is most of a search's time, and a buyer paging through results or changing the sort asks for the
  same counts again (like a search engine's request cache, which is dropped on every refresh).
- A query's page of hits is kept the same way, keyed by its words, filters, sort and page: popular searches come
  again and again, and a kept page costs a few unpackings instead of the search. Hits are kept as stored (packed),
  within a byte budget. Each result says which reader generation answered it, so a page built from it can be kept
  for as long as that generation lasts.
- `newest` and `name` sort on fast fields.
- Highlights and snippets come from Tantivy's snippet generator, rendered as escaped HTML with <mark>. It highlights
  exact words, synonyms and the indexed words the last word is a prefix of; it cannot highlight a fuzzy query, so
  the words of a page's hits a typo away from a typed word (rapidfuzz, the same distance) are added as terms.
- Stored: the public document, as the API returns it, compressed against a Zstandard dictionary trained on listings
  (a file in the index's directory; see Dictionary); the name, summary and description a hit shows come from
  it, and the indexed text is stored as well only where it differs (a description with Markdown syntax).
- Idempotent: each listing has one document, live or a tombstone that keeps its index_version after removal; a
  change applies only if it is newer.

A rebuild writes the whole index as one segment (with a writer heap to match): each search walks every segment's
term dictionary for its prefix and typo expansions, so one segment costs about half the time of the six a rebuild
with a small heap leaves (the merge policy does not merge segments that large). Later changes add small segments,
which Tantivy merges.

One writer: every write (an outbox change, a batch of them, a rebuild) opens the index's only IndexWriter, holds it
for that write and releases it, so the outbox consumer and `dps reindex` (in this process or another) take turns
through Tantivy's lock file. Readers reload on each commit, whoever made it (a search finds meta.json replaced).
Searches run on a small thread pool so the event loop never waits on the index.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import html
import logging
import os
import shutil
import threading
import time
from collections.abc import AsyncIterable, Callable, Hashable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import tantivy
import zstandard
from rapidfuzz import process
from rapidfuzz.distance import OSA
from tantivy import Document, FieldType, Index, IndexWriter, Occur, Order, Query, Searcher, SnippetGenerator

from catalogue.search.kept_answers import KeptAnswers
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
from dps.compression import Zstd

logger = logging.getLogger("dps.search")
T = TypeVar("T")

# The index's layout: a new value makes a new directory, filled by `dps reindex` (the index holds derived data).
LAYOUT = "tantivy-5"
TOKENIZER = "words"
TEXT_FIELDS: tuple[tuple[str, float], ...] = (("name", 10.0), ("summary", 4.0), ("keywords", 2.0), ("body", 1.0))
EXACT_BOOST = 1.0  # times the field weight, on BM25
# Prefix and typo matches are looked for in one field holding all the text: one pass over one term dictionary
# instead of one per field (a fuzzy or prefix term query costs a walk of the dictionary and a union of postings).
ALL_TEXT = "all_text"
PREFIX_SCORE = 0.5  # a constant: below nearly any exact match
TYPO_SCORE = 0.1  # a constant: below any exact or prefix match
MAX_QUERY_WORDS = 10
MAX_PREFIX_HIGHLIGHTS = 20  # indexed words a last-word prefix stands for, per field, in highlights
FACET_SIZE = 10_000  # facet values across all facets, in one aggregation
FACET_SEPARATOR = ":"  # "category:wearables": a facet value in the one field that holds every facet
NAME_CHARS = 1000  # highlight a name or summary whole
SNIPPET_CHARS = 200
# Queries' totals and facet counts, per reader generation, kept as JSON: about 1 KB each at 100,000 listings (the
# facet values of nine fields; some 7 KB as Python dicts), so about 1 MB when full.
COUNTS_CACHE_ENTRIES = 1024
# Queries' pages of hits, per reader generation: about 7 KB a page of 20 at 100,000 listings (packed documents, their
# ids, the facet counts' JSON), so some 1,400 pages; a highlighted page costs about twice that.
RESULTS_CACHE_BYTES = 10 * 1024 * 1024
HIT_OVERHEAD_BYTES = 70  # what Python spends on a kept hit besides its document's bytes (a bytes object, an int)
PAGE_OVERHEAD_BYTES = 300  # a kept page's own objects (the tuples, the dataclass)
DICTIONARY_BYTES = 32 * 1024  # larger dictionaries gained 2 to 4% in size, and cost memory in every thread
DICTIONARY_SAMPLES = 500  # public documents a dictionary is trained on: a batch of a rebuild
PACK_LEVEL = 3  # Zstandard's default: as fast as level 1 with a dictionary, and 7% smaller
DICTIONARY_KEY_BYTES = 8
WRITER_HEAP = 50_000_000
# A rebuild's writer: about 2 KB a listing, so up to about 300,000 listings make one segment (see the docstring).
REBUILD_WRITER_HEAP = 600_000_000
WRITER_WAIT_SECONDS = 30.0  # how long a write waits for another process's writer to finish


def typo_distance(word: str) -> int:
    """Meilisearch's rule: no typo below 5 letters, one for 5 to 8, two from 9."""
    if not word.isalpha() or len(word) < 5:
        return 0
    return 1 if len(word) <= 8 else 2


def day_number(iso_day: str) -> int:
    """'2026-01-05' -> 20260105: a day as an integer a fast field compares."""
    return int(iso_day.replace("-", "")[:8])


def _analyzer() -> tantivy.TextAnalyzer:
    """Words: split on anything not a letter or digit, lower case, accents folded (café finds cafe)."""
    return (tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple()).filter(tantivy.Filter.remove_long(40))
            .filter(tantivy.Filter.lowercase()).filter(tantivy.Filter.ascii_fold()).build())


class Dictionary:
    """A Zstandard dictionary for the stored public documents, trained on some of them. Each stored document is
    compressed on its own against it, so it shares the field names and common values of all the others: about
    7 times smaller, where Tantivy's document store (LZ4 over blocks of a few documents) gains about 3 times.
    Zstandard with a trained dictionary packs a document about 9 times faster than zlib with a preset one, and a
    little smaller; a rebuild packs every listing. Too few documents to train on make a dictionary of their text."""

    def __init__(self, key: bytes, data: bytes) -> None:
        self.key = key  # starts each document packed with it
        self.data = data
        # A trained dictionary, or raw text (its magic says which); frames without checks: the key names it.
        self._zstd = Zstd(PACK_LEVEL, zstandard.ZstdCompressionDict(data), frame_checks=False)

    @classmethod
    def made_of(cls, documents: Sequence[SearchDocument]) -> Dictionary:
        samples: list[bytes | bytearray | memoryview] = [msgspec.json.encode(document.public)
                                                         for document in documents[:DICTIONARY_SAMPLES]]
        try:
            data = zstandard.train_dictionary(DICTIONARY_BYTES, samples).as_bytes()
        except zstandard.ZstdError:  # too little to train on
            data = b"".join(samples)[-DICTIONARY_BYTES:]  # Zstandard looks back from its end
        return cls(hashlib.sha256(data).digest()[:DICTIONARY_KEY_BYTES], data)

    def pack(self, document_json: bytes) -> bytes:
        return self.key + self._zstd.pack(document_json)

    def unpack(self, packed: bytes) -> bytes:
        return self._zstd.unpack(packed[DICTIONARY_KEY_BYTES:])


def dictionary_key(packed: bytes) -> bytes:
    return packed[:DICTIONARY_KEY_BYTES]


def build_schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("id", stored=True, indexed=True, fast=True)
    builder.add_integer_field("version", stored=True, fast=True)
    builder.add_boolean_field("live", indexed=True, fast=True)
    for name, _ in TEXT_FIELDS:
        builder.add_text_field(name, tokenizer_name=TOKENIZER)
    builder.add_text_field(ALL_TEXT, tokenizer_name=TOKENIZER, index_option="basic")  # which listings, no more
    builder.add_bytes_field("public", stored=True)  # packed with a Dictionary
    # The indexed name, summary and description are shown from the public document; a text that differs from
    # what the public document gives is stored here (a JSON object by field name).
    builder.add_bytes_field("own_text", stored=True)
    builder.add_text_field("name_sort", fast=True, tokenizer_name="raw")
    builder.add_date_field("published", fast=True)
    builder.add_integer_field("expires", fast=True, indexed=True)
    # Every facet value in one field ("category:wearables"): filters are its terms, and one aggregation on it
    # counts every facet at once (nine aggregations, one per field, cost nine passes over the matches).
    builder.add_text_field("facet", fast=True, tokenizer_name="raw")
    return builder.build()


SCHEMA = build_schema()
ANALYZER = _analyzer()


def facet_term(name: str, value: str) -> str:
    return f"{name}{FACET_SEPARATOR}{value}"


def shown_texts(public: Mapping[str, Any]) -> dict[str, str]:
    """The name, summary and description text a hit shows, as the public document gives them. A description
    with Markdown syntax differs from its indexed words (markdown_as_text): those words are stored instead."""
    return {"name": str(public.get("name") or ""), "summary": str(public.get("summary") or ""),
            "body": " ".join(str(public.get("description") or "").split())}


def tantivy_document(document: SearchDocument, dictionary: Dictionary) -> Document:
    doc = Document()
    doc.add_integer("id", document.id)
    doc.add_integer("version", document.index_version)
    doc.add_boolean("live", True)
    doc.add_text("name", document.name)
    doc.add_text("summary", document.summary)
    doc.add_text("keywords", document.keywords)
    doc.add_text("body", document.body)
    for text in (document.name, document.summary, document.keywords, document.body):
        doc.add_text(ALL_TEXT, text)
    shown = shown_texts(document.public)
    own = {name: text for name, text in (("name", document.name), ("summary", document.summary),
                                        ("body", document.body)) if shown[name] != text}
    if own:
        doc.add_bytes("own_text", msgspec.json.encode(own))
    doc.add_bytes("public", dictionary.pack(msgspec.json.encode(document.public)))
    doc.add_text("name_sort", document.name.casefold())
    doc.add_date("published", datetime.fromisoformat(document.published_at.replace("Z", "+00:00")).astimezone(UTC))
    doc.add_integer("expires", day_number(document.assurance_expires_on or NO_EXPIRY))
    for name in FACET_FIELDS:
        for value in document.values.get(name, ()):
            doc.add_text("facet", facet_term(name, value))
    return doc


def tombstone(listing_id: int, index_version: int) -> Document:
    doc = Document()
    doc.add_integer("id", listing_id)
    doc.add_integer("version", index_version)
    doc.add_boolean("live", False)
    return doc


# --- queries: pure functions of the schema and the typed words -----------------------------------------------


def _word_alternatives(word: str, last: bool) -> list[Query]:
    distance = typo_distance(word)
    options = [Query.boost_query(Query.term_query(SCHEMA, name, word), weight * EXACT_BOOST)
               for name, weight in TEXT_FIELDS]
    if last:
        options.append(Query.const_score_query(
            Query.fuzzy_term_query(SCHEMA, ALL_TEXT, word, distance=0, prefix=True), PREFIX_SCORE))
    if distance:
        options.append(Query.const_score_query(Query.fuzzy_term_query(
            SCHEMA, ALL_TEXT, word, distance=distance, transposition_cost_one=True), TYPO_SCORE))
    return options


def _phrase_alternatives(words: Sequence[str]) -> list[Query]:
    """A word or a phrase matched exactly, in any text field (synonyms)."""
    options: list[Query] = []
    for name, weight in TEXT_FIELDS:
        query = (Query.term_query(SCHEMA, name, words[0]) if len(words) == 1
                 else Query.phrase_query(SCHEMA, name, list(words)))
        options.append(Query.boost_query(query, weight * EXACT_BOOST))
    return options


def _synonyms(phrase: str) -> list[Query]:
    options: list[Query] = []
    for synonym in SYNONYMS.get(phrase, ()):
        words = ANALYZER.analyze(synonym)
        if words:
            options += _phrase_alternatives(words)
    return options


def _should(options: list[Query]) -> Query:
    return options[0] if len(options) == 1 else Query.boolean_query([(Occur.Should, option) for option in options])


def query_words(text: str) -> tuple[str, ...]:
    """What a buyer typed, as the index's words (the first MAX_QUERY_WORDS): what a search matches, and what its
    counts are kept by."""
    return tuple(ANALYZER.analyze(text)[:MAX_QUERY_WORDS])


def text_query(words: Sequence[str]) -> Query | None:
    """A buyer's words as a Tantivy query: every word (or two-word synonym) must match in some text field."""
    groups: list[Query] = []
    i = 0
    while i < len(words):
        pair = " ".join(words[i:i + 2]) if i + 1 < len(words) else None
        if pair and pair in SYNONYMS:
            groups.append(_should(_phrase_alternatives(words[i:i + 2]) + _synonyms(pair)))
            i += 2
            continue
        groups.append(_should(_word_alternatives(words[i], last=i == len(words) - 1) + _synonyms(words[i])))
        i += 1
    if not groups:
        return None
    return groups[0] if len(groups) == 1 else Query.boolean_query([(Occur.Must, group) for group in groups])


def filter_queries(query: SearchQuery) -> list[Query]:
    """Exact terms: OR within a field (a term set), AND across fields; the listing must be live."""
    filters = [Query.term_query(SCHEMA, "live", True)]
    for name, values in sorted(query.filters.items()):
        if values:
            filters.append(Query.term_query(SCHEMA, "facet", facet_term(name, values[0])) if len(values) == 1
                           else Query.term_set_query(SCHEMA, "facet", [facet_term(name, v) for v in values]))
    if query.assurance_current_on is not None:
        filters.append(Query.range_query(SCHEMA, "expires", FieldType.Integer,
                                         lower_bound=day_number(query.assurance_current_on.isoformat())))
    return filters


def full_query(query: SearchQuery, words: Sequence[str] | None = None) -> tuple[Query, Query | None]:
    """The query to run (text scored, filters not) and its text part alone (None without words); `words` are the
    query's words when the caller has them already."""
    text = text_query(query_words(query.text) if words is None else words)
    clauses = [(Occur.Must, Query.const_score_query(part, 0.0)) for part in filter_queries(query)]
    if text is not None:
        clauses.insert(0, (Occur.Must, text))
    return Query.boolean_query(clauses), text


def highlight_terms(searcher: Searcher, text: str, page_words: Iterable[str]) -> set[str]:
    """The indexed words to highlight for what a buyer typed: the typed words, their synonyms, the indexed words
    the last word is a prefix of, and the words of this page's hits a typo away from a typed word (the snippet
    generator cannot highlight a fuzzy query, so those words are found here, with the engine's typo rules)."""
    words = query_words(text)
    phrases = [*words, *(synonym for word in words for synonym in SYNONYMS.get(word, ()))]
    phrases += [synonym for i in range(len(words) - 1) for synonym in SYNONYMS.get(" ".join(words[i:i + 2]), ())]
    terms = {word for phrase in phrases for word in ANALYZER.analyze(phrase)}
    if words:
        for name, _ in TEXT_FIELDS:
            terms.update(term for term, _count in
                         searcher.terms_with_prefix(name, words[-1], limit=MAX_PREFIX_HIGHLIGHTS))
    typos = [(word, typo_distance(word)) for word in words if typo_distance(word)]
    if typos:
        candidates = list(set(page_words))
        for word, distance in typos:  # rapidfuzz compares them all in C: a loop here was a millisecond a page
            terms.update(match for match, _distance, _position in
                         process.extract(word, candidates, scorer=OSA.distance, score_cutoff=distance, limit=None))
    return terms


def highlight_query(terms: Iterable[str]) -> Query:
    options = [Query.term_query(SCHEMA, name, term) for term in sorted(terms) for name, _ in TEXT_FIELDS]
    return Query.boolean_query([(Occur.Should, option) for option in options]) if options else Query.empty_query()


def _marked(snippet: tantivy.Snippet) -> str:
    """A snippet's fragment with our markers around the highlighted ranges (byte offsets into the fragment)."""
    fragment = snippet.fragment().encode()
    out, position = [], 0
    for span in snippet.highlighted():
        out += [fragment[position:span.start].decode(), MARK_START, fragment[span.start:span.end].decode(), MARK_END]
        position = span.end
    out.append(fragment[position:].decode())
    return "".join(out)


def render_highlight(generator: SnippetGenerator, doc: Document, text: str) -> str:
    """The whole of a short field as safe HTML, matching words in <mark>."""
    snippet = generator.snippet_from_doc(doc)
    if not snippet.highlighted():
        return html.escape(text, quote=False)
    # The fragment runs from the first word to the last: what the text has around it (a bracket, a full stop) is
    # kept as it is.
    fragment = snippet.fragment()
    start = text.find(fragment)
    if start == -1:
        return safe_highlight(_marked(snippet))
    return (html.escape(text[:start], quote=False) + safe_highlight(_marked(snippet))
            + html.escape(text[start + len(fragment):], quote=False))


def render_snippet(generator: SnippetGenerator, doc: Document, text: str) -> str:
    """A passage of the description around its best match, as safe HTML; empty if nothing in it matches."""
    snippet = generator.snippet_from_doc(doc)
    if not snippet.highlighted():
        return ""
    fragment = snippet.fragment()
    start = text.find(fragment)
    if start == -1:
        return "…" + safe_highlight(_marked(snippet)) + "…"
    head, tail = text[:start], text[start + len(fragment):]
    # Text cut off is shown as an ellipsis; punctuation the fragment stopped short of is kept as it is.
    before = "…" if any(ch.isalnum() for ch in head) else html.escape(head, quote=False)
    after = "…" if any(ch.isalnum() for ch in tail) else html.escape(tail, quote=False)
    return before + safe_highlight(_marked(snippet)) + after


Counted = tuple[int, bytes]  # a query's total, and its facet counts as JSON (a seventh of the memory of dicts)


@dataclass(frozen=True, slots=True)
class KeptResult:
    """A query's page of hits as kept until the next commit: each hit's id, its public document as stored (packed)
    and, for a highlighted search, its highlights; with the query's total and facet counts (JSON, shared with the
    kept counts). Columns, not a tuple a hit: a kept page is mostly its documents' bytes."""

    ids: tuple[int, ...]
    packed: tuple[bytes, ...]
    highlights: tuple[Mapping[str, str], ...] | None
    total: int
    facets_json: bytes

    @property
    def cost(self) -> int:
        marks = sum(len(text) + HIT_OVERHEAD_BYTES for hit in self.highlights or () for text in hit.values())
        return (sum(map(len, self.packed)) + HIT_OVERHEAD_BYTES * len(self.ids) + marks + len(self.facets_json)
                + PAGE_OVERHEAD_BYTES)


# --- the adapter --------------------------------------------------------------------------------------------


class WriterBusy(RuntimeError):
    """Another process held the index's writer for longer than we wait: the change is retried later."""


class RebuildAborted(RuntimeError):
    """A rebuild stopped before its end: the index keeps what it held."""


class TantivySearchIndex:
    name = "embedded"

    def __init__(self, directory: Path, threads: int = 2) -> None:
        self.path = Path(directory) / LAYOUT
        self._searches = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="search")
        self._writes = ThreadPoolExecutor(max_workers=1, thread_name_prefix="search-writer")  # the one writer
        self._write_lock = threading.Lock()
        self._open_lock = threading.Lock()
        self._index: Index | None = None
        self._dictionaries: dict[bytes, Dictionary] = {}  # by key, as read from the index's directory
        self._writing_dictionary: Dictionary | None = None
        self._reload_lock = threading.Lock()
        self._generation: tuple[int, ...] = ()  # meta.json as this reader last loaded it
        # Queries' totals and facet counts, and their pages of hits, for one reader generation (see the module's
        # docstring).
        self._counts: KeptAnswers[Counted] = KeptAnswers(COUNTS_CACHE_ENTRIES)
        self._results: KeptAnswers[KeptResult] = KeptAnswers(RESULTS_CACHE_BYTES)

    # --- plumbing -------------------------------------------------------------------------------------------

    def _open(self) -> Index:
        with self._open_lock:
            if self._index is not None:
                return self._index
            self.path.mkdir(parents=True, exist_ok=True)
            try:
                index = Index(SCHEMA, path=str(self.path), reuse=True)
            except ValueError:  # not an index of this layout: it holds derived data only, so start it afresh
                logger.warning("search index %s cannot be opened: rebuilding it empty; run `dps reindex`", self.path)
                shutil.rmtree(self.path, ignore_errors=True)
                self.path.mkdir(parents=True, exist_ok=True)
                index = Index(SCHEMA, path=str(self.path), reuse=False)
            index.register_tokenizer(TOKENIZER, ANALYZER)
            index.config_reader(reload_policy="manual")  # reloaded by _searcher when meta.json changes
            self._index = index
            return index

    def _committed_generation(self) -> tuple[int, ...]:
        """The generation of the latest commit, whoever made it: meta.json is replaced (a new file) on each commit."""
        try:
            meta = os.stat(self.path / "meta.json")
        except FileNotFoundError:
            return ()
        return (meta.st_ino, meta.st_mtime_ns, meta.st_size)

    def _searcher(self) -> tuple[Searcher, tuple[int, ...]]:
        """A searcher on the latest commit and that commit's generation: one stat per search tells whether to
        reload."""
        index = self._open()
        with self._reload_lock:
            generation = self._committed_generation()
            if generation != self._generation:
                index.reload()  # stat first: what this loads is never older than the generation recorded
                self._generation = generation
            self._counts.move_to(generation)
            self._results.move_to(generation)
            return index.searcher(), generation

    async def _search_thread(self, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._searches, function, *args)

    async def _write_thread(self, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._writes, function, *args)

    def _writing(self, work: Callable[[IndexWriter, Searcher], T], heap_size: int = WRITER_HEAP) -> T:
        """Run `work` with the index's only writer and a searcher that sees the latest commit; commit what it
        did, release the writer, and make the commit visible to this process's searches before returning."""
        index = self._open()
        with self._write_lock:
            deadline = time.monotonic() + WRITER_WAIT_SECONDS
            while True:
                try:
                    writer = index.writer(heap_size=heap_size, num_threads=1)
                    break
                except ValueError as error:
                    if "LockBusy" not in str(error):
                        raise
                    if time.monotonic() > deadline:
                        raise WriterBusy(f"the search index {self.path} is being written by another process") from None
                    time.sleep(0.05)
            try:
                index.reload()
                result = work(writer, index.searcher())
                writer.commit()
            except BaseException:
                writer.rollback()
                raise
            finally:
                writer.wait_merging_threads()  # releases the lock file
            index.reload()
            return result

    async def start(self) -> None:
        await self._write_thread(self._open)

    def close_now(self) -> None:
        self._searches.shutdown(wait=True)
        self._writes.shutdown(wait=True)
        self._index = None

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.close_now)

    def generation(self) -> Hashable | None:
        """The latest commit's generation (a stat): a search now reloads to it if the reader is behind."""
        return self._committed_generation() or None

    async def health(self) -> bool:
        try:
            return await self._search_thread(lambda: self._searcher()[0].num_docs >= 0)
        except (ValueError, OSError, RuntimeError):
            return False

    # --- versions -------------------------------------------------------------------------------------------

    @staticmethod
    def _version_in(searcher: Searcher, listing_id: int) -> int | None:
        found = searcher.search(Query.term_query(SCHEMA, "id", listing_id), 1, count=False).hits
        if not found:
            return None
        return int(searcher.doc(found[0][1])["version"][0])

    async def indexed_version(self, listing_id: int) -> int | None:
        return await self._search_thread(lambda: self._version_in(self._searcher()[0], listing_id))

    @staticmethod
    def _all_versions(searcher: Searcher) -> dict[int, tuple[int, bool]]:
        """Every listing the index knows: id -> (index_version, live)."""
        total = searcher.num_docs
        if not total:
            return {}
        addresses = [address for _score, address in searcher.search(Query.all_query(), total, count=False).hits]
        ids = searcher.fast_field_values("id", addresses)
        versions = searcher.fast_field_values("version", addresses)
        lives = searcher.fast_field_values("live", addresses)
        return {int(i): (int(v), bool(live)) for i, v, live in zip(ids, versions, lives, strict=True)
                if i is not None and v is not None}

    # --- writing --------------------------------------------------------------------------------------------

    @staticmethod
    def _put(writer: IndexWriter, change: IndexChange, dictionary: Dictionary | None) -> None:
        """Write a change (a tombstone needs no dictionary)."""
        writer.delete_documents_by_term("id", change.listing_id)
        if change.document is None:
            writer.add_document(tombstone(change.listing_id, change.index_version))
        else:
            assert dictionary is not None, "a listing is packed with a dictionary"
            writer.add_document(tantivy_document(change.document, dictionary))

    # The dictionaries: a file each in the index's directory (Tantivy leaves files it did not write alone), written
    # before any document packed with it is committed, so every process can unpack what it finds. A rebuild makes a
    # new one from the listings it reads; other writes use the latest ("dictionary", its key), or make the first.

    def _dictionary_path(self, key: bytes) -> Path:
        return self.path / f"dictionary-{key.hex()}"

    def _dictionary(self, key: bytes) -> Dictionary:
        dictionary = self._dictionaries.get(key)
        if dictionary is None:
            dictionary = self._dictionaries[key] = Dictionary(key, self._dictionary_path(key).read_bytes())
        return dictionary

    def _save_dictionary(self, dictionary: Dictionary) -> Dictionary:
        for path, content in ((self._dictionary_path(dictionary.key), dictionary.data),
                              (self.path / "dictionary", dictionary.key.hex().encode())):
            partial = path.with_name(path.name + ".partial")
            partial.write_bytes(content)
            os.replace(partial, path)
        self._dictionaries[dictionary.key] = self._writing_dictionary = dictionary
        return dictionary

    def _dictionary_for(self, documents: Sequence[SearchDocument]) -> Dictionary:
        """The dictionary to pack these documents with: the latest, or a first one made of them."""
        if self._writing_dictionary is None:
            try:
                self._writing_dictionary = self._dictionary(bytes.fromhex((self.path / "dictionary").read_text()))
            except FileNotFoundError:
                return self._save_dictionary(Dictionary.made_of(documents))
        return self._writing_dictionary

    def _apply_changes(self, changes: Sequence[IndexChange]) -> list[bool]:
        def work(writer: IndexWriter, searcher: Searcher) -> list[bool]:
            pending: dict[int, int] = {}  # versions written in this batch, not yet committed
            applied = []
            documents = [change.document for change in changes if change.document]
            dictionary = self._dictionary_for(documents) if documents else None
            for change in changes:
                current = pending.get(change.listing_id)
                if current is None:
                    current = self._version_in(searcher, change.listing_id)
                if current is not None and current >= change.index_version:
                    applied.append(False)
                    continue
                self._put(writer, change, dictionary)
                pending[change.listing_id] = change.index_version
                applied.append(True)
            return applied

        return self._writing(work)

    async def apply(self, change: IndexChange) -> bool:
        return (await self._write_thread(self._apply_changes, [change]))[0]

    async def apply_many(self, changes: Sequence[IndexChange]) -> list[bool]:
        """Apply several changes with one writer and one commit (the outbox's catch-up); one answer each."""
        return await self._write_thread(self._apply_changes, list(changes)) if changes else []

    async def rebuild(self, documents: AsyncIterable[list[SearchDocument]], progress: Progress | None = None) -> int:
        """Replace the index's contents in one commit: searches see the old index until it lands. The writer is
        held throughout, so outbox changes wait (and are retried) rather than interleave. A listing the index holds
        in a newer version than the database read is kept; one no longer in the database becomes a tombstone."""
        loop = asyncio.get_running_loop()
        batches: asyncio.Queue[list[SearchDocument] | BaseException | None] = asyncio.Queue(maxsize=2)

        def next_batch() -> list[SearchDocument] | None:
            batch = asyncio.run_coroutine_threadsafe(batches.get(), loop).result()
            if isinstance(batch, BaseException):  # reading the database failed: nothing is committed
                raise RebuildAborted("reading the listings failed") from batch
            return batch

        def work(writer: IndexWriter, searcher: Searcher) -> int:
            existing = self._all_versions(searcher)
            seen: set[int] = set()
            indexed = 0
            dictionary: Dictionary | None = None
            while (batch := next_batch()) is not None:
                if batch and dictionary is None:  # made of the listings as they are now
                    dictionary = self._save_dictionary(Dictionary.made_of(batch))
                for document in batch:
                    seen.add(document.id)
                    if existing.get(document.id, (-1, False))[0] <= document.index_version:
                        self._put(writer, IndexChange(document.id, document.index_version, document), dictionary)
                indexed += len(batch)
                if progress:
                    loop.call_soon_threadsafe(progress, len(batch))
            for listing_id, (version, live) in existing.items():
                if live and listing_id not in seen:
                    self._put(writer, IndexChange(listing_id, version, None), None)
            return indexed

        writing = loop.run_in_executor(self._writes, self._writing, work, REBUILD_WRITER_HEAP)

        async def hand_over(item: list[SearchDocument] | BaseException | None) -> None:
            putting = asyncio.ensure_future(batches.put(item))
            waiting: set[asyncio.Future[Any]] = {putting, writing}
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if not putting.done():  # the writer stopped (it raises below)
                putting.cancel()

        try:
            async for batch in documents:
                await hand_over(batch)
                if writing.done():
                    break
        except BaseException as error:
            await hand_over(error)
            with contextlib.suppress(Exception):
                await writing
            raise
        await hand_over(None)
        return await writing

    # --- searching ------------------------------------------------------------------------------------------

    @staticmethod
    def _keys(query: SearchQuery, words: tuple[str, ...]) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        """What a query's counts are kept by (its words and filters), and what its page of hits is kept by (those,
        its sort and its page)."""
        counts_key = (words, tuple(sorted((name, tuple(values)) for name, values in query.filters.items() if values)),
                      query.assurance_current_on, tuple(query.facets))
        return counts_key, (*counts_key, query.sort, query.offset, query.page_size, bool(words) and query.highlight)

    def _answer(self, kept: KeptResult, query: SearchQuery, generation: tuple[int, ...]) -> SearchResult:
        highlights: Sequence[Mapping[str, str]] = kept.highlights or [{}] * len(kept.ids)
        return SearchResult(
            hits=[SearchHit(id=listing_id, document_json=self._public_json(packed), highlights=dict(marks))
                  for listing_id, packed, marks in zip(kept.ids, kept.packed, highlights, strict=True)],
            total=kept.total, page=query.page, page_size=query.page_size,
            facets=msgspec.json.decode(kept.facets_json), generation=generation)

    def _kept_answer(self, query: SearchQuery) -> SearchResult | None:
        """The query's kept page of hits, if the reader is on the latest commit and keeps one: cheap enough (a stat,
        a lookup and the hits' unpacking) to answer on the event loop, without a hop to the search threads."""
        generation = self._committed_generation()
        if self._index is None or generation != self._generation:
            return None  # the reader must reload first, on a search thread
        _, result_key = self._keys(query, query_words(query.text))
        kept = self._results.get(result_key, generation)
        return None if kept is None else self._answer(kept, query, generation)

    def _search(self, query: SearchQuery) -> SearchResult:
        searcher, generation = self._searcher()
        words = query_words(query.text)
        counts_key, result_key = self._keys(query, words)
        kept = self._results.get(result_key, generation)
        if kept is None:
            kept = self._searched(searcher, generation, query, words, counts_key, bool(words) and query.highlight)
            self._results.keep(generation, result_key, kept, kept.cost)
        return self._answer(kept, query, generation)

    def _searched(self, searcher: Searcher, generation: tuple[int, ...], query: SearchQuery,
                  words: tuple[str, ...], counts_key: tuple[Any, ...], highlighted: bool) -> KeptResult:
        """The query run on the index: its page of hits, with its total and facet counts (kept or counted)."""
        tantivy_query, text = full_query(query, words)
        counted = self._counts.get(counts_key, generation)
        if text is not None and query.sort == "relevance":
            found = searcher.search(tantivy_query, query.page_size, count=counted is None, offset=query.offset)
        elif query.sort == "name":
            found = searcher.search(tantivy_query, query.page_size, count=counted is None, offset=query.offset,
                                    order_by_field="name_sort", order=Order.Asc)
        else:  # newest, and browsing without words
            found = searcher.search(tantivy_query, query.page_size, count=counted is None, offset=query.offset,
                                    order_by_field="published", order=Order.Desc)
        if counted is None:
            counted = (int(found.count or 0),  # type: ignore[attr-defined]  # the stub omits it
                       msgspec.json.encode(self._facets(searcher, tantivy_query, query.facets)))
            self._counts.keep(generation, counts_key, counted)
        docs = [searcher.doc(address) for _score, address in found.hits]
        packed = [bytes(doc["public"][0]) for doc in docs]
        highlights = tuple(self._highlights(searcher, docs, packed, query.text)) if highlighted and docs else None
        return KeptResult(tuple(int(doc["id"][0]) for doc in docs), tuple(packed), highlights, *counted)

    @staticmethod
    def _facets(searcher: Searcher, query: Query, names: Iterable[str]) -> dict[str, dict[str, int]]:
        wanted = [name for name in names if name in FACET_FIELDS]
        if not wanted:
            return {}
        answer = searcher.aggregate(query, {"facets": {"terms": {"field": "facet", "size": FACET_SIZE}}})
        facets: dict[str, dict[str, int]] = {name: {} for name in wanted}
        for bucket in answer.get("facets", {}).get("buckets", []):
            name, _, value = str(bucket["key"]).partition(FACET_SEPARATOR)
            if name in facets and bucket["doc_count"]:
                facets[name][value] = int(bucket["doc_count"])
        return facets

    def _public_json(self, packed: bytes) -> bytes:
        return self._dictionary(dictionary_key(packed)).unpack(packed)

    def _highlights(self, searcher: Searcher, docs: list[Document], packed: list[bytes],
                    text: str) -> list[dict[str, str]]:
        """Each hit's name, summary and snippet as escaped HTML with the words matching `text` in <mark>."""
        texts = [shown_texts(msgspec.json.decode(self._public_json(document)))
                 | (msgspec.json.decode(bytes(doc["own_text"][0])) if doc.get_all("own_text") else {})
                 for doc, document in zip(docs, packed, strict=True)]
        page_words = {word for shown in texts for word in ANALYZER.analyze(" ".join(shown.values()))}
        marks = highlight_query(highlight_terms(searcher, text, page_words))
        generators: dict[str, SnippetGenerator] = {}
        for name, chars in (("name", NAME_CHARS), ("summary", NAME_CHARS), ("body", SNIPPET_CHARS)):
            generators[name] = SnippetGenerator.create(searcher, marks, SCHEMA, name)
            generators[name].set_max_num_chars(chars)
        highlights = []
        for shown in texts:
            doc = Document()  # the snippet generator reads the text from a document
            for name, field_text in shown.items():
                doc.add_text(name, field_text)
            highlights.append({
                "name": render_highlight(generators["name"], doc, shown["name"]),
                "summary": render_highlight(generators["summary"], doc, shown["summary"]),
                "snippet": render_snippet(generators["body"], doc, shown["body"])})
        return highlights

    async def search(self, query: SearchQuery) -> SearchResult:
        kept = self._kept_answer(query)
        return kept if kept is not None else await self._search_thread(self._search, query)
