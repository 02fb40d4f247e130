"""Search: one query mix, timed in-process against the engine and over HTTP against `dps serve`.

The mix follows the catalogue issue: broad one-word queries (common words), specific multi-word queries (terms
from the middle of the vocabulary's distribution), filtered queries, empty-query browsing with facets, and queries
with a typo. Its words come from the same seeded vocabulary the generator wrote the listings with, so queries match
as real ones would: broad ones thousands of listings, specific ones a handful.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from urllib.parse import urlencode

from bench.report import Section, percentiles
from bench.rows import CARE_SETTING_WEIGHTS, CATEGORY_WEIGHTS, weighted
from bench.vocabulary import Vocabulary

# Share of each kind in the mix.
MIX = {"broad": 25, "specific": 25, "filtered": 20, "browse": 20, "typo": 10}
# Words of the sentence templates every listing shares: the commonest words of the catalogue.
COMMON_WORDS = ("patients", "care", "clinicians", "monitoring", "home", "service", "evidence", "digital",
                "support", "pathway", "remote", "app", "assessment", "screening", "team")


@dataclass(frozen=True)
class Case:
    kind: str
    params: tuple[tuple[str, str], ...]

    def path(self, base: str) -> str:
        return f"{base}?{urlencode(self.params)}" if self.params else base

    @property
    def counts_key(self) -> tuple[tuple[str, str], ...]:
        """What the engine keeps a query's total and facet counts by (not its page or sort), approximately: its
        words as typed, lower case, and its filters."""
        return tuple(sorted((name, " ".join(value.lower().split()) if name == "q" else value)
                            for name, value in self.params if name not in ("sort", "page")))

    def query(self, *, highlight: bool = False, page_size: int = 20):  # a SearchQuery
        from catalogue.search.port import FACET_FIELDS, SearchQuery

        filters: dict[str, tuple[str, ...]] = {}
        text, sort, page = "", "relevance", 1
        for name, value in self.params:
            if name == "q":
                text = value
            elif name == "sort":
                sort = value
            elif name == "page":
                page = int(value)
            else:
                filters[name] = (*filters.get(name, ()), value)
        return SearchQuery(text=text, filters=filters, facets=FACET_FIELDS, sort=sort, page=page,
                           page_size=page_size, highlight=highlight)


def _words(terms: tuple[str, ...]) -> list[str]:
    return [word for term in terms for word in term.lower().split() if len(word) >= 4 and word.isalpha()]


def typo(rng: random.Random, word: str) -> str:
    """One edit: a letter dropped, changed or two neighbours swapped (never the first letter)."""
    position = rng.randint(1, len(word) - 2)
    kind = rng.choice(("drop", "change", "swap"))
    if kind == "drop":
        return word[:position] + word[position + 1:]
    if kind == "change":
        letter = rng.choice([c for c in "aeioulnrst" if c != word[position]])
        return word[:position] + letter + word[position + 1:]
    return word[:position] + word[position + 1] + word[position] + word[position + 2:]


def query_mix(seed: int, count: int) -> list[Case]:
    """A fixed list of `count` queries for the data of `seed`."""
    vocabulary = Vocabulary.build(seed)
    rng = random.Random(f"{seed}:queries")
    broad = list(COMMON_WORDS) + _words(vocabulary.conditions.head(6) + vocabulary.any_product.head(6)
                                        + vocabulary.specialties.head(4))
    specific = [term.lower() for pool in (vocabulary.conditions, vocabulary.any_product, vocabulary.tests,
                                          vocabulary.procedures, vocabulary.composed)
                for term in pool.band(8, 120) if " " in term]
    typo_words = [word for word in _words(vocabulary.conditions.band(0, 60) + vocabulary.any_product.band(0, 80)
                                          + vocabulary.tests.band(0, 40)) if len(word) >= 6]
    categories = list(CATEGORY_WEIGHTS)
    cases = []
    for _ in range(count):
        kind = weighted(rng, MIX)
        if kind == "broad":
            cases.append(Case(kind, (("q", rng.choice(broad)),)))
        elif kind == "specific":
            cases.append(Case(kind, (("q", rng.choice(specific)),)))
        elif kind == "typo":
            words = [typo(rng, rng.choice(typo_words))]
            if rng.random() < 0.4:
                words.append(rng.choice(broad))
            cases.append(Case(kind, (("q", " ".join(words)),)))
        elif kind == "filtered":
            params = [("q", rng.choice(broad + specific)), ("category", weighted(rng, CATEGORY_WEIGHTS))]
            if rng.random() < 0.5:
                params += [("care_setting", weighted(rng, CARE_SETTING_WEIGHTS))]
            if rng.random() < 0.3:
                params.append(("dtac", "true"))
            if rng.random() < 0.2:
                params.append(("esf_tier", rng.choice(("b", "c"))))
            cases.append(Case(kind, tuple(params)))
        else:
            params = []
            if rng.random() < 0.6:
                params.append(("category", rng.choice(categories)))
            if rng.random() < 0.3:
                params.append(("care_setting", weighted(rng, CARE_SETTING_WEIGHTS)))
            sort = rng.choice(("relevance", "newest", "name"))
            if sort != "relevance":
                params.append(("sort", sort))
            if rng.random() < 0.3:
                params.append(("page", str(rng.randint(2, 5))))
            cases.append(Case(kind, tuple(params)))
    return cases


FIRST_TIME = "first time"  # the timings of queries whose words and filters came for the first time


async def time_engine(settings, cases: list[Case], warmup: int) -> dict[str, list[float]]:
    """Milliseconds per query, by kind, calling the engine as the API handler does; and, under FIRST_TIME, those
    of queries whose counts the engine could not have kept from an earlier query."""
    from catalogue.search import search_index_for

    index = search_index_for(settings)
    await index.start()
    seen: set[tuple[tuple[str, str], ...]] = set()
    for case in cases[:warmup]:
        await index.search(case.query())
        seen.add(case.counts_key)
    timings: dict[str, list[float]] = {}
    for case in cases:
        query = case.query()
        started = time.perf_counter()
        await index.search(query)
        elapsed = (time.perf_counter() - started) * 1000
        timings.setdefault(case.kind, []).append(elapsed)
        if case.counts_key not in seen:
            timings.setdefault(FIRST_TIME, []).append(elapsed)
            seen.add(case.counts_key)
    return timings


def engine_figures(section: Section, timings: dict[str, list[float]]) -> dict[str, float]:
    everything = [sample for kind, samples in timings.items() if kind in MIX for sample in samples]
    overall = percentiles(everything)
    section.add("engine: queries timed", len(everything), "queries")
    for name in ("p50", "p95", "p99"):
        section.add(f"engine: {name} latency, whole mix", overall[name], "ms")
    section.add("engine: queries a second (one at a time)", 1000 / overall["mean"], "req/s")
    for kind in MIX:
        if timings.get(kind):
            by_kind = percentiles(timings[kind])
            section.add(f"engine: {kind} p50 / p99", f"{by_kind['p50']:.1f} / {by_kind['p99']:.1f}", "ms")
    if timings.get(FIRST_TIME):
        first = percentiles(timings[FIRST_TIME])
        section.add("engine: queries whose words and filters came for the first time (no counts kept)",
                    len(timings[FIRST_TIME]), "queries")
        section.add("engine: p50 / p99 of those", f"{first['p50']:.1f} / {first['p99']:.1f}", "ms")
    return overall
