"""The public search API, /api/v1 (a pinned contract: consumers depend on it).

- GET /api/v1/innovations: search with filters and facets.
- GET /api/v1/innovations/{id}: one published innovation.
- GET /api/v1/changes: published, updated and withdrawn innovations in commit order, with a cursor.

Every request carries `Authorization: Bearer <key>` (keys are issued by authority admins or
`dps api-key create NAME`); each key has its own rate limit (600 a minute by default). Errors are problem JSON
(RFC 9457: type, title, status, detail), a bad parameter is a 400 naming it, never a 500.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, Response, Router, get
from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.handlers import BaseRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import PathParameter, QueryParameter

from catalogue import services
from catalogue.rules import CARE_SETTINGS
from catalogue.search import search_index_for
from catalogue.search.port import FACET_FIELDS, MAX_PAGE_SIZE, MAX_QUERY_LENGTH, SearchQuery
from dps.assurance import DEVICE_CLASS, ESF_TIERS
from dps.errors import DomainError
from dps.web.auth import GUARD_MARK
from dps.web.deps import DbSession

logger = logging.getLogger("dps.api")

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPES = "/api/v1/problems/"
CHANGES_MAX_LIMIT = 1000
KEY_CACHE_SECONDS = 10


# --- problem JSON -----------------------------------------------------------------------------------------


class ApiProblem(HTTPException):
    """An error answered as problem JSON. `parameter` names the query parameter at fault, when there is one."""

    def __init__(self, status_code: int, title: str, detail: str, kind: str, *, parameter: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail=detail, status_code=status_code, headers=headers)
        self.title, self.kind, self.parameter = title, kind, parameter


def bad_parameter(name: str, detail: str) -> ApiProblem:
    return ApiProblem(400, "Invalid query parameter", f"{name}: {detail}", "invalid-parameter", parameter=name)


def problem_response(request: Request[Any, Any, Any], status: int, title: str, detail: str, kind: str,
                     parameters: list[dict[str, str]] | None = None,
                     headers: dict[str, str] | None = None) -> Response[Any]:
    body: dict[str, Any] = {"type": PROBLEM_TYPES + kind, "title": title, "status": status, "detail": detail,
                            "instance": request.url.path}
    if parameters:
        body["invalid_params"] = parameters
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def api_exception_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if isinstance(exc, ApiProblem):
        parameters = [{"name": exc.parameter, "reason": exc.detail}] if exc.parameter else None
        return problem_response(request, exc.status_code, exc.title, str(exc.detail), exc.kind, parameters,
                                exc.headers)
    if isinstance(exc, ValidationException):
        extra = exc.extra if isinstance(exc.extra, list) else []
        parameters = [{"name": str(item.get("key")), "reason": str(item.get("message"))}
                      for item in extra if isinstance(item, dict) and item.get("key")]
        detail = "; ".join(f"{p['name']}: {p['reason']}" for p in parameters) or str(exc.detail)
        return problem_response(request, 400, "Invalid query parameter", detail, "invalid-parameter", parameters)
    if isinstance(exc, NotFoundException):
        return problem_response(request, 404, "Not found", str(exc.detail), "not-found")
    if isinstance(exc, HTTPException):
        return problem_response(request, exc.status_code, "Request refused", str(exc.detail), "http-error",
                                headers=exc.headers)
    if isinstance(exc, DomainError):
        return problem_response(request, exc.status_code, "Request refused", str(exc),
                                "not-found" if exc.status_code == 404 else "refused")
    logger.exception("unhandled API error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(request, 500, "Internal error", "Something went wrong on our side. Try again later.",
                            "internal-error")


# --- API keys: the guard and the per-key rate limit ------------------------------------------------------


@dataclass(frozen=True)
class _CachedKey:
    key_id: int
    rate_limit_per_minute: int
    cached_at: datetime


_KEY_CACHE: dict[str, _CachedKey] = {}


def forget_cached_key(key_hash: str) -> None:
    """Called when a key is revoked, so this process refuses it at once (others within KEY_CACHE_SECONDS)."""
    _KEY_CACHE.pop(key_hash, None)


def _unauthorised(detail: str) -> ApiProblem:
    return ApiProblem(401, "Unauthorised", detail, "unauthorised",
                      headers={"WWW-Authenticate": 'Bearer realm="NHS Innovation DPS API"'})


async def _known_key(connection: ASGIConnection[Any, Any, Any, Any], secret: str, now: datetime) -> _CachedKey | None:
    key_hash = services.hash_api_key(secret)
    cached = _KEY_CACHE.get(key_hash)
    if cached is not None and now - cached.cached_at < timedelta(seconds=KEY_CACHE_SECONDS):
        return cached
    async with connection.app.state.db_config.get_session() as session:
        key = await services.active_api_key(session, secret)
    if key is None:
        _KEY_CACHE.pop(key_hash, None)
        return None
    cached = _KEY_CACHE[key_hash] = _CachedKey(key.id or 0, key.rate_limit_per_minute, now)
    return cached


async def _api_key_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    scheme, _sep, secret = connection.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise _unauthorised("Send your API key as: Authorization: Bearer <key>")
    now = connection.app.state.clock.now()
    key = await _known_key(connection, secret.strip(), now)
    if key is None:
        raise _unauthorised("The API key is not recognised or has been revoked")
    # A fixed one-minute window per key, counted in the shared rate-limit store (memory, or Redis when scaled out).
    seconds = int(now.timestamp())
    window_key = f"api-key:{key.key_id}:{seconds // 60}"
    store = connection.app.stores.get("rate_limit")
    raw = await store.get(window_key)
    count = int(raw) if raw else 0
    if count >= key.rate_limit_per_minute:
        retry_after = 60 - seconds % 60
        raise ApiProblem(429, "Too many requests",
                         f"This key may make {key.rate_limit_per_minute} requests a minute; try again in "
                         f"{retry_after} seconds", "rate-limited", headers={"Retry-After": str(retry_after)})
    await store.set(window_key, str(count + 1).encode(), expires_in=120)
    connection.scope["api_key_id"] = key.key_id  # type: ignore[typeddict-unknown-key]


setattr(_api_key_guard, GUARD_MARK, "API key (Authorization: Bearer)")
api_key_required = _api_key_guard


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


class Problem(msgspec.Struct):
    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    invalid_params: list[dict[str, str]] | None = None


EXAMPLE_INNOVATION: dict[str, Any] = {
    "id": 42, "name": "HeartFlow FFRct Analysis", "summary": "CT-derived fractional flow reserve for coronary artery disease.",
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


def problem_spec(status: int, description: str, kind: str, detail: str,
                 instance: str = "/api/v1/innovations") -> ResponseSpec:
    """An error response in the OpenAPI document: problem JSON (RFC 9457) with one example."""
    return ResponseSpec(data_container=Problem, description=description, media_type=PROBLEM_JSON, generate_examples=False,
                        examples=[Example(summary=description, value={
                            "type": PROBLEM_TYPES + kind, "title": description, "status": status, "detail": detail,
                            "instance": instance})])


COMMON_RESPONSES: dict[int, ResponseSpec] = {
    401: problem_spec(401, "Unauthorised", "unauthorised", "The API key is not recognised or has been revoked"),
    429: problem_spec(429, "Too many requests", "rate-limited",
                       "This key may make 600 requests a minute; try again in 12 seconds"),
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


def reject_unknown_parameters(request: Request[Any, Any, Any], allowed: frozenset[str]) -> None:
    for name in request.query_params:
        if name not in allowed:
            raise bad_parameter(name, f"unknown parameter; use {', '.join(sorted(allowed))}")


def checked_values(name: str, values: list[str] | None, *, allowed: frozenset[str] | None = None,
                   pattern: re.Pattern[str] | None = None, normalise: Any = None) -> tuple[str, ...]:
    cleaned: list[str] = []
    for raw in values or []:
        value = normalise(raw.strip()) if normalise else raw.strip()
        if (allowed is not None and value not in allowed) or (pattern is not None and not pattern.match(value)):
            expected = ", ".join(sorted(allowed)) if allowed is not None else "a value like " + (
                "QMF" if name == "icb" else "virtual-wards")
            raise bad_parameter(name, f"{raw!r} is not a valid value; expected {expected}")
        if value not in cleaned:
            cleaned.append(value)
    return tuple(cleaned)


def _bool(value: bool | None) -> tuple[str, ...]:
    return () if value is None else ("true" if value else "false",)


def absolute(document: dict[str, Any], base_url: str) -> dict[str, Any]:
    """The stored document with absolute URLs (documents are stored with paths, whatever the host)."""
    out = dict(document)
    out["url"] = base_url + document["url"]
    out["documents"] = [{**d, "url": base_url + d["url"]} for d in document.get("documents", [])]
    return out


# --- handlers ----------------------------------------------------------------------------------------------

@get("/innovations", name="api.innovations", summary="Search innovations", media_type="application/json",
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
                                            max_length=MAX_QUERY_LENGTH, examples=[Example(value="wearable ecg")])] = None,
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
    sort: Annotated[Literal["relevance", "newest", "name"], QueryParameter(description="Order of results")] = "relevance",
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
    result = await search_index_for(settings).search(query)
    base = settings.base_url
    return Response({  # type: ignore[return-value] - encoded as is; InnovationPage documents the shape
        "data": [absolute(dict(hit.document), base) for hit in result.hits],
        "meta": {"total": result.total, "page": result.page, "page_size": result.page_size, "facets": result.facets},
    }, media_type="application/json")


@get("/innovations/{innovation_id:str}", name="api.innovation", summary="One innovation", media_type="application/json",
     description="A published innovation; 404 if it is unknown, not published, withdrawn or its supplier is suspended.",
     responses={200: ResponseSpec(data_container=InnovationOne, description="The innovation", generate_examples=False,
                                  examples=[Example(summary="An innovation", value={"data": EXAMPLE_INNOVATION})]),
                404: problem_spec(404, "Not found", "not-found", "There is no published innovation with this id"),
                **COMMON_RESPONSES},
     tags=["innovations"])
async def get_innovation(request: Request[Any, Any, Any], db_session: DbSession,
                         innovation_id: Annotated[str, PathParameter(description="Innovation id",
                                                                     examples=[Example(value="42")])]) -> InnovationOne:
    reject_unknown_parameters(request, frozenset())
    if not innovation_id.isdigit() or len(innovation_id) > 12:
        raise ApiProblem(404, "Not found", "There is no published innovation with this id", "not-found")
    document = await services.published_innovation(db_session, int(innovation_id), request.app.state.clock.now().date())
    return Response({"data": absolute(document, request.app.state.settings.base_url)},  # type: ignore[return-value]
                    media_type="application/json")


@get("/changes", name="api.changes", summary="Changes feed", media_type="application/json",
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
    request: Request[Any, Any, Any], db_session: DbSession,
    since: Annotated[str | None, QueryParameter(description="Cursor from the previous page's meta.next",
                                                examples=[Example(value="17")])] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=CHANGES_MAX_LIMIT, description="Changes a page, 1 to 1000")] = 100,
) -> ChangesPage:
    reject_unknown_parameters(request, CHANGES_PARAMETERS)
    cursor_raw = (since or "0").strip()
    if not cursor_raw.isdigit() or len(cursor_raw) > 18:
        raise bad_parameter("since", "must be a cursor returned as meta.next (a whole number)")
    page = await services.changes_since(db_session, int(cursor_raw), limit + 1)
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


API_EXCEPTION_HANDLERS: dict[type[Exception], Any] = {Exception: api_exception_handler,
                                                       HTTPException: api_exception_handler,
                                                       DomainError: api_exception_handler}

api_router = Router(path="/api/v1", route_handlers=[search_innovations, get_innovation, changes, unknown_path],
                    guards=[api_key_required], exception_handlers=API_EXCEPTION_HANDLERS,
                    security=[{"BearerAuth": []}], tags=["innovations"])
