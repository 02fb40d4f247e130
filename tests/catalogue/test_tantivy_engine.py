"""Embedded (Tantivy) engine specifics beyond the contract: typo rules and ranking, highlights of typo matches,
batches, one writer across processes, readers that see another process's commits, a failed rebuild, and an index
directory it cannot open."""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalogue.search import tantivy_index
from catalogue.search.port import IndexChange, SearchQuery
from catalogue.search.tantivy_index import TantivySearchIndex, WriterBusy
from dps.settings import PROJECT_ROOT
from tests.catalogue.test_search_contract import document


async def engine_with(tmp_path, docs) -> TantivySearchIndex:
    index = TantivySearchIndex(tmp_path / "search")
    assert all(await index.apply_many([IndexChange(doc.id, doc.index_version, doc) for doc in docs]))
    return index


async def ids(index: TantivySearchIndex, text: str, **kwargs) -> list[int]:
    return [hit.id for hit in (await index.search(SearchQuery(text=text, **kwargs))).hits]


async def test_an_exact_match_ranks_above_a_typo_match_even_in_a_lighter_field(tmp_path):
    index = await engine_with(tmp_path, [
        document(1, "Monitering kit", "Nothing here"),  # a typo of the word, in the name
        document(2, "Alpha", "Nothing here", "remote monitoring at home"),  # the word itself, in the description
    ])
    assert await ids(index, "monitoring") == [2, 1]
    await index.close()


async def test_typos_allowed_grow_with_the_word(tmp_path):
    index = await engine_with(tmp_path, [
        document(1, "Doccla virtual ward", "Remote monitoring"),
        document(2, "Endocuff colonoscopy device", "Adenoma detection"),
        document(3, "Zio wearable ECG patch", "Heart rhythm"),
    ])
    assert await ids(index, "wird remote") == []  # four letters: no typo
    assert await ids(index, "wearble") == [3]  # seven letters: one typo
    assert await ids(index, "weirble") == []  # seven letters: not two
    assert await ids(index, "colonscpy") == [2]  # nine letters: two typos
    assert await ids(index, "wea") == [3]  # the last word is a prefix
    assert await ids(index, "wea remote") == []  # an earlier word is not
    await index.close()


async def test_typo_matches_are_highlighted_and_the_snippet_is_a_passage(tmp_path):
    long_body = "Intro words. " * 30 + "Patients wear the wearable patch for fourteen days. " + "Closing words. " * 30
    index = await engine_with(tmp_path, [document(1, "Zio wearable ECG patch", "A <wearable> & more", long_body)])
    hit = (await index.search(SearchQuery(text="wearble"))).hits[0]
    assert hit.highlights["name"] == "Zio <mark>wearable</mark> ECG patch"
    assert hit.highlights["summary"] == "A &lt;<mark>wearable</mark>&gt; &amp; more"
    snippet = hit.highlights["snippet"]
    assert "<mark>wearable</mark>" in snippet and snippet.startswith("…") and snippet.endswith("…")
    assert len(snippet) < len(long_body) / 2
    plain = (await index.search(SearchQuery(text="wearble", highlight=False))).hits[0]
    assert plain.highlights == {}
    await index.close()


async def test_a_batch_applies_each_change_only_if_newer_within_the_batch_too(tmp_path):
    index = await engine_with(tmp_path, [document(1, "Zio patch", "ECG")])
    applied = await index.apply_many([
        IndexChange(1, 3, document(1, "Zio patch three", "ECG", version=3)),
        IndexChange(1, 2, document(1, "Zio patch two", "ECG", version=2)),  # older than the one before it
        IndexChange(2, 1, document(2, "Doccla ward", "Remote")),
        IndexChange(2, 1, document(2, "Doccla ward", "Remote")),  # a replay
        IndexChange(3, 1, None),  # removing what was never there leaves a tombstone
    ])
    assert applied == [True, False, True, False, True]
    assert await index.indexed_version(1) == 3 and await index.indexed_version(3) == 1
    assert [hit.document["name"] for hit in (await index.search(SearchQuery(text="zio"))).hits] == ["Zio patch three"]
    assert (await index.search(SearchQuery())).total == 2
    assert not (await index.apply(IndexChange(3, 1, document(3, "Late", "Old"))))
    await index.close()


async def test_a_rebuild_that_fails_half_way_leaves_the_index_as_it_was(tmp_path):
    index = await engine_with(tmp_path, [document(1, "Zio patch", "ECG")])

    async def failing():
        yield [document(10, "HeartFlow", "Coronary")]
        raise ConnectionError("the database went away")

    with pytest.raises(ConnectionError):
        await index.rebuild(failing())
    assert await ids(index, "zio") == [1]
    assert await ids(index, "heartflow") == []
    assert await index.apply(IndexChange(1, 2, document(1, "Zio patch two", "ECG", version=2)))  # writer released
    await index.close()


