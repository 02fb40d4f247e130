"""The embedded search engine: SQLite FTS5 in its own file under var/ (whatever database the marketplace uses).

- Text: FTS5 with bm25 ranking (name weighs most, then summary, then the description), prefix matching on the
  last word (search as you type), highlight and snippet, and one typo in words of five letters or more: a
  vocabulary of indexed words with their single-deletion neighbourhoods finds the words one edit away.
- Filters never go inside MATCH: they are joins to `doc_values`, an indexed (field, value, doc) table.
- Facet counts come from an in-memory matrix (document x facet value) kept in step with the file by a sequence
  number, so counting 20,000 hits is one vectorised sum, and browsing without a query uses cached counts.
- Idempotent: `docs` keeps each listing's index_version (also after removal, as a tombstone), and a change
  applies only if it is newer.

SQLite calls run on a small thread pool (one connection per thread) so the event loop never waits on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import logging
import re
import sqlite3
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import AsyncIterable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from catalogue.rules import markdown_as_text
from catalogue.search.port import (
    FACET_FIELDS,
    SYNONYMS,
    IndexChange,
    Progress,
    SearchDocument,
    SearchHit,
    SearchQuery,
    SearchResult,
)

logger = logging.getLogger("dps.search")
SCHEMA_VERSION = "3"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS docs (
    id INTEGER PRIMARY KEY,
    version INTEGER NOT NULL,
    live INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    published_at TEXT NOT NULL DEFAULT '',
    name_key TEXT NOT NULL DEFAULT '',
    expires_on TEXT NOT NULL DEFAULT '9999-12-31',
    facet_values TEXT NOT NULL DEFAULT '[]',
    document TEXT
);
CREATE INDEX IF NOT EXISTS docs_seq ON docs (seq);
CREATE INDEX IF NOT EXISTS docs_newest ON docs (live, published_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS docs_name ON docs (live, name_key, id);
CREATE INDEX IF NOT EXISTS docs_expires ON docs (live, expires_on);
CREATE TABLE IF NOT EXISTS doc_values (
    field TEXT NOT NULL, value TEXT NOT NULL, doc_id INTEGER NOT NULL, PRIMARY KEY (field, value, doc_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS doc_values_doc ON doc_values (doc_id);
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(
    name, summary, body, keywords, tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3'
);
CREATE VIRTUAL TABLE IF NOT EXISTS fts_terms USING fts5vocab(fts, 'row');
CREATE TABLE IF NOT EXISTS vocab (term TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS vocab_keys (key TEXT NOT NULL, term TEXT NOT NULL, PRIMARY KEY (key, term)) WITHOUT ROWID;
"""

WEIGHTS = (10.0, 4.0, 1.0, 2.0)  # bm25 weights: name, summary, body (description), keywords
TYPO_MIN_LENGTH = 5
TYPO_KEY_MIN_LENGTH = 4  # words of 4 letters can be one edit from a typed word of 5
MAX_TYPO_CANDIDATES = 8
MAX_QUERY_WORDS = 10
RANK_ALL_LIMIT = 3000  # result sets up to this size are ranked whole by bm25
SMALL_HIT_SET = 4000  # below this many hits, facet counts add rows up instead of one product over the whole table
RESULT_CACHE_SIZE = 512  # recent queries' totals, facets and page ids, dropped whenever the index changes
SNIPPET_WORDS = 24
_WORD = re.compile(r"[^\W_]+")


def tokenize(text: str) -> list[str]:
    """Words as FTS5's unicode61 tokenizer (remove_diacritics 2) sees them: lower case, accents removed."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _WORD.findall(plain)


def _normalise(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


def within_one_edit(a: str, b: str) -> bool:
    """Optimal string alignment distance <= 1: one insertion, deletion, substitution or swap of neighbours."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        diffs = [i for i in range(la) if a[i] != b[i]]
        if len(diffs) == 1:
            return True
        return (len(diffs) == 2 and diffs[1] == diffs[0] + 1
                and a[diffs[0]] == b[diffs[1]] and a[diffs[1]] == b[diffs[0]])
    shorter, longer = (a, b) if la < lb else (b, a)
    return any(longer[:i] + longer[i + 1:] == shorter for i in range(len(longer)))


