"""The public contracts register page, its CSV download, the page of each published award notice and the open data
publication policy: no sign-in needed (RULES C8, C10)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, Router, get
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from dps.audit.services import latest_checkpoint
from dps.dates import DATE_PARTS, date_input_values, parse_date_input
from dps.errors import NotFound, ValidationFailed
from dps.forms import FormErrors
from dps.settings import DEVELOPMENT_OCDS_PREFIX
from dps.transparency.api import register_filters
from dps.transparency.register import (
    PAGE_SIZE,
    RegisterFilters,
    filter_choices,
    published_notice,
    register_csv,
    register_entries,
)
from dps.web.api import ApiProblem
from dps.web.auth import public
from dps.web.deps import DbSession, PageNumber


def _filters(q: str | None, buyer: str | None, category: str | None, fund: str | None, awarded_from: str | None,
             awarded_to: str | None) -> tuple[RegisterFilters, FormErrors]:
    """The filters asked for, or none and the error against the filter at fault (the page's field of that name)."""
    errors = FormErrors()
    try:
        return register_filters(q, buyer, category, fund, awarded_from, awarded_to), errors
    except ApiProblem as problem:
        errors.add(problem.parameter or "q", str(problem.detail))
        return RegisterFilters(), errors


DATE_FILTERS = (("awarded_from", "Awarded from"), ("awarded_to", "Awarded to"))


def _typed_dates(request: Request[Any, Any, Any], iso: dict[str, str | None]) -> tuple[dict[str, str | None],
                                                                                      FormErrors, dict[str, str]]:
    """The award dates typed into the page's NHS.UK date inputs (`awarded_from-day`, `-month`, `-year`), as the
    YYYY-MM-DD the filters read; a date given as YYYY-MM-DD (a shared link, the CSV link) is kept. Also what the
    date inputs show again, and an error against the date at fault."""
    dates, errors, shown = dict(iso), FormErrors(), {}
    for name, label in DATE_FILTERS:
        typed = {f"{name}-{part}": request.query_params.get(f"{name}-{part}", "") for part in DATE_PARTS}
        if any(value.strip() for value in typed.values()):
            shown.update(typed)
            try:
                dates[name] = parse_date_input(typed, name, label).isoformat()
            except ValidationFailed as error:
                errors.add_error(error, name)
                dates[name] = None
    return dates, errors, shown


@get("/contracts-register", name="register.index")
async def register_page(request: Request[Any, Any, Any], db_session: DbSession, q: FromQuery[str | None] = None,
                        buyer: FromQuery[str | None] = None, category: FromQuery[str | None] = None,
                        fund: FromQuery[str | None] = None, awarded_from: FromQuery[str | None] = None,
                        awarded_to: FromQuery[str | None] = None, page: PageNumber = 1) -> Template:
    dates, typed_errors, shown = _typed_dates(request, {"awarded_from": awarded_from, "awarded_to": awarded_to})
    filters, errors = _filters(q, buyer, category, fund, dates["awarded_from"], dates["awarded_to"])
    errors.add_all(typed_errors)
    for name, _ in DATE_FILTERS:
        chosen = getattr(filters, name)
        if f"{name}-day" not in shown and chosen is not None:
            shown.update(date_input_values(name, chosen))
    entries = await register_entries(db_session, request.app.state.settings.ocid_prefix, filters)
    page = max(1, page)
    pages = max(1, -(-len(entries) // PAGE_SIZE))
    query = filters.as_query()
    return Template("register/index.html", status_code=400 if errors else 200, context={
        "entries": entries[(page - 1) * PAGE_SIZE:page * PAGE_SIZE], "total": len(entries), "filters": filters,
        "errors": errors, "choices": await filter_choices(db_session), "date_values": shown,
        "csv_href": "/contracts-register.csv" + ("?" + urlencode(query) if query else ""),
        "prev_href": "?" + urlencode({**query, "page": page - 1}) if page > 1 else None,
        "next_href": "?" + urlencode({**query, "page": page + 1}) if page < pages else None,
        "checkpoint": await latest_checkpoint(db_session),
    })


@get("/contracts-register.csv", name="register.csv")
async def register_download(request: Request[Any, Any, Any], db_session: DbSession, q: FromQuery[str | None] = None,
                            buyer: FromQuery[str | None] = None, category: FromQuery[str | None] = None,
                            fund: FromQuery[str | None] = None, awarded_from: FromQuery[str | None] = None,
                            awarded_to: FromQuery[str | None] = None) -> Response[str]:
    dates, typed_errors, _ = _typed_dates(request, {"awarded_from": awarded_from, "awarded_to": awarded_to})
    filters, errors = _filters(q, buyer, category, fund, dates["awarded_from"], dates["awarded_to"])
    errors.add_all(typed_errors)
    if errors:
        return Response("\n".join(errors.messages.values()), status_code=400, media_type="text/plain; charset=utf-8")
    entries = await register_entries(db_session, request.app.state.settings.ocid_prefix, filters)
    return Response(register_csv(entries), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="contracts-register.csv"'})


@get("/contracts-register/{ocid:str}", name="register.notice")
async def notice_page(request: Request[Any, Any, Any], db_session: DbSession, ocid: FromPath[str]) -> Template:
    notice = await published_notice(db_session, request.app.state.settings.ocid_prefix, ocid)
    if notice is None:
        raise NotFound("There is no published award notice with this reference")
    return Template("register/notice.html", context={"notice": notice, "e": notice.entry})


@get("/open-data/publication-policy", name="open_data.publication_policy")
async def publication_policy(request: Request[Any, Any, Any]) -> Template:
    settings = request.app.state.settings
    return Template("register/publication_policy.html", context={
        "base_url": settings.base_url, "ocid_prefix": settings.ocid_prefix,
        "development_prefix": settings.ocid_prefix == DEVELOPMENT_OCDS_PREFIX})


register_router = Router(path="/", route_handlers=[register_page, register_download, notice_page,
                                                   publication_policy], guards=[public])