def _in_another_process(script: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)], cwd=PROJECT_ROOT, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)


async def test_one_writer_at_a_time_across_processes(tmp_path, monkeypatch):
    index = await engine_with(tmp_path, [document(1, "Zio patch", "ECG")])
    holder = _in_another_process(f"""
        import sys
        from catalogue.search.tantivy_index import LAYOUT, SCHEMA
        import tantivy
        index = tantivy.Index(SCHEMA, path={str(tmp_path / "search")!r} + "/" + LAYOUT)
        writer = index.writer(heap_size=15_000_000, num_threads=1)
        print("holding", flush=True)
        sys.stdin.read()
        writer.wait_merging_threads()
    """)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        monkeypatch.setattr(tantivy_index, "WRITER_WAIT_SECONDS", 0.3)
        with pytest.raises(WriterBusy):  # the outbox retries such a change later
            await index.apply(IndexChange(2, 1, document(2, "Doccla ward", "Remote")))
    finally:
        holder.communicate("", timeout=30)
    assert await index.apply(IndexChange(2, 1, document(2, "Doccla ward", "Remote")))
    assert await ids(index, "doccla") == [2]
    await index.close()


async def test_a_reader_sees_what_another_process_commits(tmp_path):
    reader = await engine_with(tmp_path, [document(1, "Zio patch", "ECG")])
    assert await ids(reader, "doccla") == []
    assert (await reader.search(SearchQuery())).facets["category"] == {"wearables": 1}  # counted before the commit
    writer = _in_another_process(f"""
        import asyncio
        from pathlib import Path
        from catalogue.search.port import IndexChange, SearchDocument
        from catalogue.search.tantivy_index import TantivySearchIndex

        async def main():
            index = TantivySearchIndex(Path({str(tmp_path / "search")!r}))
            doc = SearchDocument(id=2, index_version=1, public={{"id": 2, "name": "Doccla ward"}}, name="Doccla ward",
                                 summary="Remote", body="", values={{"category": ("virtual-wards",)}},
                                 published_at="2026-01-02T09:00:00+00:00")
            assert await index.apply(IndexChange(2, 1, doc))
            await index.close()

        asyncio.run(main())
    """)
    assert writer.wait(timeout=60) == 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while await ids(reader, "doccla") != [2]:  # the reader reloads on the other process's commit
        assert loop.time() < deadline, "the reader never saw the other process's commit"
        await asyncio.sleep(0.05)
    assert (await reader.search(SearchQuery())).facets["category"] == {"wearables": 1, "virtual-wards": 1}
    await reader.close()


async def test_a_directory_it_cannot_open_is_started_afresh(tmp_path):
    directory = tmp_path / "search" / tantivy_index.LAYOUT
    directory.mkdir(parents=True)
    (directory / "meta.json").write_text("{not an index")
    index = TantivySearchIndex(tmp_path / "search")
    assert (await index.search(SearchQuery())).total == 0
    assert await index.apply(IndexChange(1, 1, document(1, "Zio patch", "ECG")))
    assert await ids(index, "zio") == [1]
    await index.close()


async def test_the_snippet_comes_from_the_public_description_stored_once(tmp_path):
    body = "Worn at home for fourteen days to find atrial fibrillation early."
    stored_once = dataclasses.replace(document(1, "Zio patch", "ECG", body),
                                      public={"id": 1, "name": "Zio patch", "description": body})
    index = await engine_with(tmp_path, [stored_once])
    hit = (await index.search(SearchQuery(text="fourteen"))).hits[0]
    assert hit.highlights["snippet"] == "Worn at home for <mark>fourteen</mark> days to find atrial fibrillation early."
    assert hit.document == {"id": 1, "name": "Zio patch", "description": body}
    await index.close()


@pytest.mark.parametrize("text", ["", "remote monitoring"])
async def test_totals_and_facet_counts_follow_every_change(tmp_path, text):
    index = await engine_with(tmp_path, [document(1, "Zio patch", "Remote monitoring", category="wearables")])
    query = SearchQuery(text=text, filters={"care_setting": ("home",)}, sort="newest")
    for _ in range(2):  # the second search is answered from the counts of the first
        found = await index.search(query)
        assert (found.total, found.facets["category"]) == (1, {"wearables": 1})
    assert await index.apply(IndexChange(2, 1, document(2, "Doccla ward", "Remote monitoring",
                                                        category="virtual-wards",
                                                        published="2026-01-02T09:00:00+00:00")))
    found = await index.search(dataclasses.replace(query, page=2, page_size=1))
    assert (found.total, found.facets["category"]) == (2, {"wearables": 1, "virtual-wards": 1})
    assert [hit.id for hit in found.hits] == [1]
    assert await index.apply(IndexChange(1, 2, None))
    found = await index.search(query)
    assert (found.total, found.facets["category"]) == (1, {"virtual-wards": 1})
    await index.close()


