"""Public award data on the /api/v1 API (same API keys, rate limits and problem JSON as the catalogue API).

- GET /api/v1/ocds/releases?since=&page=: an OCDS release package, oldest first, 100 releases a page, with
  `links.next` (and `links.prev`) to page through.
- GET /api/v1/ocds/records/{ocid}: an OCDS record package with the compiled release (merged with ocdsmerge).
- GET /api/v1/contracts-register: awarded contracts of £30,000 or more including VAT, from the publication of their
  contract award notice (RULES C10).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Request, Response, Router, get
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import PathParameter, QueryParameter

from dps.dates import ISO_DATE_EXAMPLE, parse_iso_date
from dps.errors import ValidationFailed
from dps.forms import whole_number
from dps.transparency import ocds, services
from dps.transparency.register import PAGE_SIZE as REGISTER_PAGE_SIZE
from dps.transparency.register import RegisterFilters, register_entries
from dps.web.api import (
    API_EXCEPTION_HANDLERS,
    COMMON_RESPONSES,
    ApiProblem,
    bad_parameter,
    open_data,
    problem_spec,
    reject_unknown_parameters,
)
from dps.web.deps import DbSession

OCDS_MEDIA_TYPE = "application/json"
_ODS = re.compile(r"^[A-Z0-9]{3,10}$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")


# Every refusal is problem JSON (as in the catalogue API): a bad or unknown query parameter is a 400 naming it.
RELEASES_RESPONSES: dict[int, ResponseSpec] = {
    400: problem_spec(400, "Invalid query parameter", "invalid-parameter",
                  "since: must be a date or date-time like 2026-01-31 or 2026-01-31T09:00:00Z",
                  "/api/v1/ocds/releases"),
    **COMMON_RESPONSES,
}
RECORD_RESPONSES: dict[int, ResponseSpec] = {
    400: problem_spec(400, "Invalid query parameter", "invalid-parameter",
                  "page: unknown parameter", "/api/v1/ocds/records/ocds-dpsnhs-42"),
    404: problem_spec(404, "Not found", "not-found", "There is no published contracting process with this ocid",
                  "/api/v1/ocds/records/ocds-dpsnhs-42"),
    **COMMON_RESPONSES,
}
REGISTER_RESPONSES: dict[int, ResponseSpec] = {
    400: problem_spec(400, "Invalid query parameter", "invalid-parameter", "buyer: must be an ODS code like RJ1",
                  "/api/v1/contracts-register"),
    **COMMON_RESPONSES,
}


def parse_since(raw: str | None) -> datetime | None:
    if raw is None or not raw.strip():
        return None
    text = raw.strip().replace("Z", "+00:00")
    try:
        value = datetime.fromisoformat(text) if "T" in text or " " in text else datetime.combine(
            parse_iso_date(text, "since"), datetime.min.time())
    except (ValueError, ValidationFailed):
        raise bad_parameter("since", "must be a date or date-time like 2026-01-31 or 2026-01-31T09:00:00Z") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_date(name: str, raw: str | None) -> date | None:
    if raw is None or not raw.strip():
        return None
    try:
        return parse_iso_date(raw, name)
    except ValidationFailed:
        raise bad_parameter(name, f"must be a date like {ISO_DATE_EXAMPLE}") from None


@get("/ocds/releases", name="api.ocds.releases",
     operation_id="listOcdsReleases", summary="OCDS releases", media_type=OCDS_MEDIA_TYPE,
     description="An OCDS 1.1 release package of every published competition's releases (tender, award, contract, "
                 "implementation), oldest first, 100 a page. `since` keeps releases dated at or after it; follow "
                 "`links.next` for the next page. Before a tender deadline nothing about bids is published.",
     responses=RELEASES_RESPONSES, tags=["ocds"])
async def ocds_releases(
    request: Request[Any, Any, Any], db_session: DbSession,
    since: Annotated[str | None, QueryParameter(description="Date or date-time (UTC if no offset)")] = None,
    page: Annotated[int, QueryParameter(ge=1, le=100_000, description="Page number, from 1")] = 1,
) -> dict[str, Any]:
    reject_unknown_parameters(request, frozenset({"since", "page"}))
    settings = request.app.state.settings
    since_at = parse_since(since)
    result = await services.releases_page(db_session, settings, since=since_at, page=page)
    base = f"{settings.base_url}/api/v1/ocds/releases"

    def link(to_page: int) -> str:
        query = {"since": ocds.iso(since_at)} if since_at else {}
        return f"{base}?{urlencode({**query, 'page': to_page})}"

    links = {}
    if result.has_next:
        links["next"] = link(page + 1)
    if page > 1:
        links["prev"] = link(page - 1)
    package = services.package(result.releases, settings, uri=link(page), published_at=request.app.state.clock.now(),
                               links=links)
    return Response(package, media_type=OCDS_MEDIA_TYPE)  # type: ignore[return-value]


@get("/ocds/records/{ocid:str}", name="api.ocds.record",
     operation_id="getOcdsRecord", summary="OCDS record", media_type=OCDS_MEDIA_TYPE,
     description="An OCDS record package holding one contracting process: its releases and the compiled release.",
     responses=RECORD_RESPONSES, tags=["ocds"])
async def ocds_record(request: Request[Any, Any, Any], db_session: DbSession,
                      ocid: Annotated[str, PathParameter(description="The ocid, e.g. ocds-dpsnhs-42")]) -> dict[str,
                                                                                                                Any]:
    reject_unknown_parameters(request, frozenset())
    settings = request.app.state.settings
    record = await services.record(db_session, settings, ocid)
    if record is None:
        raise ApiProblem(404, "Not found", "There is no published contracting process with this ocid", "not-found")
    package = {
        "uri": f"{settings.base_url}/api/v1/ocds/records/{ocid}", "version": ocds.OCDS_VERSION,
        "publishedDate": ocds.iso(request.app.state.clock.now()),
        "publisher": {"name": "NHS Innovation DPS", "uri": settings.base_url},
        "license": "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/",
        "publicationPolicy": settings.base_url + "/contracts-register",
        "records": [record],
    }
    return Response(package, media_type=OCDS_MEDIA_TYPE)  # type: ignore[return-value]


REGISTER_PARAMETERS = frozenset({"q", "buyer", "category", "fund", "awarded_from", "awarded_to", "page"})


def register_filters(q: str | None, buyer: str | None, category: str | None, fund: str | None,
                     awarded_from: str | None, awarded_to: str | None) -> RegisterFilters:
    buyer_code = (buyer or "").strip().upper()
    if buyer_code and not _ODS.match(buyer_code):
        raise bad_parameter("buyer", "must be an ODS code like RJ1")
    slug = (category or "").strip().lower()
    if slug and not _SLUG.match(slug):
        raise bad_parameter("category", "must be a category slug like virtual-wards")
    fund_raw = (fund or "").strip()
    fund_id = whole_number(fund_raw)
    if fund_raw and fund_id is None:
        raise bad_parameter("fund", "must be a fund id (a whole number)")
    return RegisterFilters(q=(q or "").strip()[:200], buyer=buyer_code, category=slug,
                           fund=fund_id,
                           awarded_from=parse_date("awarded_from", awarded_from),
                           awarded_to=parse_date("awarded_to", awarded_to))


@get("/contracts-register", name="api.contracts_register",
     operation_id="listContractsRegister", summary="Contracts register",
     media_type="application/json",
     description="Awarded contracts worth £30,000 or more including VAT, listed from the publication of their "
                 "contract award notice: buyer, supplier, category, values in pence, dates and funds. `awarded_on` is "
                 "the day the notice was published; `contract_made_on` is null (and `standstill_ends_at` set) until "
                 "the contract is made. Filters: q (words in title, buyer or supplier), buyer (ODS code), category "
                 "(slug), fund (id), awarded_from and awarded_to (dates).",
     responses=REGISTER_RESPONSES, tags=["contracts register"])
async def contracts_register(
    request: Request[Any, Any, Any], db_session: DbSession,
    q: Annotated[str | None, QueryParameter(description="Words in the title, buyer or supplier")] = None,
    buyer: Annotated[str | None, QueryParameter(description="Buyer ODS code", pattern=r"^\s*([A-Za-z0-9]{3,10})?\s*$",
                                                 examples=[Example(value="RJ1")])] = None,
    category: Annotated[str | None, QueryParameter(description="Category slug",
                                                    pattern=r"^\s*([A-Za-z0-9][A-Za-z0-9-]{0,79})?\s*$",
                                                    examples=[Example(value="virtual-wards")])] = None,
    fund: Annotated[str | None, QueryParameter(description="Fund id", pattern=r"^\s*([0-9]{1,10})?\s*$",
                                                examples=[Example(value="3")])] = None,
    awarded_from: Annotated[str | None, QueryParameter(description="Awarded on or after (YYYY-MM-DD)")] = None,
    awarded_to: Annotated[str | None, QueryParameter(description="Awarded on or before (YYYY-MM-DD)")] = None,
    page: Annotated[int, QueryParameter(ge=1, le=100_000, description="Page number, from 1")] = 1,
) -> dict[str, Any]:
    reject_unknown_parameters(request, REGISTER_PARAMETERS)
    filters = register_filters(q, buyer, category, fund, awarded_from, awarded_to)
    entries = await register_entries(db_session, request.app.state.settings.ocid_prefix, filters)
    start = (page - 1) * REGISTER_PAGE_SIZE
    return Response({  # type: ignore[return-value]
        "data": [e.to_json() for e in entries[start:start + REGISTER_PAGE_SIZE]],
        "meta": {"total": len(entries), "page": page, "page_size": REGISTER_PAGE_SIZE,
                 "has_more": len(entries) > start + REGISTER_PAGE_SIZE}}, media_type="application/json")


transparency_api_router = Router(path="/api/v1", route_handlers=[ocds_releases, ocds_record, contracts_register],
                                 guards=[open_data], exception_handlers=API_EXCEPTION_HANDLERS,
                                 security=[{}, {"BearerAuth": []}])
