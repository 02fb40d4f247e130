"""The authority's pages for admission: the evaluation queue, section-by-section evaluation, the decision,
clock extensions, and suspending, reinstating or removing admitted suppliers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Request, Router, get, post
from litestar.params import FromPath
from litestar.response import Template

from dps.admission import services
from dps.admission.questionnaire import assurance_expiries
from dps.admission.rules import MembershipEvent, can_extend_clock
from dps.errors import NotFound
from dps.forms import FormErrors
from dps.identity.models import OrganisationKind
from dps.identity.services import SignedInUser
from dps.outbox.services import dead_letter_count
from dps.web.auth import authority_admin_only, authority_only, memberships_in
from dps.web.deps import CurrentUser, DbSession, Now
from dps.web.forms import path_for, read_form, redirect_to, run_form_command


@get("/", name="authority.home")
async def authority_home(request: Request[Any, Any, Any], db_session: DbSession, now: Now) -> Template:
    queue = await services.evaluation_queue(db_session, now)
    return Template("authority/home.html", context={
        "memberships": memberships_in(request, OrganisationKind.AUTHORITY),
        "queue_size": len(queue), "overdue": sum(1 for item in queue if item.clock.overdue),
        "dead_letters": await dead_letter_count(db_session)})


@get("/applications", name="authority.queue")
async def queue(request: Request[Any, Any, Any], db_session: DbSession, now: Now) -> Template:
    return Template("authority/applications/queue.html", context={
        "queue": await services.evaluation_queue(db_session, now)})


async def _application_page(request: Request[Any, Any, Any], db_session: Any, user: SignedInUser, now: datetime,
                            application_id: FromPath[int],
                            errors: FormErrors | None = None, values: dict[str, str] | None = None,
                            status_code: int = 200) -> Template:
    application = await services.application_for_evaluator(db_session, user, application_id)
    asked = await services.sections_of_application(db_session, application)  # A2: the category's sections only
    return Template("authority/applications/show.html", status_code=status_code, context={
        "summary": await services.application_summary(db_session, application),
        "sections": asked,
        "evaluations": await services.section_evaluations(db_session, application_id),
        "independent": services.can_evaluate(set(user.organisation_ids()), application.organisation_id),
        "expiries": assurance_expiries(application.answers, asked),
        "today": now.date(), "errors": errors or FormErrors(), "values": values or {},
        "can_extend": application.due_at is None or can_extend_clock(application.due_at, now),
    })


@get("/applications/{application_id:int}", name="authority.application")
async def show(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
               application_id: FromPath[int]) -> Template:
    return await _application_page(request, db_session, user, now, application_id)


async def _run_form(request: Request[Any, Any, Any], db_session: Any, user: SignedInUser, now: datetime,
                    application_id: FromPath[int], action: Any, anchor: str = "") -> Any:
    """Run a form's command; a validation error re-renders the page with the message and what was typed. `anchor`
    brings the evaluator back to where they were on the page ("#section-dtac"), not to its top."""
    return await run_form_command(
        request, db_session, action,
        redirect=path_for(request, "authority.application", application_id=application_id) + anchor,
        on_error=lambda errors, form: _application_page(request, db_session, user, now, application_id, errors, form,
                                                        status_code=400))


@post("/applications/{application_id:int}/sections/{section_key:str}", name="authority.application.evaluate")
async def evaluate(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                   application_id: FromPath[int],
                   section_key: FromPath[str]) -> Any:
    async def action(form: dict[str, str]) -> None:
        await services.evaluate_section(
            db_session, user, application_id, section_key, outcome=form.get("outcome", ""),
            comment=form.get("comment", ""), now=now)

    return await _run_form(request, db_session, user, now, application_id, action, anchor=f"#section-{section_key}")


@post("/applications/{application_id:int}/decision", name="authority.application.decide")
async def decide(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                 application_id: FromPath[int]) -> Any:
    async def action(form: dict[str, str]) -> None:
        await services.decide_application(
            db_session, user, application_id, decision=form.get("decision", ""),
            reasons=form.get("reasons", ""), now=now)

    return await _run_form(request, db_session, user, now, application_id, action)


@post("/applications/{application_id:int}/extend", name="authority.application.extend")
async def extend(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                 application_id: FromPath[int]) -> Any:
    async def action(form: dict[str, str]) -> None:
        await services.extend_clock(db_session, user, application_id,
                                    reason=form.get("reason", ""), now=now)

    return await _run_form(request, db_session, user, now, application_id, action)


@get("/suppliers", name="authority.suppliers")
async def suppliers(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser) -> Template:
    return Template("authority/suppliers.html", context={
        "admissions": await services.admissions_of(db_session),
        "can_change": user.has_role_in(OrganisationKind.AUTHORITY, "authority_admin")})


@post("/admissions/{admission_id:int}/{event:str}", name="authority.admission.change",
      guards=[authority_admin_only])
async def change_admission(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                           admission_id: FromPath[int],
                           event: FromPath[str]) -> Any:
    try:
        membership_event = MembershipEvent(event)
    except ValueError:
        raise NotFound("There is no such action") from None
    form = await read_form(request)
    await services.change_admission(db_session, user, admission_id, event=membership_event,
                                    reason=form.get("reason", ""), now=now)
    return redirect_to(request, "authority.suppliers")


authority_router = Router(
    path="/authority",
    route_handlers=[authority_home, queue, show, evaluate, decide, extend, suppliers, change_admission],
    guards=[authority_only],
)