async def test_counts_are_kept_for_the_same_words_and_filters_only(tmp_path):
    index = await engine_with(tmp_path, [
        document(1, "Zio patch", "Remote monitoring", category="wearables"),
        document(2, "Doccla ward", "Remote monitoring", category="virtual-wards"),
        document(3, "Zio monitor", "Heart rhythm", category="wearables"),
    ])
    searches = {
        "remote monitoring": SearchQuery(text="remote monitoring"),
        "Remote   MONITORING, page 2": SearchQuery(text="Remote   MONITORING", page=2, page_size=1),
        "zio": SearchQuery(text="zio"),
        "remote monitoring, wearables": SearchQuery(text="remote monitoring", filters={"category": ("wearables",)}),
        "remote monitoring, by name": SearchQuery(text="remote monitoring", sort="name"),
    }
    counted = {name: ((found := await index.search(query)).total, found.facets["category"])
               for name, query in searches.items()}
    assert counted == {
        "remote monitoring": (2, {"wearables": 1, "virtual-wards": 1}),
        "Remote   MONITORING, page 2": (2, {"wearables": 1, "virtual-wards": 1}),
        "zio": (2, {"wearables": 2}),
        "remote monitoring, wearables": (1, {"wearables": 1}),
        "remote monitoring, by name": (2, {"wearables": 1, "virtual-wards": 1}),
    }
    await index.close()


async def test_a_name_or_summary_the_public_document_does_not_give_is_stored_for_highlights(tmp_path):
    own = dataclasses.replace(document(1, "Zio patch", "Finds atrial fibrillation"), public={"id": 1})
    index = await engine_with(tmp_path, [own])
    hit = (await index.search(SearchQuery(text="atrial"))).hits[0]
    assert hit.highlights["name"] == "Zio patch"
    assert hit.highlights["summary"] == "Finds <mark>atrial</mark> fibrillation"
    await index.close()


async def test_documents_packed_with_an_earlier_dictionary_still_read_after_a_rebuild(tmp_path):
    kept = document(1, "Zio patch", "ECG", version=3)  # newer than the database's copy: the rebuild keeps it
    index = await engine_with(tmp_path, [kept])

    async def listings():
        yield [document(1, "Zio patch", "ECG", version=2), document(2, "Doccla ward", "Remote monitoring")]

    assert await index.rebuild(listings()) == 2
    await index.close()
    directory = tmp_path / "search" / tantivy_index.LAYOUT
    assert len(list(directory.glob("dictionary-*"))) == 2  # the first write's, and the rebuild's
    reader = TantivySearchIndex(tmp_path / "search")  # nothing cached: reads the dictionaries from the directory
    found = {hit.id: hit.document for hit in (await reader.search(SearchQuery(sort="name"))).hits}
    assert found == {1: kept.public, 2: document(2, "Doccla ward", "Remote monitoring").public}
    assert await reader.apply(IndexChange(3, 1, document(3, "Plus Sutures", "Surgical")))  # the rebuild's
    assert len(list(directory.glob("dictionary-*"))) == 2
    assert (await reader.search(SearchQuery(text="sutures"))).hits[0].document["name"] == "Plus Sutures"
    await reader.close()


async def test_a_page_of_hits_is_kept_until_the_next_commit(tmp_path):
    index = await engine_with(tmp_path, [document(1, "Zio patch", "Remote monitoring"),
                                         document(2, "Doccla ward", "Remote monitoring")])
    query = SearchQuery(text="remote monitoring", sort="name")
    first, again = await index.search(query), await index.search(query)
    assert first.generation is not None and again.generation == first.generation
    assert [(hit.id, hit.document["name"]) for hit in again.hits] == [(2, "Doccla ward"), (1, "Zio patch")]

    assert await index.apply(IndexChange(1, 2, document(1, "Acme patch", "Remote monitoring", version=2)))
    after = await index.search(query)
    assert after.generation != first.generation
    assert [(hit.id, hit.document["name"]) for hit in after.hits] == [(1, "Acme patch"), (2, "Doccla ward")]
    await index.close()


