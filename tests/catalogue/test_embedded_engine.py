"""Embedded engine specifics: tiered ranking for very common words, the result cache, and an old index layout."""

from __future__ import annotations

import sqlite3

from catalogue.search import embedded
from catalogue.search.embedded import EmbeddedSearchIndex
from catalogue.search.port import IndexChange, SearchQuery
from tests.catalogue.test_search_contract import document


async def engine_with(tmp_path, docs):
    index = EmbeddedSearchIndex(tmp_path / "index.sqlite3")
    for doc in docs:
        await index.apply(IndexChange(doc.id, doc.index_version, doc))
    return index


async def test_a_very_common_word_ranks_name_then_summary_then_the_rest_newest_first(tmp_path, monkeypatch):
    monkeypatch.setattr(embedded, "RANK_ALL_LIMIT", 1)  # every result set counts as large
    index = await engine_with(tmp_path, [
        document(1, "Alpha", "Nothing", "monitoring in the body", published="2026-01-01T00:00:00+00:00"),
        document(2, "Beta", "Remote monitoring summary", published="2026-01-02T00:00:00+00:00"),
        document(3, "Monitoring hub", "Gamma", published="2026-01-03T00:00:00+00:00"),
        document(4, "Delta", "Nothing", "monitoring again", published="2026-01-04T00:00:00+00:00"),
        document(5, "Epsilon", "Monitoring in summary", published="2026-01-05T00:00:00+00:00"),
    ])
    result = await index.search(SearchQuery(text="monitoring", page_size=10))
    assert [hit.id for hit in result.hits] == [3, 5, 2, 4, 1]
    assert result.total == 5 and result.facets["category"] == {"wearables": 5}
    second_page = await index.search(SearchQuery(text="monitoring", page=2, page_size=2))
    assert [hit.id for hit in second_page.hits] == [2, 4]
    await index.close()


async def test_the_result_cache_never_serves_an_answer_older_than_the_index(tmp_path):
    index = await engine_with(tmp_path, [document(1, "Zio patch", "ECG")])
    assert (await index.search(SearchQuery(text="patch"))).total == 1
    await index.apply(IndexChange(2, 1, document(2, "Another patch", "ECG")))
    again = await index.search(SearchQuery(text="patch"))
    assert again.total == 2 and again.facets["category"] == {"wearables": 2}
    await index.apply(IndexChange(1, 2, None))
    assert [hit.id for hit in (await index.search(SearchQuery(text="patch"))).hits] == [2]
    await index.close()


async def test_an_index_file_of_an_older_layout_is_rebuilt_empty(tmp_path):
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE docs (id INTEGER PRIMARY KEY, version INTEGER)")
        connection.execute("INSERT INTO docs VALUES (1, 1)")
    index = EmbeddedSearchIndex(path)
    assert (await index.search(SearchQuery())).total == 0
    assert await index.apply(IndexChange(1, 1, document(1, "Zio patch", "ECG")))
    assert (await index.search(SearchQuery(text="zio"))).total == 1
    await index.close()
