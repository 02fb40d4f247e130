"""One contract, every engine: the embedded Tantivy index always, Meilisearch when MEILISEARCH_URL is set.

Each test builds a small catalogue with known words and facets and checks what a buyer would notice: typo and
prefix tolerance, highlights that are safe HTML, facet counts, filters (OR within a field, AND across fields),
sorting, paging, and index changes applied idempotently by version."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from datetime import date

import pytest

from catalogue.search.port import IndexChange, SearchDocument, SearchIndex, SearchQuery
from catalogue.search.tantivy_index import TantivySearchIndex

MEILISEARCH_URL = os.environ.get("MEILISEARCH_URL")
ENGINES = ["embedded", pytest.param("meilisearch", marks=pytest.mark.skipif(
    not MEILISEARCH_URL, reason="MEILISEARCH_URL is not set: no Meilisearch server to run the contract against "
                                "(compose.yaml runs one)"))]


def document(doc_id: int, name: str, summary: str, body: str = "", *, version: int = 1, category: str = "wearables",
             care: tuple[str, ...] = ("home",), dtac: bool = True, sme: bool = False, icbs: tuple[str, ...] = (),
             published: str = "2026-01-01T09:00:00+00:00", expires: str = "9999-12-31") -> SearchDocument:
    public = {"id": doc_id, "name": name, "summary": summary, "url": f"/catalogue/innovations/{doc_id}",
              "documents": []}
    return SearchDocument(
        id=doc_id, index_version=version, public=public, name=name, summary=summary, body=body,
        values={"category": (category,), "care_setting": care, "device_class": ("class_i",), "esf_tier": ("b",),
                "dtac": ("true" if dtac else "false",), "dspt": ("standards_met",), "mtfm": ("false",),
                "sme": ("true" if sme else "false",), "icb": icbs},
        published_at=published, assurance_expires_on=expires)


CATALOGUE = [
    document(1, "Zio wearable ECG patch", "Finds atrial fibrillation at home", "cardiology monitoring",
             category="wearables", care=("home", "primary-care"), sme=True, icbs=("QMF",),
             published="2026-01-03T09:00:00+00:00"),
    document(2, "Doccla virtual ward", "Remote monitoring for patients at home", "virtual wards hospital at home",
             category="virtual-wards", care=("home", "acute"), dtac=True, icbs=("QMF", "QWE"),
             published="2026-01-02T09:00:00+00:00", expires="2025-12-31"),
    document(3, "Plus Sutures", "Triclosan-coated sutures to cut surgical site infection", "surgery",
             category="surgical", care=("acute",), dtac=False, sme=True, published="2026-01-01T09:00:00+00:00"),
    document(4, "Alcidion patient flow", "Hospital <b>bed</b> management & flow", "acute operations",
             category="virtual-wards", care=("acute",), dtac=False, published="2026-01-04T09:00:00+00:00"),
]


async def make_engine(kind: str, tmp_path) -> SearchIndex:
    if kind == "embedded":
        return TantivySearchIndex(tmp_path / "search")
    from catalogue.search.meili import MeiliSearchIndex

    return MeiliSearchIndex(MEILISEARCH_URL or "", os.environ.get("MEILISEARCH_API_KEY"),
                            index_uid=f"test-{uuid.uuid4().hex[:10]}")


@pytest.fixture(params=ENGINES)
async def engine(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[SearchIndex]:
    index = await make_engine(request.param, tmp_path)
    await index.start()
    for doc in CATALOGUE:
        assert await index.apply(IndexChange(doc.id, doc.index_version, doc))
    yield index
    if request.param == "meilisearch":
        await index.drop()  # type: ignore[attr-defined]
    await index.close()


async def ids(engine: SearchIndex, **kwargs) -> list[int]:
    return [hit.id for hit in (await engine.search(SearchQuery(**kwargs))).hits]


async def test_plain_words_prefixes_and_one_typo_find_the_listing(engine):
    assert await ids(engine, text="sutures") == [3]
    assert await ids(engine, text="sutu") == [3]  # the last word is a prefix: search as you type
    assert await ids(engine, text="wearble") == [1]  # one typo in a word of five letters or more
    assert await ids(engine, text="wearable ECG") == [1]
    assert await ids(engine, text="quantum teleporter") == []


async def test_synonyms_af_and_atrial_fibrillation(engine):
    assert await ids(engine, text="AF") == [1]
    assert await ids(engine, text="atrial fibrillation") == [1]


async def test_name_matches_rank_above_body_matches(engine):
    # "hospital" is in Alcidion's summary and Doccla's body; "virtual" is only in Doccla's name.
    found = await ids(engine, text="virtual")
    assert found[0] == 2


async def test_highlights_mark_the_match_and_escape_the_rest(engine):
    hit = (await engine.search(SearchQuery(text="bed"))).hits[0]
    assert hit.id == 4
    assert "<mark>bed</mark>" in hit.highlights["summary"]
    assert "&lt;b&gt;" in hit.highlights["summary"] and "<b>" not in hit.highlights["summary"]
    assert "&amp;" in hit.highlights["summary"]


async def test_a_highlighted_name_or_summary_keeps_its_punctuation_at_both_ends(engine):
    dressing = document(5, "(Pro) Wound dressing.", '"Silver" dressing for leg ulcers.')
    assert await engine.apply(IndexChange(5, 1, dressing))
    hit = (await engine.search(SearchQuery(text="dressing"))).hits[0]
    assert hit.id == 5
    assert hit.highlights["name"] == "(Pro) Wound <mark>dressing</mark>."
    assert hit.highlights["summary"] == '"Silver" <mark>dressing</mark> for leg ulcers.'


async def test_facet_counts_follow_the_query_and_filters(engine):
    everything = await engine.search(SearchQuery())
    assert everything.total == 4
    assert everything.facets["category"] == {"wearables": 1, "virtual-wards": 2, "surgical": 1}
    assert everything.facets["care_setting"] == {"home": 2, "primary-care": 1, "acute": 3}
    assert everything.facets["icb"] == {"QMF": 2, "QWE": 1}

    home = await engine.search(SearchQuery(filters={"care_setting": ("home",)}))
    assert home.total == 2
    assert home.facets["category"] == {"wearables": 1, "virtual-wards": 1}
    assert home.facets["sme"] == {"true": 1, "false": 1}


async def test_filters_or_within_a_field_and_across_fields(engine):
    assert sorted(await ids(engine, filters={"category": ("wearables", "surgical")})) == [1, 3]
    assert sorted(await ids(engine, filters={"category": ("wearables", "surgical"), "sme": ("true",),
                                             "care_setting": ("acute",)})) == [3]
    assert await ids(engine, text="monitoring", filters={"icb": ("QWE",)}) == [2]
    assert await ids(engine, filters={"dtac": ("true",), "category": ("surgical",)}) == []


async def test_expired_assurance_can_be_filtered_out(engine):
    found = await ids(engine, assurance_current_on=date(2026, 1, 5))
    assert sorted(found) == [1, 3, 4]  # Doccla's assurance expired on 31 December 2025


async def test_sorting_and_paging(engine):
    assert await ids(engine, sort="newest") == [4, 1, 2, 3]
    assert await ids(engine, sort="name") == [4, 2, 3, 1]
    first = await engine.search(SearchQuery(sort="newest", page=1, page_size=3))
    second = await engine.search(SearchQuery(sort="newest", page=2, page_size=3))
    assert ([h.id for h in first.hits], [h.id for h in second.hits]) == ([4, 1, 2], [3])
    assert first.total == second.total == 4


async def test_changes_apply_only_when_newer_so_replays_and_late_deliveries_change_nothing(engine):
    renamed = document(3, "Plus Antibacterial Sutures", "Triclosan sutures", version=2, category="surgical")
    assert await engine.apply(IndexChange(3, 2, renamed))
    assert not await engine.apply(IndexChange(3, 2, renamed))  # replay
    stale = document(3, "Old name", "Old", version=1, category="surgical")
    assert not await engine.apply(IndexChange(3, 1, stale))  # late delivery of an older version
    found = await engine.search(SearchQuery(text="antibacterial"))
    assert found.hits[0].document["name"] == "Plus Antibacterial Sutures"

    assert await engine.apply(IndexChange(3, 3, None))  # withdrawn
    assert await ids(engine, text="sutures") == []
    assert not await engine.apply(IndexChange(3, 2, renamed))  # an older upsert cannot bring it back
    assert await engine.indexed_version(3) == 3
    assert (await engine.search(SearchQuery())).facets["category"].get("surgical", 0) == 0


async def test_rebuild_replaces_the_index(engine):
    async def batches():
        yield [document(10, "HeartFlow FFRct", "CT derived coronary analysis", category="imaging")]
        yield [document(11, "Endocuff Vision", "Colonoscopy device", category="surgical")]

    assert await engine.rebuild(batches()) == 2
    everything = await engine.search(SearchQuery())
    assert sorted(hit.id for hit in everything.hits) == [10, 11]
    assert everything.facets["category"] == {"imaging": 1, "surgical": 1}
    assert await ids(engine, text="colonoscpy") == [11]  # the typo vocabulary is rebuilt too


async def test_health(engine):
    assert await engine.health()
