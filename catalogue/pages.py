"""Public catalogue pages: the categories, the innovation search (free text, facet checkboxes with counts, sort,
pagination, highlighted matches), an innovation's page with its history and evidence, and compare up to four.
Everything works without JavaScript: filters are a GET form, compare is a GET form of checkboxes."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from litestar import Request, Response, Router, get
from litestar.params import FromPath, FromQuery
from litestar.response import File, Template
from sqlmodel import col

from catalogue import rules, services
from catalogue.search import search_index_for
from catalogue.search.port import FACET_FIELDS, SearchQuery
from dps.agreements.models import Category
from dps.agreements.services import list_agreements
from dps.assurance import DEVICE_CLASS, ESF_TIERS
from dps.errors import NotFound
from dps.forms import whole_number
from dps.identity.models import OrganisationKind, Role
from dps.web.auth import BUYER_PORTAL_ROLES, current_user, public
from dps.web.deps import AppSettings, DbSession, Now, ReadingSession, Reads
from dps.web.downloads import stored_document
from dps.web.kept_pages import KeptPages, KeptTemplate

PAGE_SIZE = 20
COMPARE_MAX = 4
FACET_TITLES: dict[str, str] = {
    "category": "Category", "care_setting": "Care setting", "device_class": "Device class",
    "esf_tier": "NICE evidence tier", "dtac": "DTAC complete", "dspt": "DSPT status",
    "mtfm": "MedTech Funding Mandate", "sme": "SME supplier", "icb": "ICBs already using it",
}
SORT_OPTIONS = (("relevance", "Best match"), ("newest", "Newest"), ("name", "Name A to Z"))


@dataclass(frozen=True)
class FacetOption:
    value: str
    label: str
    count: int
    checked: bool


@dataclass(frozen=True)
class Facet:
    field: str
    title: str
    options: list[FacetOption]


# Read on every search, inline on SQLite (dps.db.PointReads): a handful of rows.
CATEGORY_NAMES = sa.select(col(Category.slug), col(Category.name)).order_by(col(Category.name))


def facet_labels(categories: list[tuple[str, str]]) -> dict[str, dict[str, str]]:
    """What each facet value is called on the page; `categories` are (slug, name) pairs."""
    return {
        "category": dict(categories),
        "care_setting": dict(rules.CARE_SETTINGS),
        "device_class": dict(DEVICE_CLASS),
        "esf_tier": dict(ESF_TIERS),
        "dspt": dict(rules.LABELS["dspt_status"]),
        "dtac": {"true": "Yes", "false": "No"}, "mtfm": {"true": "Yes", "false": "No"},
        "sme": {"true": "Yes", "false": "No"},
        "icb": {code: name.removeprefix("NHS ").removesuffix(" Integrated Care Board")
                for code, name in services.ICB_NAMES.items()},
    }


def parse_search(request: Request[Any, Any, Any], labels: dict[str, dict[str, str]],
                 now: datetime) -> tuple[SearchQuery, bool]:
    """The page's query string as a SearchQuery; values we do not know are dropped, never an error page."""
    params = request.query_params
    filters: dict[str, tuple[str, ...]] = {}
    for field in FACET_FIELDS:
        values = tuple(dict.fromkeys(v for v in params.getall(field, []) if v in labels.get(field, {})))
        if values:
            filters[field] = values
    sort = params.get("sort") or ""
    if sort not in dict(SORT_OPTIONS):
        sort = "relevance"
    page_raw = params.get("page") or "1"
    page = min(whole_number(page_raw) or 1, 500)
    current = params.get("current") == "1"
    return SearchQuery(text=(params.get("q") or "").strip()[:200], filters=filters, sort=sort, page=page,
                       page_size=PAGE_SIZE, highlight=True,
                       assurance_current_on=now.date() if current else None), current


def query_string(query: SearchQuery, current: bool, **changes: Any) -> str:
    pairs: list[tuple[str, str]] = []
    text = changes.get("q", query.text)
    if text:
        pairs.append(("q", text))
    for field, values in changes.get("filters", query.filters).items():
        pairs += [(field, value) for value in values]
    if changes.get("current", current):
        pairs.append(("current", "1"))
    sort = changes.get("sort", query.sort)
    if sort != "relevance":
        pairs.append(("sort", sort))
    page = changes.get("page", query.page)
    if page > 1:
        pairs.append(("page", str(page)))
    return urlencode(pairs)


def build_facets(query: SearchQuery, counts: dict[str, dict[str, int]], labels: dict[str, dict[str,
                                                                                               str]]) -> list[Facet]:
    facets = []
    for field in FACET_FIELDS:
        selected = set(query.filters.get(field, ()))
        values = set(counts.get(field, {})) | selected
        options = [FacetOption(value, labels.get(field, {}).get(value, value), counts.get(field, {}).get(value, 0),
                               value in selected) for value in values]
        options.sort(key=lambda o: (not o.checked, -o.count, o.label))
        if options:
            facets.append(Facet(field, FACET_TITLES[field], options))
    return facets


@get("/", name="catalogue.categories")
async def categories(reading_session: ReadingSession) -> Template:
    return Template("catalogue/categories.html", context={"agreements": await list_agreements(reading_session)})


