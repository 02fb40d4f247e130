"""The Meilisearch adapter's query, filter, sort, document and settings building, as pure functions (the server
contract runs in test_search_contract.py when MEILISEARCH_URL is set)."""

from __future__ import annotations

from datetime import date

from catalogue.search.meili import (
    build_filter,
    build_sort,
    index_settings,
    meili_document,
    search_parameters,
    to_result,
    tombstone,
)
from catalogue.search.port import FACET_FIELDS, MARK_END, MARK_START, SearchDocument, SearchQuery


def test_filters_or_within_a_field_and_across_fields_and_only_live_documents():
    query = SearchQuery(filters={"category": ("imaging", "ai-diagnostics"), "sme": ("true",)},
                        assurance_current_on=date(2026, 1, 5))
    assert build_filter(query) == [
        "live = true",
        ['category = "imaging"', 'category = "ai-diagnostics"'],
        'sme = "true"',
        "assurance_expires_on >= 20260105",
    ]


def test_filter_values_are_quoted_so_they_cannot_change_the_expression():
    clause = build_filter(SearchQuery(filters={"category": ('x" OR live = false OR "',)}))[1]
    assert clause == 'category = "x\\" OR live = false OR \\""'


def test_sort_and_paging():
    assert build_sort(SearchQuery(text="ecg")) is None
    assert build_sort(SearchQuery()) == ["published_at_ts:desc", "id:desc"]
    assert build_sort(SearchQuery(sort="name")) == ["name_sort:asc", "id:asc"]
    parameters = search_parameters(SearchQuery(text="ecg", page=3, page_size=10))
    assert (parameters["page"], parameters["hits_per_page"]) == (3, 10)
    assert parameters["highlight_pre_tag"] == MARK_START and parameters["attributes_to_highlight"] == ["name",
                                                                                                       "summary"]
    assert parameters["facets"] == list(FACET_FIELDS)


def test_settings_make_facets_filterable_and_declare_synonyms_and_typo_rules():
    settings = index_settings()
    assert set(FACET_FIELDS) <= set(settings["filterable_attributes"])
    assert {"live", "assurance_expires_on"} <= set(settings["filterable_attributes"])
    assert settings["synonyms"]["af"] == ["atrial fibrillation"]
    assert settings["synonyms"]["atrial fibrillation"] == ["af"]
    assert settings["typo_tolerance"]["min_word_size_for_typos"] == {"one_typo": 5, "two_typos": 9}
    assert settings["searchable_attributes"] == ["name", "summary", "keywords", "body"]


def test_documents_and_tombstones():
    document = SearchDocument(id=7, index_version=3, public={"id": 7}, name="Zio", summary="s", body="b",
                              values={"category": ("wearables",), "icb": ("QMF", "QWE")},
                              published_at="2026-01-05T09:00:00+00:00", assurance_expires_on="2026-09-30")
    body = meili_document(document)
    assert body["id"] == 7 and body["live"] is True and body["index_version"] == 3
    assert body["icb"] == ["QMF", "QWE"] and body["care_setting"] == []
    assert body["assurance_expires_on"] == 20260930 and body["name_sort"] == "zio"
    assert tombstone(7, 4) == {"id": 7, "index_version": 4, "live": False}


def test_results_are_mapped_with_safe_highlights():
    query = SearchQuery(text="bed")
    raw = [{"id": 4, "public": {"id": 4}, "_formatted": {"name": "Flow", "summary": f"<b>{MARK_START}bed{MARK_END}</b>",
                                                          "body": "nothing"}}]
    result = to_result(query, raw, 1, {"category": {"virtual-wards": 1, "empty": 0}})
    assert result.hits[0].highlights["summary"] == "&lt;b&gt;<mark>bed</mark>&lt;/b&gt;"
    assert result.hits[0].highlights["snippet"] == ""
    assert result.facets["category"] == {"virtual-wards": 1} and result.facets["icb"] == {}