async def test_kept_pages_of_hits_are_never_shared_across_pages_sorts_or_highlighting(tmp_path):
    index = await engine_with(tmp_path, [document(1, "Zio patch", "Remote monitoring"),
                                         document(2, "Doccla ward", "Remote monitoring")])
    searches = {
        "by name": SearchQuery(text="monitoring", sort="name", highlight=False),
        "by name, highlighted": SearchQuery(text="monitoring", sort="name"),
        "by name, page 2": SearchQuery(text="monitoring", sort="name", page=2, page_size=1, highlight=False),
        "by name, in other case": SearchQuery(text="MONITORING", sort="name", highlight=False),
        "a prefix": SearchQuery(text="zi", sort="name", highlight=False),
    }
    for _ in range(2):  # the second round is answered from what the first kept
        found = {name: [(hit.id, hit.highlights.get("summary")) for hit in (await index.search(query)).hits]
                 for name, query in searches.items()}
        assert found == {
            "by name": [(2, None), (1, None)],
            "by name, highlighted": [(2, "Remote <mark>monitoring</mark>"), (1, "Remote <mark>monitoring</mark>")],
            "by name, page 2": [(1, None)],
            "by name, in other case": [(2, None), (1, None)],
            "a prefix": [(1, None)],
        }
    await index.close()


async def test_a_kept_page_of_hits_is_never_given_after_another_process_commits(tmp_path):
    reader = await engine_with(tmp_path, [document(1, "Zio patch", "Remote monitoring")])
    query = SearchQuery(text="monitoring", highlight=False)
    assert [hit.document["name"] for hit in (await reader.search(query)).hits] == ["Zio patch"]
    assert [hit.document["name"] for hit in (await reader.search(query)).hits] == ["Zio patch"]  # kept

    writer = TantivySearchIndex(tmp_path / "search")  # another process's writer, on the same directory
    assert await writer.apply(IndexChange(1, 2, document(1, "Zio XT patch", "Remote monitoring", version=2)))
    await writer.close()

    assert [hit.document["name"] for hit in (await reader.search(query)).hits] == ["Zio XT patch"]
    await reader.close()


@pytest.mark.parametrize("highlight", [False, True])
async def test_a_kept_page_costs_the_budget_what_it_holds_in_memory(tmp_path, highlight):
    """The kept pages' byte budget bounds the memory they hold: a page's cost is not far below what keeping it
    (its documents, highlights and facet counts) takes, as tracemalloc sees it."""
    import gc
    import tracemalloc

    docs = [document(n, f"Remote monitor {n}", f"Remote monitoring for ward {n}", "remote care at home " * 5,
                     category=f"category-{n % 7}", icbs=(f"Q{n % 30:02d}",)) for n in range(1, 61)]
    index = await engine_with(tmp_path, docs)
    query = SearchQuery(text="remote monitoring", highlight=highlight)
    await index.search(SearchQuery(text="warm up"))  # the reader, dictionaries and analyser are loaded first
    gc.collect()
    tracemalloc.start()
    try:
        found = await index.search(query)
        del found
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        [kept] = [answer for answer, _ in index._results._answers.values() if len(answer.ids) == 20]
        cost = kept.cost
        del kept
        index._results._answers.clear()
        index._counts._answers.clear()
        gc.collect()
        held = before - tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert held > 0
    assert 0.75 * held <= cost <= 2 * held
    await index.close()


def _public_documents(count: int) -> list:
    return [document(n, f"Innovation {n} wearable patch", f"Finds condition {n % 7} at home",
                     f"Description {n} " * (n % 5)) for n in range(1, count + 1)]


@pytest.mark.parametrize("samples", [1, 300], ids=["too few to train: their text", "trained"])
@settings(max_examples=60, deadline=None)
@given(public=st.dictionaries(st.text(max_size=12), st.one_of(st.text(), st.integers(), st.booleans(), st.none()),
                              max_size=6))
def test_a_packed_document_unpacks_as_it_was_in_any_thread_and_any_process(samples, public):
    made = tantivy_index.Dictionary.made_of(_public_documents(samples))
    document_json = msgspec.json.encode(public)
    packed = made.pack(document_json)
    assert tantivy_index.dictionary_key(packed) == made.key
    # Another process knows the dictionary only from its file's bytes; searches unpack on several threads at once.
    loaded = tantivy_index.Dictionary(made.key, made.data)
    with ThreadPoolExecutor(max_workers=4) as threads:
        assert set(threads.map(lambda _: loaded.unpack(packed), range(8))) == {document_json}


def test_a_trained_dictionary_packs_listings_smaller_than_their_text_alone():
    listings = _public_documents(600)
    trained = tantivy_index.Dictionary.made_of(listings[:500])
    text_only = tantivy_index.Dictionary.made_of(listings[:1])
    unseen = [msgspec.json.encode(doc.public) for doc in listings[500:]]
    assert sum(map(len, map(trained.pack, unseen))) < sum(map(len, map(text_only.pack, unseen))) < sum(map(len, unseen))
