"""Supplier pages for applying to DPS categories: choose a category, answer the questionnaire section by
section, check the answers, submit, follow the clock and read the outcome."""

from __future__ import annotations

from typing import Any

from litestar import Request, Router, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from dps.admission import refresh, services
from dps.admission.questionnaire import asked_section, incomplete_sections
from dps.agreements.services import list_agreements
from dps.forms import FormErrors, whole_number
from dps.identity.models import OrganisationKind
from dps.questions import asked_keys
from dps.web.auth import memberships_in, supplier_only
from dps.web.deps import CurrentUser, DbSession, Now
from dps.web.forms import read_form, redirect_to


@get("/", name="supplier.home")
async def supplier_home(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser,
                        now: Now) -> Template:
    organisation_ids = user.organisation_ids_of_kind(OrganisationKind.SUPPLIER)
    return Template("supplier/home.html", context={
        "memberships": memberships_in(request, OrganisationKind.SUPPLIER),
        "applications": await services.applications_of(db_session, organisation_ids),
        "admissions": await services.admissions_of(db_session, organisation_ids),
        "refreshes": await refresh.refresh_rows(db_session, now, organisation_ids=organisation_ids),
        "assurance": await refresh.admitted_supplier_assurance(db_session, organisation_ids),
        "today": now.date(),
    })


@get("/applications/new", name="supplier.applications.new")
async def choose_category(request: Request[Any, Any, Any], db_session: DbSession) -> Template:
    return Template("supplier/applications/new.html", context={
        "agreements": await list_agreements(db_session), "errors": FormErrors(), "values": {},
        "organisations": memberships_in(request, OrganisationKind.SUPPLIER),
    })


@post("/applications", name="supplier.applications.start")
async def start(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now) -> Any:
    form = await read_form(request)
    organisations = memberships_in(request, OrganisationKind.SUPPLIER)
    errors = FormErrors()
    if whole_number(form.get("category_id")) is None:
        errors.add("category_id", "Select the category you want to join")
    organisation_id = form.get("organisation_id") or (str(organisations[0].organisation_id) if organisations else "")
    if whole_number(organisation_id) is None:
        errors.add("organisation_id", "Select the organisation that is applying")
    if errors:
        return Template("supplier/applications/new.html", status_code=400, context={
            "agreements": await list_agreements(db_session), "errors": errors, "values": form,
            "organisations": organisations})
    application = await services.start_application(
        db_session, user, organisation_id=int(organisation_id), category_id=int(form["category_id"]),
        now=now)
    return redirect_to(request, "supplier.applications.show", application_id=application.id)


@get("/applications/{application_id:int}", name="supplier.applications.show")
async def task_list(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                    application_id: FromPath[int]) -> Template:
    application = await services.application_for_supplier(db_session, user, application_id)
    asked = await services.sections_of_application(db_session, application)  # only what the category asks
    return Template("supplier/applications/task_list.html", context={
        "summary": await services.application_summary(db_session, application),
        "sections": asked, "incomplete": {s.key for s in incomplete_sections(application.answers, asked)},
        "now": now,
    })


@get("/applications/{application_id:int}/sections/{section_key:str}", name="supplier.applications.section")
async def section_form(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser,
                       application_id: FromPath[int],
                       section_key: FromPath[str]) -> Template:
    application = await services.application_for_supplier(db_session, user, application_id)
    sec = asked_section(await services.sections_of_application(db_session, application), section_key)
    values = application.answers.get(sec.key, {}).get("values", {})
    return Template("supplier/applications/section.html", context={
        "application": application, "section": sec, "values": values, "errors": FormErrors(),
        "asked": asked_keys(sec, values)})


@post("/applications/{application_id:int}/sections/{section_key:str}", name="supplier.applications.section.save")
async def save_section(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                       application_id: FromPath[int],
                       section_key: FromPath[str]) -> Any:
    form = await read_form(request)
    saved = await services.save_section(db_session, user, application_id, section_key, form,
                                        now)
    if saved.complete:
        return redirect_to(request, "supplier.applications.show", application_id=application_id)
    application = await services.application_for_supplier(db_session, user, application_id)
    sec = asked_section(await services.sections_of_application(db_session, application), section_key)
    return Template("supplier/applications/section.html", status_code=400, context={
        "application": application, "section": sec, "values": saved.values, "errors": saved.errors,
        "asked": asked_keys(sec, saved.values)})


@get("/applications/{application_id:int}/check", name="supplier.applications.check")
async def check_answers(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser,
                        application_id: FromPath[int]) -> Template:
    application = await services.application_for_supplier(db_session, user, application_id)
    asked = await services.sections_of_application(db_session, application)
    return Template("supplier/applications/check.html", context={
        "summary": await services.application_summary(db_session, application), "sections": asked,
        "incomplete": incomplete_sections(application.answers, asked), "errors": FormErrors()})


@post("/applications/{application_id:int}/submit", name="supplier.applications.submit")
async def submit(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                 application_id: FromPath[int]) -> Redirect:
    await services.submit_application(db_session, user, application_id, now)
    return redirect_to(request, "supplier.applications.show", application_id=application_id)


@post("/applications/{application_id:int}/withdraw", name="supplier.applications.withdraw")
async def withdraw(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                   application_id: FromPath[int]) -> Redirect:
    await services.withdraw_application(db_session, user, application_id, now)
    return redirect_to(request, "supplier.applications.show", application_id=application_id)


supplier_applications_router = Router(
    path="/supplier",
    route_handlers=[supplier_home, choose_category, start, task_list, section_form, save_section, check_answers,
                    submit, withdraw],
    guards=[supplier_only],
)