def _quote(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def vocabulary_rows(terms: Iterable[str]) -> tuple[list[tuple[str]], list[tuple[str, str]]]:
    words, keys = [], []
    for term in terms:
        words.append((term,))
        if len(term) >= TYPO_KEY_MIN_LENGTH and term.isalpha():
            keys.append((term, term))
            keys.extend((key, term) for key in deletions(term))
    return words, keys


@dataclass(frozen=True)
class ParsedQuery:
    """A buyer's words as an FTS5 expression, plus what to highlight: exact words and prefixes, all normalised
    as the tokenizer normalises them."""

    expression: str
    exact: frozenset[str]
    prefixes: tuple[str, ...]

    @property
    def pattern(self) -> re.Pattern[str]:
        cached = _PATTERNS.get((self.exact, self.prefixes))
        if cached is None:
            options = [re.escape(word) for word in sorted(self.exact, key=len, reverse=True)]
            options += [re.escape(prefix) + r"[^\W_]*" for prefix in self.prefixes]
            cached = re.compile(r"(?<![^\W_])(?:" + "|".join(options) + r")(?![^\W_])", re.IGNORECASE)
            if len(_PATTERNS) > 1000:
                _PATTERNS.clear()
            _PATTERNS[(self.exact, self.prefixes)] = cached
        return cached

    def _render(self, text: str) -> str:
        out, position = [], 0
        for found in self.pattern.finditer(text):
            out.append(html.escape(text[position:found.start()], quote=False))
            out.append("<mark>" + html.escape(found.group(), quote=False) + "</mark>")
            position = found.end()
        out.append(html.escape(text[position:], quote=False))
        return "".join(out)

    def highlight(self, text: str) -> str:
        """Safe HTML: the text escaped, matching words in <mark>."""
        return self._render(text)

    def snippet(self, text: str, before: int = 60, after: int = 160) -> str:
        """A passage of the text around its first match, as safe HTML; empty if nothing matches."""
        found = self.pattern.search(text)
        if found is None:
            return ""
        start = max(0, found.start() - before)
        end = min(len(text), found.end() + after)
        if start > 0:
            space = text.find(" ", start, found.start())
            start = space + 1 if space != -1 else start
        if end < len(text):
            space = text.rfind(" ", found.end(), end)
            end = space if space != -1 else end
        return ("…" if start > 0 else "") + self._render(text[start:end]) + ("…" if end < len(text) else "")


_PATTERNS: dict[tuple[frozenset[str], tuple[str, ...]], re.Pattern[str]] = {}


class DocTable:
    """Every live document's facet values, publication time and name, in memory as arrays, kept in step with the
    index file by sequence number. Facet counts for any set of hits are one matrix-vector product; ordering hits
    by newest or by name is a partial sort of precomputed ranks. Nothing here decides *which* documents match:
    that is SQL (FTS5 MATCH and the doc_values joins)."""

    def __init__(self) -> None:
        self.seq = -1
        self.columns: dict[tuple[str, str], int] = {}
        self.names: list[tuple[str, str]] = []
        self.matrix = np.zeros((1024, 32), dtype=np.float32)
        self.row_of_id = np.full(1024, -1, dtype=np.int64)
        self.id_of_row = np.zeros(1024, dtype=np.int64)
        self.alive = np.zeros(1024, dtype=bool)
        self.published = np.zeros(1024, dtype=np.float64)
        self.name_keys: list[str] = []
        self.rows = 0
        self.alive_count = 0
        self._all_counts: dict[str, dict[str, int]] | None = None
        self._ranks: dict[str, np.ndarray] = {}

    def _grow_rows(self, needed: int) -> None:
        size = self.matrix.shape[0]
        if needed <= size:
            return
        new_size = max(needed, size * 2)
        matrix = np.zeros((new_size, self.matrix.shape[1]), dtype=np.float32)
        matrix[:size] = self.matrix
        self.matrix = matrix
        for name, fill in (("id_of_row", 0), ("alive", False), ("published", 0.0)):
            old = getattr(self, name)
            grown = np.full(new_size, fill, dtype=old.dtype)
            grown[:size] = old
            setattr(self, name, grown)

    def _column(self, key: tuple[str, str]) -> int:
        column = self.columns.get(key)
        if column is None:
            column = len(self.names)
            self.columns[key] = column
            self.names.append(key)
            if column >= self.matrix.shape[1]:
                grown = np.zeros((self.matrix.shape[0], self.matrix.shape[1] * 2), dtype=np.float32)
                grown[:, : self.matrix.shape[1]] = self.matrix
                self.matrix = grown
        return column

    def _row(self, doc_id: int) -> int:
        if doc_id >= len(self.row_of_id):
            grown = np.full(max(doc_id + 1, len(self.row_of_id) * 2), -1, dtype=np.int64)
            grown[: len(self.row_of_id)] = self.row_of_id
            self.row_of_id = grown
        row = int(self.row_of_id[doc_id])
        if row < 0:
            row = self.rows
            self.rows += 1
            self._grow_rows(self.rows)
            self.row_of_id[doc_id] = row
            self.id_of_row[row] = doc_id
            self.name_keys.append("")
        return row

    def update(self, rows: Sequence[tuple[int, int, str, str, str]], seq: int) -> None:
        changed_rows: list[int] = []
        set_rows: list[int] = []
        set_columns: list[int] = []
        column_of = self.columns
        for doc_id, live, facet_values, published_at, name_key in rows:
            row = self._row(doc_id)
            changed_rows.append(row)
            if live:
                for pair in json.loads(facet_values):
                    key = (pair[0], pair[1])
                    column = column_of.get(key)
                    set_rows.append(row)
                    set_columns.append(column if column is not None else self._column(key))
            self.alive[row] = bool(live)
            self.published[row] = _timestamp(published_at) if live else 0.0
            self.name_keys[row] = name_key if live else ""
        if changed_rows:
            self.matrix[np.array(changed_rows, dtype=np.int64), :] = 0
        if set_rows:
            self.matrix[np.array(set_rows, dtype=np.int64), np.array(set_columns, dtype=np.int64)] = 1
        self.seq = seq
        self._all_counts = None
        self._ranks = {}
        self.alive_count = int(self.alive[: self.rows].sum())

    def rows_of(self, doc_ids: np.ndarray) -> np.ndarray:
        doc_ids = doc_ids[doc_ids < len(self.row_of_id)]
        rows = self.row_of_id[doc_ids]
        return rows[rows >= 0]

    def _as_dict(self, totals: np.ndarray, facets: Iterable[str]) -> dict[str, dict[str, int]]:
        wanted = set(facets)
        result: dict[str, dict[str, int]] = {name: {} for name in facets}
        for column in np.flatnonzero(totals[: len(self.names)] > 0.5):
            field, value = self.names[column]
            if field in wanted:
                result[field][value] = int(round(float(totals[column])))
        return result

    def counts_for(self, rows: np.ndarray, facets: Iterable[str]) -> dict[str, dict[str, int]]:
        if len(rows) == 0:
            return {name: {} for name in facets}
        columns = max(len(self.names), 1)
        if len(rows) < SMALL_HIT_SET:  # a few rows: add them up directly
            totals = self.matrix[rows, :columns].sum(axis=0)
        else:  # many rows: one matrix-vector product over the whole table
            selected = np.zeros(self.rows, dtype=np.float32)
            selected[rows] = 1.0
            totals = selected @ self.matrix[: self.rows, :columns]
        return self._as_dict(totals, facets)

    def counts_for_all(self, facets: Iterable[str]) -> dict[str, dict[str, int]]:
        if self._all_counts is None:
            self._all_counts = self.counts_for(np.flatnonzero(self.alive[: self.rows]), FACET_FIELDS)
        return {name: dict(self._all_counts.get(name, {})) for name in facets}

    def _rank(self, sort: str) -> np.ndarray:
        """Position of each row in the whole catalogue's order (newest first, or name A to Z; ties by id)."""
        rank = self._ranks.get(sort)
        if rank is None:
            ids = self.id_of_row[: self.rows]
            if sort == "newest":
                order = np.lexsort((-ids, -self.published[: self.rows]))
            else:
                keys = np.array(self.name_keys[: self.rows], dtype=object)
                order = np.array(sorted(range(self.rows), key=lambda r: (keys[r], ids[r])), dtype=np.int64)
            rank = np.empty(self.rows, dtype=np.int64)
            rank[order] = np.arange(self.rows)
            self._ranks[sort] = rank
        return rank

    def ordered_ids(self, rows: np.ndarray, sort: str, start: int, stop: int) -> list[int]:
        """The ids of `rows` in `sort` order, from position `start` to `stop`."""
        if len(rows) == 0 or start >= len(rows):
            return []
        ranks = self._rank(sort)[rows]
        stop = min(stop, len(rows))
        if stop < len(rows):
            nearest = np.argpartition(ranks, stop - 1)[:stop]
            nearest = nearest[np.argsort(ranks[nearest])]
        else:
            nearest = np.argsort(ranks)
        return [int(i) for i in self.id_of_row[rows[nearest[start:stop]]]]


def _timestamp(iso: str) -> float:
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values (numpy's unique uses hashing here, which is far slower for this)."""
    values = np.sort(values)
    if len(values) < 2:
        return values
    return values[np.concatenate(([True], values[1:] != values[:-1]))]


def _id_array(joined: str | None) -> np.ndarray:
    """Ids from SQLite's group_concat: one string, parsed by numpy, much faster than a row per id."""
    if not joined:
        return np.zeros(0, dtype=np.int64)
    return np.fromstring(joined, dtype=np.int64, sep=",")


class EmbeddedSearchIndex:
    name = "embedded"

    def __init__(self, path: Path, threads: int = 2, cache_results: bool = True) -> None:
        self.path = Path(path)
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="search")
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()  # guards the list of connections
        self._search_lock = threading.Lock()
        self._started = False
        self._doc_table: DocTable | None = None
        self._cache: OrderedDict[Any, tuple[int, dict[str, dict[str, int]], list[int]]] = OrderedDict()
        self.cache_results = cache_results

    # --- plumbing -----------------------------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("PRAGMA busy_timeout=30000")
        connection.execute("PRAGMA temp_store=MEMORY")
        connection.execute("PRAGMA cache_size=-65536")
        return connection

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._open()
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    async def _run(self, function: Any, *args: Any) -> Any:
        if not self._started:
            await self.start()
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    async def start(self) -> None:
        if self._started:
            return
        await asyncio.get_running_loop().run_in_executor(self._executor, self._create)
        self._started = True

    def _create(self) -> None:
        """Create the index file's tables. An index written by an older layout is dropped and made afresh: it
        holds derived data only, and `dps reindex` fills it again."""
        connection = self._connection()
        connection.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID")
        row = connection.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        has_docs = connection.execute("SELECT 1 FROM sqlite_master WHERE name = 'docs'").fetchone()
        if has_docs and (row is None or row[0] != SCHEMA_VERSION):
            logger.warning("search index %s has an old layout: rebuilding it empty; run `dps reindex`", self.path)
            for name in ("fts_terms", "fts", "docs", "doc_values", "vocab", "vocab_keys"):
                connection.execute(f"DROP TABLE IF EXISTS {name}")
        connection.executescript(SCHEMA)
        connection.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema', ?)", (SCHEMA_VERSION,))

    def close_now(self) -> None:
        """Close every connection and stop the threads (from synchronous code)."""
        self._executor.shutdown(wait=True)
        with self._lock:
            for connection in self._connections:
                with contextlib.suppress(sqlite3.Error):
                    connection.close()
            self._connections.clear()

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.close_now)

    async def health(self) -> bool:
        try:
            return bool(await self._run(lambda: self._connection().execute("SELECT count(*) FROM meta").fetchone()
                                        is not None))
        except (sqlite3.Error, OSError):
            return False

    # --- writing ------------------------------------------------------------------------------------------

    @staticmethod
    def _facet_values(document: SearchDocument) -> list[tuple[str, str]]:
        return [(field, value) for field in FACET_FIELDS for value in document.values.get(field, ())]

    def _write(self, connection: sqlite3.Connection, document: SearchDocument, seq: int,
               new_terms: set[str] | None) -> None:
        doc_id = document.id
        connection.execute("DELETE FROM fts WHERE rowid = ?", (doc_id,))
        connection.execute("DELETE FROM doc_values WHERE doc_id = ?", (doc_id,))
        connection.execute("INSERT INTO fts (rowid, name, summary, body, keywords) VALUES (?, ?, ?, ?, ?)",
                           (doc_id, document.name, document.summary, document.body, document.keywords))
        connection.executemany("INSERT OR IGNORE INTO doc_values (field, value, doc_id) VALUES (?, ?, ?)",
                               [(field, value, doc_id) for field, values in document.values.items()
                                for value in values])
        connection.execute(
            "INSERT OR REPLACE INTO docs (id, version, live, seq, published_at, name_key, expires_on, facet_values,"
            " document) VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?)",
            (doc_id, document.index_version, seq, document.published_at, document.name.casefold(),
             document.assurance_expires_on, json.dumps(self._facet_values(document)), json.dumps(document.public)))
        terms = set(tokenize(" ".join((document.name, document.summary, document.body, document.keywords))))
        if new_terms is not None:
            new_terms.update(terms)
        else:
            words, keys = vocabulary_rows(terms)
            connection.executemany("INSERT OR IGNORE INTO vocab (term) VALUES (?)", words)
            connection.executemany("INSERT OR IGNORE INTO vocab_keys (key, term) VALUES (?, ?)", keys)

    def _remove(self, connection: sqlite3.Connection, listing_id: int, version: int, seq: int) -> None:
        connection.execute("DELETE FROM fts WHERE rowid = ?", (listing_id,))
        connection.execute("DELETE FROM doc_values WHERE doc_id = ?", (listing_id,))
        connection.execute(
            "INSERT OR REPLACE INTO docs (id, version, live, seq, document) VALUES (?, ?, 0, ?, NULL)",
            (listing_id, version, seq))

    def _apply(self, change: IndexChange) -> bool:
        connection = self._connection()
        connection.execute("BEGIN IMMEDIATE")
        try:
            row = connection.execute("SELECT version FROM docs WHERE id = ?", (change.listing_id,)).fetchone()
            if row is not None and row[0] >= change.index_version:
                connection.execute("COMMIT")
                return False
            seq = connection.execute("SELECT coalesce(max(seq), 0) + 1 FROM docs").fetchone()[0]
            if change.document is None:
                self._remove(connection, change.listing_id, change.index_version, seq)
            else:
                self._write(connection, change.document, seq, None)
            connection.execute("COMMIT")
            return True
        except BaseException:
            connection.execute("ROLLBACK")
            raise

    async def apply(self, change: IndexChange) -> bool:
        return bool(await self._run(self._apply, change))

    async def rebuild(self, documents: AsyncIterable[list[SearchDocument]], progress: Progress | None = None) -> int:
        """Rebuild in one transaction on a connection of its own: searches see the old index until it commits.
        A newer version applied by the outbox worker meanwhile is kept, and so is a listing indexed after the
        rebuild started."""
        await self.start()
        loop = asyncio.get_running_loop()

        async def run(function: Any, *args: Any) -> Any:
            return await loop.run_in_executor(None, function, *args)

        connection = await run(self._open)
        indexed, seen, terms = 0, list[int](), set[str]()
        try:
            start_seq = (await run(lambda: connection.execute("SELECT coalesce(max(seq), 0) FROM docs").fetchone()))[0]
            await run(connection.execute, "BEGIN IMMEDIATE")
            try:
                existing = dict(await run(lambda: connection.execute("SELECT id, version FROM docs").fetchall()))
                seq = start_seq + 1

                def write_batch(batch: list[SearchDocument]) -> None:
                    for document in batch:
                        if existing.get(document.id, -1) <= document.index_version:
                            self._write(connection, document, seq, terms)

                async for batch in documents:
                    await run(write_batch, batch)
                    seen.extend(document.id for document in batch)
                    indexed += len(batch)
                    if progress:
                        progress(len(batch))

                def finish() -> None:
                    connection.execute("CREATE TEMP TABLE IF NOT EXISTS rebuilt (id INTEGER PRIMARY KEY)")
                    connection.execute("DELETE FROM rebuilt")
                    connection.executemany("INSERT OR IGNORE INTO rebuilt (id) VALUES (?)", ((i,) for i in seen))
                    gone = connection.execute(
                        "SELECT id, version FROM docs WHERE live = 1 AND seq <= ? "
                        "AND id NOT IN (SELECT id FROM rebuilt)",
                        (start_seq,)).fetchall()
                    for listing_id, version in gone:
                        self._remove(connection, listing_id, version, seq)
                    # The vocabulary is rebuilt from what the full-text index now holds: no stale words.
                    connection.execute("DELETE FROM vocab")
                    connection.execute("DELETE FROM vocab_keys")
                    live_terms = [row[0] for row in connection.execute("SELECT term FROM fts_terms").fetchall()]
                    words, keys = vocabulary_rows(live_terms)
                    connection.executemany("INSERT OR IGNORE INTO vocab (term) VALUES (?)", words)
                    connection.executemany("INSERT OR IGNORE INTO vocab_keys (key, term) VALUES (?, ?)", keys)
                    connection.execute("INSERT INTO fts (fts) VALUES ('optimize')")
                    connection.execute("COMMIT")

                await run(finish)
            except BaseException:
                await run(connection.execute, "ROLLBACK")
                raise
        finally:
            await run(connection.close)
        return indexed

    async def indexed_version(self, listing_id: int) -> int | None:
        row = await self._run(lambda: self._connection().execute(
            "SELECT version FROM docs WHERE id = ?", (listing_id,)).fetchone())
        return None if row is None else int(row[0])

    # --- searching ----------------------------------------------------------------------------------------

    def _term_alternatives(self, connection: sqlite3.Connection, word: str, prefix: bool) -> list[tuple[str, bool]]:
        """The terms a typed word stands for, as (term, is_prefix): itself (a prefix when it is the last word)
        and, when the index has no such word, the indexed words one typo away."""
        alternatives = [(word, prefix)]
        if len(word) < TYPO_MIN_LENGTH or not word.isalpha():
            return alternatives
        if prefix:
            known = connection.execute("SELECT 1 FROM vocab WHERE term >= ? AND term < ? LIMIT 1",
                                       (word, word + "\U0010ffff")).fetchone()
        else:
            known = connection.execute("SELECT 1 FROM vocab WHERE term = ?", (word,)).fetchone()
        if known:
            return alternatives
        keys = sorted(deletions(word) | {word})
        placeholders = ",".join("?" * len(keys))
        candidates = sorted({row[0] for row in connection.execute(
            f"SELECT DISTINCT term FROM vocab_keys WHERE key IN ({placeholders})", keys)})  # placeholders only
        close = [term for term in candidates if term != word and within_one_edit(word, term)]
        return alternatives + [(term, False) for term in close[:MAX_TYPO_CANDIDATES]]

    def parse_query(self, connection: sqlite3.Connection, text: str) -> ParsedQuery | None:
        """The FTS5 expression for what a buyer typed (AND across words, OR across a word's typo variants and
        synonyms), and the words to highlight."""
        words = tokenize(text)[:MAX_QUERY_WORDS]
        if not words:
            return None
        groups: list[str] = []
        exact: set[str] = set()
        prefixes: set[str] = set()

        def option(term: str, prefix: bool = False) -> str:
            (prefixes if prefix else exact).update([term] if prefix else term.split())
            return _quote(term) + ("*" if prefix else "")

        i = 0
        while i < len(words):
            pair = " ".join(words[i:i + 2]) if i + 1 < len(words) else None
            if pair and pair in SYNONYMS:
                options = [option(pair)] + [option(synonym) for synonym in SYNONYMS[pair]]
                groups.append("(" + " OR ".join(options) + ")")
                i += 2
                continue
            word = words[i]
            options = [option(term, prefix) for term, prefix in
                       self._term_alternatives(connection, word, prefix=i == len(words) - 1)]
            options += [option(synonym) for synonym in SYNONYMS.get(word, ())]
            groups.append("(" + " OR ".join(options) + ")" if len(options) > 1 else options[0])
            i += 1
        return ParsedQuery(" AND ".join(groups), frozenset(exact), tuple(sorted(prefixes)))

    def match_expression(self, connection: sqlite3.Connection, text: str) -> str | None:
        parsed = self.parse_query(connection, text)
        return None if parsed is None else parsed.expression

    @staticmethod
    def _allowed_ids(connection: sqlite3.Connection, query: SearchQuery) -> np.ndarray | None:
        """The ids a query's filters allow (sorted), or None without filters. Each field is one range read of
        the indexed doc_values table (its primary key is field, value, doc_id): OR within a field; the fields'
        sets are then intersected (AND). Filters never go inside MATCH."""
        allowed: np.ndarray | None = None
        for field, values in sorted(query.filters.items()):
            if not values:
                continue
            found = _id_array(connection.execute(
                f"SELECT group_concat(doc_id) FROM doc_values WHERE field = ? AND value IN "
                f"({','.join('?' * len(values))})", (field, *values)).fetchone()[0])
            found = _sorted_unique(found) if len(values) > 1 else found
            allowed = found if allowed is None else np.intersect1d(allowed, found, assume_unique=True)
        if query.assurance_current_on is not None:
            current = np.sort(_id_array(connection.execute(
                "SELECT group_concat(id) FROM docs WHERE live = 1 AND expires_on >= ?",
                (query.assurance_current_on.isoformat(),)).fetchone()[0]))
            allowed = current if allowed is None else np.intersect1d(allowed, current, assume_unique=True)
        return allowed

    def _table(self, connection: sqlite3.Connection) -> DocTable:
        if self._doc_table is None:
            self._doc_table = DocTable()
        latest = connection.execute("SELECT coalesce(max(seq), 0) FROM docs").fetchone()[0]
        if latest != self._doc_table.seq:
            rows = connection.execute(
                "SELECT id, live, facet_values, published_at, name_key FROM docs WHERE seq > ? ORDER BY seq",
                (self._doc_table.seq,)).fetchall()
            self._doc_table.update(rows, latest)
            self._cache.clear()
        return self._doc_table

    def _search(self, query: SearchQuery) -> SearchResult:
        connection = self._connection()
        connection.execute("BEGIN")  # one snapshot for the hits, the facets and the documents
        try:
            return self._search_in_snapshot(connection, query)
        finally:
            connection.execute("COMMIT")

    def _ranked(self, connection: sqlite3.Connection, match: str, ids: np.ndarray, match_count: int,
                filtered: bool, table: DocTable, stop: int) -> list[int]:
        """The first `stop` of `ids` (the filtered matches) by relevance.

        When the words match few documents (at most RANK_ALL_LIMIT, before filters), all of them are ranked by
        bm25. When they match many (a very common word), bm25 over every match would dominate the cost, so the
        ranking is in tiers: documents matching in the name (by bm25 when there are few of those, else newest
        first), then in the summary, then the rest, newest first. bm25 is never computed over more than
        RANK_ALL_LIMIT documents."""
        order = "ORDER BY bm25(fts, ?, ?, ?, ?), fts.rowid"
        wanted = set(ids.tolist()) if filtered else None

        def by_score(expression: str, limit: int | None) -> list[int]:
            sql = f"SELECT rowid FROM fts WHERE fts MATCH ? {order}" + (" LIMIT ?" if limit else "")
            found = [r[0] for r in connection.execute(sql, (expression, *WEIGHTS,
                                                            *([limit] if limit else []))).fetchall()]
            return found if wanted is None else [i for i in found if i in wanted]

        if match_count <= RANK_ALL_LIMIT:
            return by_score(match, None if filtered else stop)[:stop]
        name_all = _id_array(connection.execute("SELECT group_concat(rowid) FROM fts WHERE fts MATCH ?",
                                                (f"{{name}} : ({match})",)).fetchone()[0])
        in_name = name_all[np.isin(name_all, ids, assume_unique=True)] if filtered else name_all
        if len(name_all) <= RANK_ALL_LIMIT:
            ranked = by_score(f"{{name}} : ({match})", None if filtered else stop)[:stop]
        else:
            ranked = table.ordered_ids(table.rows_of(in_name), "newest", 0, stop)
        if len(ranked) >= stop:
            return ranked
        in_summary = _id_array(connection.execute("SELECT group_concat(rowid) FROM fts WHERE fts MATCH ?",
                                                  (f"{{summary}} : ({match})",)).fetchone()[0])
        keep = ~np.isin(in_summary, in_name)
        if filtered:
            keep &= np.isin(in_summary, ids, assume_unique=True)
        in_summary = in_summary[keep]
        ranked += table.ordered_ids(table.rows_of(in_summary), "newest", 0, stop - len(ranked))
        if len(ranked) >= stop:
            return ranked
        rest = ids[~(np.isin(ids, in_name) | np.isin(ids, in_summary))]
        return ranked + table.ordered_ids(table.rows_of(rest), "newest", 0, stop - len(ranked))

    def _search_in_snapshot(self, connection: sqlite3.Connection, query: SearchQuery) -> SearchResult:
        parsed = self.parse_query(connection, query.text) if query.text.strip() else None
        match = None if parsed is None else parsed.expression
        key = (match, tuple(sorted(query.filters.items())), query.assurance_current_on, query.sort, query.page,
               query.page_size, query.facets)
        with self._search_lock:  # the in-memory table and the cache are shared by the pool's threads
            table = self._table(connection)
            cached = self._cache.get(key) if self.cache_results else None
            if cached is not None:
                self._cache.move_to_end(key)
                total, facets, page_ids = cached
            else:
                total, facets, page_ids = self._page(connection, table, query, match)
                if self.cache_results:
                    self._cache[key] = (total, facets, page_ids)
                    while len(self._cache) > RESULT_CACHE_SIZE:
                        self._cache.popitem(last=False)
        hits = self._hits(connection, page_ids, parsed if query.highlight else None)
        return SearchResult(hits=hits, total=total, page=query.page, page_size=query.page_size,
                            facets={name: dict(values) for name, values in facets.items()})

    def _page(self, connection: sqlite3.Connection, table: DocTable, query: SearchQuery,
              match: str | None) -> tuple[int, dict[str, dict[str, int]], list[int]]:
        start, stop = query.offset, query.offset + query.page_size
        if match is None and not query.filters and query.assurance_current_on is None:
            # Browsing everything: cached facet counts, and one page read through an index.
            order = {"name": "d.name_key, d.id"}.get(query.sort, "d.published_at DESC, d.id DESC")
            page_ids = [row[0] for row in connection.execute(
                f"SELECT d.id FROM docs d WHERE d.live = 1 ORDER BY {order} LIMIT ? OFFSET ?",
                (query.page_size, start)).fetchall()]
            return table.alive_count, table.counts_for_all(query.facets), page_ids
        allowed = self._allowed_ids(connection, query)
        match_count = 0
        if match is not None:
            # FTS5 gives each matching rowid once, in ascending order: already a sorted set.
            ids = _id_array(connection.execute(
                "SELECT group_concat(rowid) FROM fts WHERE fts MATCH ?", (match,)).fetchone()[0])
            match_count = len(ids)
            if allowed is not None:
                ids = np.intersect1d(ids, allowed, assume_unique=True)
        else:
            ids = allowed if allowed is not None else np.zeros(0, dtype=np.int64)
        rows = table.rows_of(ids)
        facets = table.counts_for(rows, query.facets) if query.facets else {}
        if match is not None and query.sort == "relevance":
            ranked = self._ranked(connection, match, ids, match_count, allowed is not None, table, stop)
            return len(rows), facets, ranked[start:stop]
        sort = "name" if query.sort == "name" else "newest"
        return len(rows), facets, table.ordered_ids(rows, sort, start, stop)

    def _hits(self, connection: sqlite3.Connection, page_ids: list[int], parsed: ParsedQuery | None) -> list[SearchHit]:
        if not page_ids:
            return []
        placeholders = ",".join("?" * len(page_ids))
        documents = {row[0]: json.loads(row[1]) for row in connection.execute(
            f"SELECT id, document FROM docs WHERE id IN ({placeholders})", page_ids).fetchall()}
        hits = []
        for doc_id in page_ids:
            document = documents.get(doc_id)
            if document is None:
                continue
            highlights: dict[str, str] = {}
            if parsed is not None:
                highlights = {"name": parsed.highlight(document.get("name", "")),
                              "summary": parsed.highlight(document.get("summary", "")),
                              "snippet": parsed.snippet(markdown_as_text(document.get("description", "")))}
            hits.append(SearchHit(id=doc_id, document=document, highlights=highlights))
        return hits

    async def search(self, query: SearchQuery) -> SearchResult:
        return await self._run(self._search, query)