@get("/search", name="catalogue.search")
async def search(request: Request[Any, Any, Any], point_reads: Reads, now: Now,
                 settings: AppSettings) -> Response[Any]:
    """For visitors who are not signed in, a search's page is the same for everyone while the index answers it the
    same way: it is kept for the index's generation that answered it (where the engine names one), and answered
    from memory, before any search, while the index is on that generation."""
    categories = [(row.slug, row.name) for row in await point_reads.rows(CATEGORY_NAMES)]
    labels = facet_labels(categories)
    query, current = parse_search(request, labels, now)
    index = search_index_for(settings)
    user = current_user(request)
    kept: KeptPages = request.app.state.kept_pages
    this_query = query_string(query, current)

    def kept_key(generation: Hashable | None) -> Hashable | None:
        if user is not None or generation is None:
            return None
        return ("catalogue.search", generation, this_query, now.date(), tuple(categories))

    if (key := kept_key(index.generation())) is not None and (page := kept.answer(key, request)) is not None:
        return page
    result = await index.search(query)
    pages = max(1, -(-result.total // PAGE_SIZE))
    context = {
        "query": query, "current": current, "result": result, "pages": pages,
        "facets": build_facets(query, result.facets, labels), "labels": labels, "sort_options": SORT_OPTIONS,
        "query_string": this_query,
        "prev_href": "?" + query_string(query, current, page=query.page - 1) if query.page > 1 else None,
        "next_href": "?" + query_string(query, current, page=query.page + 1) if query.page < pages else None,
        "clear_filters_href": "?" + query_string(query, False, filters={}),
        "today": now.date().isoformat(),
        "can_save": bool(user and user.has_role_in(OrganisationKind.BUYER, *BUYER_PORTAL_ROLES)),
    }
    return KeptTemplate("catalogue/search.html", context=context, kept=kept, key=kept_key(result.generation))


@get("/innovations/{listing_id:int}", name="catalogue.innovation")
async def innovation(request: Request[Any, Any, Any], reading_session: ReadingSession, point_reads: Reads,
                     now: Now, listing_id: FromPath[int]) -> Response[Any]:
    """The most read page of the marketplace. For visitors who are not signed in it is the same for everyone, so it
    is rendered once per version of the listing and day (the database says which version, on every request)."""
    today = now.date()
    user = current_user(request)
    kept: KeptPages = request.app.state.kept_pages
    key = None
    if user is None:
        key = ("catalogue.innovation", listing_id, await services.published_version_stamp(point_reads, listing_id),
               today)
        if (page := kept.answer(key, request)) is not None:
            return page
    found = await services.published_innovation(reading_session, listing_id, today)
    nhs_buyer = bool(user and user.has_role_in(OrganisationKind.BUYER, *BUYER_PORTAL_ROLES))
    context = {
        "doc": found.document, "description": rules.render_description(found.document["description"]),
        # The supplier's contact is for NHS buyers, not published to everyone.
        "contact": await services.supplier_contact(reading_session, listing_id) if nhs_buyer else None,
        "signed_in": user is not None,
        "compete_href": (f"/buyer/competitions/new?category_id={found.category_id}"
                         if user and user.has_role_in(OrganisationKind.BUYER, Role.BUYER) else None),
        "versions": await services.versions_of(reading_session, listing_id), "labels": rules.LABELS,
        "today": today.isoformat(), "icb_names": services.ICB_NAMES,
    }
    return KeptTemplate("catalogue/innovation.html", context=context, kept=kept, key=key)


@get("/innovations/{listing_id:int}/versions/{version:int}", name="catalogue.innovation.version")
async def innovation_version(request: Request[Any, Any, Any], reading_session: ReadingSession, now: Now,
                             listing_id: FromPath[int],
                             version: FromPath[int]) -> Template:
    document = (await services.published_innovation(reading_session, listing_id, now.date())).document
    found = await services.version_of(reading_session, listing_id, version)
    return Template("catalogue/version.html", context={
        "listing": document, "version": found, "labels": rules.LABELS,
        "description": rules.render_description(found.content.get("description", "")),
        "back": f"/catalogue/innovations/{listing_id}"})


@get("/innovations/{listing_id:int}/documents/{document_id:int}", name="catalogue.innovation.document")
async def innovation_document(request: Request[Any, Any, Any], db_session: DbSession, settings: AppSettings,
                              listing_id: FromPath[int], document_id: FromPath[int]) -> File:
    """Evidence is served through this handler only (never from a static folder): to anyone while the listing is
    in search, otherwise only to its supplier and the authority."""
    document, path = await services.evidence_for_download(db_session, current_user(request), listing_id, document_id,
                                                          settings.var_dir)
    return stored_document(document, path)


@get("/compare", name="catalogue.compare")
async def compare(request: Request[Any, Any, Any], reading_session: ReadingSession, now: Now,
                  back: FromQuery[str | None] = None) -> Template:
    raw_ids = request.query_params.getall("id", [])
    ids = list(dict.fromkeys(n for i in raw_ids if (n := whole_number(i)) is not None))
    problem = None
    if len(ids) > COMPARE_MAX:
        problem = f"You can compare up to {COMPARE_MAX} innovations at a time. You chose {len(ids)}."
    elif len(ids) < 2:
        problem = "Choose at least two innovations to compare."
    documents = [] if problem else await services.published_innovations(
        reading_session, ids, now.date())
    if not problem and len(documents) < 2:
        raise NotFound("Those innovations are no longer published")
    safe_back = back if back and back.startswith("/catalogue/search") else "/catalogue/search"
    return Template("catalogue/compare.html", status_code=400 if problem else 200, context={
        "documents": documents, "problem": problem, "labels": rules.LABELS, "back": safe_back,
        "today": now.date().isoformat()})


catalogue_router = Router(path="/catalogue", route_handlers=[categories, search, innovation, innovation_version,
                                                             innovation_document, compare], guards=[public])
