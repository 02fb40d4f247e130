"""Authority pages for declaration refreshes (A6) and each supplier's record with its dated assurance."""

from __future__ import annotations

from typing import Any

from litestar import Request, Router, get, post
from litestar.params import FromPath
from litestar.response import Template

from dps.admission import refresh, services
from dps.agreements.services import list_agreements
from dps.errors import NotFound
from dps.forms import FormErrors, whole_number
from dps.identity.models import Organisation, OrganisationKind
from dps.identity.services import SignedInUser
from dps.web.auth import authority_admin_only, authority_only
from dps.web.deps import CurrentUser, DbSession, Now
from dps.web.forms import read_form, redirect_to


async def _requests_page(request: Request[Any, Any, Any], db_session: Any, user: SignedInUser,
                         errors: FormErrors | None = None,
                         values: dict[str, str] | None = None, status_code: int = 200) -> Template:
    return Template("authority/refresh/index.html", status_code=status_code, context={
        "requests": await refresh.refresh_requests(db_session), "agreements": await list_agreements(db_session),
        "can_request": user.has_role_in(OrganisationKind.AUTHORITY, "authority_admin"),
        "errors": errors or FormErrors(), "values": values or {}})


@get("/refresh", name="authority.refresh")
async def refresh_index(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser) -> Template:
    return await _requests_page(request, db_session, user)


@post("/refresh", name="authority.refresh.request", guards=[authority_admin_only])
async def refresh_request(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now) -> Any:
    form = await read_form(request)
    category_id = whole_number(form.get("category_id"))
    if category_id is None:
        errors = FormErrors()
        errors.add("category_id", "Select the category whose suppliers should refresh their declaration")
        return await _requests_page(request, db_session, user, errors, form, status_code=400)
    created = await refresh.request_refresh(db_session, user, category_id=category_id,
                                            message=form.get("message", ""), now=now)
    return redirect_to(request, "authority.refresh.show", request_id=created.id)


@get("/refresh/{request_id:int}", name="authority.refresh.show")
async def refresh_show(request: Request[Any, Any, Any], db_session: DbSession, now: Now,
                       request_id: FromPath[int]) -> Template:
    rows = await refresh.refresh_rows(db_session, now, request_id=request_id)
    if not rows:
        raise NotFound("There is no such request")
    return Template("authority/refresh/show.html", context={"rows": rows})


@get("/suppliers/{organisation_id:int}", name="authority.supplier")
async def supplier_record(request: Request[Any, Any, Any], db_session: DbSession, now: Now,
                          organisation_id: FromPath[int]) -> Template:
    organisation = await db_session.get(Organisation, organisation_id)
    if organisation is None or organisation.kind != OrganisationKind.SUPPLIER:
        raise NotFound("There is no such supplier")
    ids = frozenset({organisation_id})
    assurance = await refresh.admitted_supplier_assurance(db_session, ids)
    return Template("authority/supplier.html", context={
        "organisation": organisation, "today": now.date(),
        "admissions": await services.admissions_of(db_session, ids),
        "applications": await services.applications_of(db_session, ids),
        "expiries": assurance[0].expiries if assurance else [],
        "refreshes": await refresh.refresh_rows(db_session, now, organisation_ids=ids)})


authority_refresh_router = Router(
    path="/authority", route_handlers=[refresh_index, refresh_request, refresh_show, supplier_record],
    guards=[authority_only])
