"""Public award data on the /api/v1 API (same API keys, rate limits and problem JSON as the catalogue API).

- GET /api/v1/ocds/releases?since=&page=: an OCDS release package, oldest first, 100 releases a page, with
  `links.next` (and `links.prev`) to page through.
- GET /api/v1/ocds/records/{ocid}: an OCDS record package with the compiled release (merged with ocdsmerge).
- GET /api/v1/ocds/bulk: the bulk files, one a year; GET /api/v1/ocds/bulk/{year}.jsonl.gz: every release of that
  year, one per line, gzipped (built by the daily jobs, served with ETag and Last-Modified, 304 when unchanged).
- GET /api/v1/contracts-register: awarded contracts of £30,000 or more including VAT, from the publication of their
  contract award notice (RULES C10).
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, date, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

import msgspec
from litestar import Request, Response, Router, get
from litestar.datastructures import ResponseHeader
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import HeaderParameter, PathParameter, QueryParameter

from dps.dates import ISO_DATE_EXAMPLE, parse_iso_date
from dps.errors import ValidationFailed
from dps.forms import whole_number
from dps.transparency import bulk, ocds, services
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
        "publicationPolicy": settings.base_url + "/open-data/publication-policy",
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


# --- bulk files ----------------------------------------------------------------------------------------------

LICENCE = "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"


class BulkFileOut(msgspec.Struct):
    year: int
    url: str
    size_bytes: int
    release_count: int
    last_modified: str


class BulkFilesMeta(msgspec.Struct):
    total: int
    licence: str
    publication_policy: str


class BulkFileList(msgspec.Struct):
    data: list[BulkFileOut]
    meta: BulkFilesMeta


EXAMPLE_BULK_LIST = {
    "data": [{"year": 2025, "url": "https://dps.example.nhs.uk/api/v1/ocds/bulk/2025.jsonl.gz", "size_bytes": 48213,
              "release_count": 212, "last_modified": "2025-12-31T02:00:04Z"},
             {"year": 2026, "url": "https://dps.example.nhs.uk/api/v1/ocds/bulk/2026.jsonl.gz", "size_bytes": 9120,
              "release_count": 37, "last_modified": "2026-01-17T02:00:03Z"}],
    "meta": {"total": 2, "licence": LICENCE,
             "publication_policy": "https://dps.example.nhs.uk/open-data/publication-policy"}}
BULK_LIST_RESPONSES: dict[int, ResponseSpec] = {
    200: ResponseSpec(data_container=BulkFileList, description="The bulk files, oldest year first",
                      generate_examples=False, examples=[Example(summary="Two years", value=EXAMPLE_BULK_LIST)]),
    400: problem_spec(400, "Invalid query parameter", "invalid-parameter",
                      "page: unknown parameter; this operation takes no query parameters",
                      "/api/v1/ocds/bulk"),
    **COMMON_RESPONSES,
}
BULK_FILE_RESPONSES: dict[int, ResponseSpec] = {
    304: ResponseSpec(data_container=None, description="Not modified: the file still has the ETag sent in "
                      "If-None-Match (or has not changed since If-Modified-Since)", generate_examples=False),
    400: problem_spec(400, "Invalid query parameter", "invalid-parameter",
                      "page: unknown parameter; this operation takes no query parameters",
                      "/api/v1/ocds/bulk/2026.jsonl.gz"),
    404: problem_spec(404, "Not found", "not-found", "There is no bulk file named '1999.jsonl.gz': the files are "
                      "listed at /api/v1/ocds/bulk", "/api/v1/ocds/bulk/1999.jsonl.gz"),
    **COMMON_RESPONSES,
}
FILE_HEADERS = [
    ResponseHeader(name="ETag", description="Changes only when the year's releases change: send it back in "
                   'If-None-Match. For example "3f2a9c0d5b7e41a8c6d2e0f9a1b4c7d8"', documentation_only=True),
    ResponseHeader(name="Last-Modified", description="When the year's file last changed, e.g. Sat, 17 Jan 2026 "
                   "02:00:03 GMT", documentation_only=True),
    ResponseHeader(name="Content-Disposition", description='The file\'s name: attachment; filename="2026.jsonl.gz"',
                   documentation_only=True),
]


@get("/ocds/bulk", name="api.ocds.bulk", operation_id="listOcdsBulkFiles", summary="OCDS bulk files",
     media_type="application/json",
     description="The OCDS bulk files: one a calendar year (by release date, UTC) holding every release of that "
                 "year, with its address, size in bytes, number of releases and when it last changed. The files are "
                 "rebuilt daily; a year's file changes only when its releases do.",
     responses=BULK_LIST_RESPONSES, tags=["ocds"])
async def ocds_bulk_files(request: Request[Any, Any, Any]) -> BulkFileList:
    reject_unknown_parameters(request, frozenset())
    settings = request.app.state.settings
    files = await asyncio.to_thread(bulk.bulk_files, settings)
    return BulkFileList(
        data=[BulkFileOut(year=f.year, url=f"{settings.base_url}/api/v1/ocds/bulk/{f.name}", size_bytes=f.size,
                          release_count=f.releases, last_modified=ocds.iso(f.last_modified)) for f in files],
        meta=BulkFilesMeta(total=len(files), licence=LICENCE,
                           publication_policy=f"{settings.base_url}/open-data/publication-policy"))


def _read_bulk_file(settings: Any, year: int) -> tuple[bulk.BulkFile, bytes] | None:
    found = bulk.bulk_file(settings, year)
    if found is None:
        return None
    entry, path = found
    try:
        return entry, path.read_bytes()
    except FileNotFoundError:
        return None


@get("/ocds/bulk/{file:str}", name="api.ocds.bulk_file", operation_id="getOcdsBulkFile",
     summary="OCDS bulk file of a year", media_type=bulk.MEDIA_TYPE,
     description="Every release of one calendar year (by release date, UTC), one OCDS release as JSON a line "
                 "(JSON Lines), gzipped. Each release validates against OCDS 1.1. Send the ETag you hold in "
                 "`If-None-Match` (or its Last-Modified in `If-Modified-Since`) and an unchanged file answers 304 "
                 "with no body. Once decompressed, a line reads like "
                 '`{"date":"2026-01-16T12:00:00Z","id":"ocds-dpsnhs-42-tender","ocid":"ocds-dpsnhs-42",...}`.',
     response_description="The year's releases: gzipped JSON Lines, one OCDS release a line",
     responses=BULK_FILE_RESPONSES, response_headers=FILE_HEADERS, tags=["ocds"])
async def ocds_bulk_file(
    request: Request[Any, Any, Any],
    file: Annotated[str, PathParameter(description="The year's file name: the year, then .jsonl.gz",
                                       examples=[Example(value="2026.jsonl.gz")])],
    if_none_match: Annotated[str | None, HeaderParameter(
        name="If-None-Match", description="The ETag of the copy you hold",
        examples=[Example(value='"3f2a9c0d5b7e41a8c6d2e0f9a1b4c7d8"')])] = None,
    if_modified_since: Annotated[str | None, HeaderParameter(
        name="If-Modified-Since", description="The Last-Modified of the copy you hold",
        examples=[Example(value="Sat, 17 Jan 2026 02:00:03 GMT")])] = None,
) -> Response[bytes]:
    reject_unknown_parameters(request, frozenset())
    year = bulk.year_of_file(file)
    found = await asyncio.to_thread(_read_bulk_file, request.app.state.settings, year) if year else None
    if found is None:
        raise ApiProblem(404, "Not found", f"There is no bulk file named {file[:40]!r}: the files are listed at "
                         "/api/v1/ocds/bulk", "not-found")
    entry, content = found
    headers = {"ETag": entry.etag, "Last-Modified": bulk.http_date(entry.last_modified),
               "Cache-Control": "public, no-cache"}
    if bulk.not_modified(entry, if_none_match, if_modified_since):
        return Response(b"", status_code=304, headers=headers, media_type=bulk.MEDIA_TYPE)
    headers["Content-Disposition"] = f'attachment; filename="{entry.name}"'
    return Response(content, headers=headers, media_type=bulk.MEDIA_TYPE)


transparency_api_router = Router(path="/api/v1", route_handlers=[ocds_releases, ocds_record, ocds_bulk_files,
                                                                  ocds_bulk_file, contracts_register],
                                 guards=[open_data], exception_handlers=API_EXCEPTION_HANDLERS,
                                 security=[{}, {"BearerAuth": []}])
