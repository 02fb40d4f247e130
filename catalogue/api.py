"""The public search API, /api/v1 (a pinned contract: consumers depend on it).

- GET /api/v1/innovations: search with filters and facets.
- GET /api/v1/innovations/{id}: one published innovation.
- GET /api/v1/changes: published, updated and withdrawn innovations in commit order, with a cursor.

Every request carries `Authorization: Bearer <key>` (keys are issued by authority admins or
`dps api-key create NAME`); each key has its own rate limit (600 a minute by default). Errors are problem JSON
(RFC 9457: type, title, status, detail), a bad parameter is a 400 naming it, never a 500.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, Response, Router, get
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import PathParameter, QueryParameter

from catalogue import services
from catalogue.rules import CARE_SETTINGS
from catalogue.search import search_index_for
from catalogue.search.port import FACET_FIELDS, MAX_PAGE_SIZE, MAX_QUERY_LENGTH, SearchQuery, SearchResult
from dps.assurance import DEVICE_CLASS, ESF_TIERS
from dps.forms import MAX_ID, whole_number
from dps.web.api import (
    API_EXCEPTION_HANDLERS,
    COMMON_RESPONSES,
    ApiProblem,
    bad_parameter,
    checked_values,
    open_data,
    problem_spec,
    reject_unknown_parameters,
)
from dps.web.deps import ReadingSession
from dps.web.kept_pages import KeptPages

CHANGES_MAX_LIMIT = 1000


# --- response shapes (for the OpenAPI document) -------------------------------------------------------------


class CategoryOut(msgspec.Struct):
    slug: str
    name: str


class SupplierOut(msgspec.Struct):
    id: int
    name: str
    sme: bool


class PricingOut(msgspec.Struct):
    model: str
    indicative_price_pence: int | None


class ExpiryOut(msgspec.Struct):
    kind: str
    expires_on: str


class AssuranceOut(msgspec.Struct):
    dtac: dict[str, Any]
    dspt: dict[str, Any]
    cyber_essentials: dict[str, Any]
    medical_device: dict[str, Any]
    nice_esf_tier: str
    nice_guidance: list[str]
    mtfm: bool
    carbon_reduction_plan: str | None
    modern_slavery_assessment: bool
    net_zero_commitment: bool
    expiries: list[ExpiryOut]
    earliest_expiry: str | None


class DocumentOut(msgspec.Struct):
    id: int
    title: str
    url: str


class InnovationOut(msgspec.Struct):
    id: int
    name: str
    summary: str
    description: str
    category: CategoryOut
    supplier: SupplierOut
    care_settings: list[str]
    clinical_areas: list[str]
    icbs_using: list[str]
    trusts_using: list[str]
    pricing: PricingOut
    assurance: AssuranceOut
    documents: list[DocumentOut]
    version: int
    published_at: str
    updated_at: str
    url: str


class SearchMeta(msgspec.Struct):
    total: int
    page: int
    page_size: int
    facets: dict[str, dict[str, int]]


class InnovationPage(msgspec.Struct):
    data: list[InnovationOut]
    meta: SearchMeta


class InnovationOne(msgspec.Struct):
    data: InnovationOut


class ChangeOut(msgspec.Struct):
    cursor: str
    type: Literal["published", "updated", "withdrawn"]
    id: int
    revision: int
    occurred_at: str
    innovation: InnovationOut | None


class ChangesMeta(msgspec.Struct):
    next: str
    limit: int
    has_more: bool


class ChangesPage(msgspec.Struct):
    data: list[ChangeOut]
    meta: ChangesMeta


EXAMPLE_INNOVATION: dict[str, Any] = {
    "id": 42, "name": "HeartFlow FFRct Analysis",
    "summary": "CT-derived fractional flow reserve for coronary artery disease.",
    "description": "A non-invasive test ...", "category": {"slug": "imaging", "name": "Digital and 3D imaging"},
    "supplier": {"id": 7, "name": "HeartFlow UK Ltd", "sme": False}, "care_settings": ["acute"],
    "clinical_areas": ["cardiology"], "icbs_using": ["QMF"], "trusts_using": ["Guy's and St Thomas'"],
    "pricing": {"model": "per-patient", "indicative_price_pence": 70000},
    "assurance": {"dtac": {"applies": True, "complete": True, "version": "2024"},
                  "dspt": {"status": "standards_met", "year": "2025/26"},
                  "cyber_essentials": {"level": "cyber_essentials_plus", "expires_on": "2026-09-30"},
                  "medical_device": {"class": "class_iia", "mark": "ukca", "mhra_reference": "MHRA-123",
                                     "certificate_expires_on": "2028-05-01"},
                  "nice_esf_tier": "c", "nice_guidance": ["MTG32"], "mtfm": True, "carbon_reduction_plan": "pass",
                  "modern_slavery_assessment": True, "net_zero_commitment": True,
                  "expiries": [{"kind": "Cyber Essentials certificate", "expires_on": "2026-09-30"}],
                  "earliest_expiry": "2026-09-30"},
    "documents": [{"id": 3, "title": "NICE MTG32 summary",
                   "url": "https://dps.example.nhs.uk/catalogue/innovations/42/documents/3"}],
    "version": 2, "published_at": "2026-01-05T09:00:00+00:00", "updated_at": "2026-02-01T10:30:00+00:00",
    "url": "https://dps.example.nhs.uk/catalogue/innovations/42",
}


# --- parameters --------------------------------------------------------------------------------------------

SEARCH_PARAMETERS = frozenset({"q", "category", "care_setting", "device_class", "esf_tier", "icb", "sme", "dtac",
                               "mtfm", "sort", "page", "page_size"})
CHANGES_PARAMETERS = frozenset({"since", "limit"})
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
_ICB = re.compile(r"^Q[A-Z0-9]{2}$")
_CARE_SETTINGS = frozenset(value for value, _ in CARE_SETTINGS)
_DEVICE_CLASSES = frozenset(value for value, _ in DEVICE_CLASS)
_ESF_TIERS = frozenset(value for value, _ in ESF_TIERS)


def _bool(value: bool | None) -> tuple[str, ...]:
    return () if value is None else ("true" if value else "false",)


def absolute_json(document_json: bytes, base_url: bytes) -> bytes:
    """A stored document's JSON with absolute URLs, without decoding it. Every URL in it is the value of a "url" key
    and a path: JSON can hold the bytes `"url":"/` only as that key and value (a quote inside a string is escaped)."""
    return document_json.replace(b'"url":"/', b'"url":"' + base_url + b"/")


def absolute(document: dict[str, Any], base_url: str) -> dict[str, Any]:
    """The stored document with absolute URLs (documents are stored with paths, whatever the host)."""
    out = dict(document)
    out["url"] = base_url + document["url"]
    out["documents"] = [{**d, "url": base_url + d["url"]} for d in document.get("documents", [])]
    return out


# --- handlers ----------------------------------------------------------------------------------------------

@get("/innovations", name="api.innovations",
     operation_id="searchInnovations", summary="Search innovations", media_type="application/json",
     description="Free-text search with filters and facet counts. Repeat a filter for OR within it "
                 "(`category=imaging&category=ai-diagnostics`); different filters are ANDed. Booleans are "
                 "`true` or `false`.",
     responses={200: ResponseSpec(data_container=InnovationPage, description="A page of innovations",
                                  generate_examples=False, examples=[Example(summary="Search for 'ffr'", value={
                                      "data": [EXAMPLE_INNOVATION],
                                      "meta": {"total": 1, "page": 1, "page_size": 20, "facets": {
                                          "category": {"imaging": 1}, "care_setting": {"acute": 1},
                                          "device_class": {"class_iia": 1}, "esf_tier": {"c": 1},
                                          "dtac": {"true": 1}, "dspt": {"standards_met": 1}, "mtfm": {"true": 1},
                                          "sme": {"false": 1}, "icb": {"QMF": 1}}}})]),
                400: problem_spec(400, "Invalid query parameter", "invalid-parameter",
                                   "page_size: Expected `int` <= 100"),
                **COMMON_RESPONSES},
     tags=["innovations"])
async def search_innovations(
    request: Request[Any, Any, Any],
    q: Annotated[str | None, QueryParameter(description="Words to search for; typos and prefixes are tolerated",
                                            max_length=MAX_QUERY_LENGTH,
                                            examples=[Example(value="wearable ecg")])] = None,
    category: Annotated[list[str] | None, QueryParameter(description="Category slug (repeatable)",
                                                         examples=[Example(value="virtual-wards")])] = None,
    care_setting: Annotated[list[str] | None, QueryParameter(
        description="Care setting (repeatable): " + ", ".join(sorted(_CARE_SETTINGS)))] = None,
    device_class: Annotated[list[str] | None, QueryParameter(
        description="Medical device class (repeatable): " + ", ".join(sorted(_DEVICE_CLASSES)))] = None,
    esf_tier: Annotated[list[str] | None, QueryParameter(
        description="NICE Evidence Standards Framework tier (repeatable): a, b, c or not_applicable")] = None,
    icb: Annotated[list[str] | None, QueryParameter(description="ODS code of an ICB already using it (repeatable)",
                                                    examples=[Example(value="QMF")])] = None,
    sme: Annotated[bool | None, QueryParameter(description="Supplier is an SME")] = None,
    dtac: Annotated[bool | None, QueryParameter(description="DTAC complete")] = None,
    mtfm: Annotated[bool | None, QueryParameter(description="Listed under the MedTech Funding Mandate")] = None,
    sort: Annotated[Literal["relevance", "newest", "name"],
                    QueryParameter(description="Order of results")] = "relevance",
    page: Annotated[int, QueryParameter(ge=1, le=10_000, description="Page number, from 1")] = 1,
    page_size: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE, description="Results a page, 1 to 100")] = 20,
) -> InnovationPage:
    reject_unknown_parameters(request, SEARCH_PARAMETERS)
    filters = {
        "category": checked_values("category", category, pattern=_SLUG, normalise=str.lower),
        "care_setting": checked_values("care_setting", care_setting, allowed=_CARE_SETTINGS),
        "device_class": checked_values("device_class", device_class, allowed=_DEVICE_CLASSES),
        "esf_tier": checked_values("esf_tier", esf_tier, allowed=_ESF_TIERS, normalise=str.lower),
        "icb": checked_values("icb", icb, pattern=_ICB, normalise=str.upper),
        "sme": _bool(sme), "dtac": _bool(dtac), "mtfm": _bool(mtfm),
    }
    query = SearchQuery(text=(q or "").strip(), filters={k: v for k, v in filters.items() if v}, facets=FACET_FIELDS,
                        sort=sort, page=page, page_size=page_size, highlight=False)
    settings = request.app.state.settings
    index = search_index_for(settings)
    kept: KeptPages = request.app.state.kept_pages
    asked = ("api.innovations", query.text, tuple(sorted(query.filters.items())), sort, page, page_size)
    # The same search answers the same bytes to every caller while the index stays on one generation: kept for it,
    # it is answered from memory, before any search.
    if (generation := index.generation()) is not None and (body := kept.body((generation, asked))) is not None:
        return Response(body, media_type="application/json")  # type: ignore[return-value]  # InnovationPage
    result = await index.search(query)
    body = search_page_json(result, settings.base_url.encode())
    if result.generation is not None:
        kept.keep_body((result.generation, asked), body)
    return Response(body, media_type="application/json")  # type: ignore[return-value]  # InnovationPage: the shape


def search_page_json(result: SearchResult, base_url: bytes) -> bytes:
    """A page of search results as the API answers it (InnovationPage). The stored documents go out as the index
    holds them, spliced into the page: nothing is decoded or rebuilt."""
    meta = msgspec.json.encode({"total": result.total, "page": result.page, "page_size": result.page_size,
                                "facets": result.facets})
    return (b'{"data":[' + b",".join(absolute_json(hit.document_json, base_url) for hit in result.hits)
            + b'],"meta":' + meta + b"}")


@get("/innovations/{innovation_id:str}", name="api.innovation",
     operation_id="getInnovation", summary="One innovation", media_type="application/json",
     description="A published innovation; 404 if it is unknown, not published, withdrawn or its supplier is suspended.",
     responses={200: ResponseSpec(data_container=InnovationOne, description="The innovation", generate_examples=False,
                                  examples=[Example(summary="An innovation", value={"data": EXAMPLE_INNOVATION})]),
                404: problem_spec(404, "Not found", "not-found", services.NOT_PUBLISHED),
                **COMMON_RESPONSES},
     tags=["innovations"])
async def get_innovation(request: Request[Any, Any, Any], reading_session: ReadingSession,
                         innovation_id: Annotated[str, PathParameter(description="Innovation id",
                                                                     examples=[Example(value="42")])]) -> InnovationOne:
    reject_unknown_parameters(request, frozenset())
    listing_id = whole_number(innovation_id)
    if listing_id is None:
        raise ApiProblem(404, "Not found", services.NOT_PUBLISHED, "not-found")
    document = (await services.published_innovation(reading_session, listing_id,
                                                    request.app.state.clock.now().date())).document
    return Response({"data": absolute(document, request.app.state.settings.base_url)},  # type: ignore[return-value]
                    media_type="application/json")


@get("/changes", name="api.changes",
     operation_id="listChanges", summary="Changes feed", media_type="application/json",
     description="Innovations published, updated and withdrawn, in commit order. Start with no `since` (or 0), then "
                 "pass `meta.next` as `since`; apply a change only if its `revision` is newer than the one you hold. "
                 "A `withdrawn` change has `innovation: null`: remove it from your copy.",
     responses={200: ResponseSpec(data_container=ChangesPage, description="Changes after the cursor",
                                  generate_examples=False, examples=[Example(summary="Two changes", value={
                                      "data": [{"cursor": "17", "type": "published", "id": 42, "revision": 1,
                                                "occurred_at": "2026-01-05T09:00:00+00:00",
                                                "innovation": EXAMPLE_INNOVATION},
                                               {"cursor": "18", "type": "withdrawn", "id": 40, "revision": 4,
                                                "occurred_at": "2026-01-05T09:05:00+00:00", "innovation": None}],
                                      "meta": {"next": "18", "limit": 100, "has_more": False}})]),
                400: problem_spec(400, "Invalid query parameter", "invalid-parameter",
                                   "since: must be a cursor returned as meta.next"),
                **COMMON_RESPONSES},
     tags=["changes"])
async def changes(
    request: Request[Any, Any, Any], reading_session: ReadingSession,
    since: Annotated[str | None, QueryParameter(description="Cursor from the previous page's meta.next",
                                                pattern=r"^\s*[0-9]{0,19}\s*$",
                                                examples=[Example(value="17")])] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=CHANGES_MAX_LIMIT, description="Changes a page, 1 to 1000")] = 100,
) -> ChangesPage:
    reject_unknown_parameters(request, CHANGES_PARAMETERS)
    cursor_raw = (since or "0").strip()
    cursor = whole_number(cursor_raw, maximum=2**63 - 1)
    if cursor is None:
        raise bad_parameter("since", "must be a cursor returned as meta.next (a whole number)")
    # A cursor past the largest id an id column holds has no change after it (and would overflow PostgreSQL's integer).
    page = await services.changes_since(reading_session, min(cursor, MAX_ID), limit + 1)
    rows = page.changes[:limit]
    base = request.app.state.settings.base_url
    data = [{"cursor": str(change.id), "type": change.change, "id": change.listing_id, "revision": change.index_version,
             "occurred_at": change.occurred_at.isoformat(),
             "innovation": absolute(change.document, base) if change.document else None} for change in rows]
    next_cursor = str(rows[-1].id) if rows else cursor_raw
    return Response({"data": data, "meta": {"next": next_cursor, "limit": limit,  # type: ignore[return-value]
                                            "has_more": len(page.changes) > limit}}, media_type="application/json")


@get("/{path:path}", name="api.not_found", include_in_schema=False)
async def unknown_path(path: Annotated[str, PathParameter()]) -> None:
    raise ApiProblem(404, "Not found", f"There is no API resource at /api/v1{path}", "not-found")


api_router = Router(path="/api/v1", route_handlers=[search_innovations, get_innovation, changes, unknown_path],
                    guards=[open_data], exception_handlers=API_EXCEPTION_HANDLERS,
                    security=[{}, {"BearerAuth": []}], tags=["innovations"])
