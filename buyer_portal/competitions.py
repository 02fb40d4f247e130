"""The buyer's pages for mini-competitions: draft, publish, clarifications, cancel; evaluation (evaluators),
moderation, ranking and award; the contract award notice and standstill; confirming the award with its fund lines
and milestones; the notice that follows the contract.

Every route sits behind the buyer portal guard; commands that only a buyer may give also carry
`buyer_role_only`, and scoring carries `evaluator_role_only`. The services check that the user belongs to the
organisation running the competition (or was chosen as its evaluator) and answer 404 otherwise.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from litestar import Request, Router, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Response, Template

from dps.agreements.services import list_agreements
from dps.calendar import london_date
from dps.competitions import shorter_period
from dps.competitions.forms import (
    FUND_ROWS,
    MILESTONE_ROWS,
    QUESTION_KINDS,
    QUESTION_ROWS,
    form_values_of,
    fund_line_values,
    milestone_values,
    parse_competition_form,
    parse_fund_lines,
    parse_milestones,
)
from dps.competitions.rules import (
    CRITERION_KIND_LABELS,
    TIE_BREAK_WORDING,
    CompetitionState,
    FundLine,
    can_confirm_award,
    proportional_split,
    tie_break_of,
)
from dps.competitions.services import (
    awarding,
    bid_attachments,
    departures,
    drafting,
    evaluating,
    excluding,
    loading,
    notices,
    views,
)
from dps.contracts.rules import default_milestones
from dps.errors import Conflict, ValidationFailed
from dps.forms import FormErrors, InputInvalid, whole_number
from dps.funds import services as funds
from dps.identity.models import OrganisationKind, Role
from dps.identity.services import SignedInUser
from dps.web.auth import buyer_portal_only, requires_role
from dps.web.deps import CurrentUser, DbSession, Now
from dps.web.downloads import pdf_bytes
from dps.web.forms import path_for, redirect_to, run_form_command

buyer_role_only = requires_role(OrganisationKind.BUYER, Role.BUYER)
KPI_ROWS = 5  # key performance indicators a contract details notice can carry from the page
evaluator_role_only = requires_role(OrganisationKind.BUYER, Role.EVALUATOR)




# --- list, create, edit ---------------------------------------------------------------------------------


@get("/", name="buyer.competitions")
async def index(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser) -> Template:
    return Template("buyer/competitions/index.html", context={
        "competitions": await views.competitions_for_team(db_session, user),
        "can_create": user.has_role_in(OrganisationKind.BUYER, Role.BUYER)})


async def _fund_choices(request: Request[Any, Any, Any], db_session: Any, now: datetime,
                        organisations: list[tuple[int, str]],
                        category_id: int | None = None) -> list[dict[str, str]]:
    """The allocations open to the buying organisation(s) (id, name) (RULES.md 5: its own ICB's, or a national
    fund's), with what remains in each, for the fund line choosers; with several organisations each says whose."""
    today = london_date(now)
    open_to: dict[int, tuple[funds.OpenAllocation, list[str]]] = {}
    for organisation_id, name in organisations:
        for item in await funds.allocations_open_to_buyer(db_session, organisation_id, today=today,
                                                          category_id=category_id):
            open_to.setdefault(item.allocation_id, (item, []))[1].append(name)
    several = len(organisations) > 1
    return [{"value": str(item.allocation_id),
             "text": item.label + (f" (for {', '.join(names)})" if several else "")}
            for item, names in open_to.values()]


async def _form_page(request: Request[Any, Any, Any], db_session: Any, user: SignedInUser, now: datetime, *,
                     values: dict[str, Any],
                     errors: FormErrors | None = None, competition: Any = None, status_code: int = 200) -> Template:
    organisations = await drafting.buyer_organisations(db_session, user)
    evaluators = await drafting.evaluators_of(db_session, [o.id for o in organisations])
    return Template("buyer/competitions/form.html", status_code=status_code, context={
        "values": values, "errors": errors or FormErrors(), "competition": competition,
        "organisations": organisations, "evaluators": evaluators, "agreements": await list_agreements(db_session),
        "question_rows": [f"q{i}" for i in range(1, QUESTION_ROWS + 1)], "fund_rows": range(1, FUND_ROWS + 1),
        "fund_choices": await _fund_choices(request, db_session, now, [(o.id or 0, o.name) for o in organisations]),
        "kinds": [(str(k), CRITERION_KIND_LABELS[k]) for k in QUESTION_KINDS]})


@get("/new", name="buyer.competitions.new", guards=[buyer_role_only])
async def new(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
              category_id: FromQuery[int | None] = None) -> Template:
    """A new draft; `category_id` chooses its category at once (from an innovation's page)."""
    defaults = {"price-weight": "40", "q1-kind": "quality", "q1-max_score": "5", "q1-word_limit": "500",
                "q2-kind": "net_zero", "q2-max_score": "5", "q2-word_limit": "300", "q2-title": "Net zero",
                "q3-kind": "social_value", "q3-max_score": "5", "q3-word_limit": "300", "q3-title": "Social value",
                "clarification_deadline-time": "12:00", "tender_deadline-time": "12:00"}
    if category_id is not None:
        defaults["category_id"] = str(category_id)
    return await _form_page(request, db_session, user, now, values=defaults)


async def _read_competition_form(request: Request[Any, Any, Any], db_session: Any, user: SignedInUser) -> Any:
    form = await request.form()
    values = {key: str(value) for key, value in form.items() if key not in ("_csrf_token", "evaluator_ids")}
    organisations = await drafting.buyer_organisations(db_session, user)
    default_org = organisations[0].id if len(organisations) == 1 else None
    return parse_competition_form(values, form.getall("evaluator_ids", []), default_org)


@post("/", name="buyer.competitions.create", guards=[buyer_role_only])
async def create(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now) -> Any:
    parsed = await _read_competition_form(request, db_session, user)
    if parsed.data is not None:
        try:
            competition = await drafting.create_competition(db_session, user, parsed.data,
                                                            now)
            return redirect_to(request, "buyer.competitions.show", competition_id=competition.id)
        except ValidationFailed as error:
            await db_session.rollback()
            parsed.errors.add_error(error)
    return await _form_page(request, db_session, user, now, values=parsed.values, errors=parsed.errors,
                            status_code=400)


@get("/{competition_id:int}/edit", name="buyer.competitions.edit", guards=[buyer_role_only])
async def edit(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
               competition_id: FromPath[int]) -> Template:
    competition = await loading.competition_for_buyer(db_session, user, competition_id,
                                                      now)
    if competition.state != CompetitionState.DRAFT:
        raise Conflict("Only a draft can be changed. After publication a criterion can only be made more precise, "
                       "from the competition's page.")
    values = form_values_of(competition, await drafting.evaluator_ids(db_session, competition_id))
    return await _form_page(request, db_session, user, now, values=values, competition=competition)


@post("/{competition_id:int}/edit", name="buyer.competitions.update", guards=[buyer_role_only])
async def update(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                 competition_id: FromPath[int]) -> Any:
    competition = await loading.competition_for_buyer(db_session, user, competition_id,
                                                      now)
    parsed = await _read_competition_form(request, db_session, user)
    if parsed.data is not None:
        try:
            await drafting.update_draft(db_session, user, competition_id, parsed.data,
                                        now)
            return redirect_to(request, "buyer.competitions.show", competition_id=competition_id)
        except ValidationFailed as error:
            await db_session.rollback()
            parsed.errors.add_error(error)
    return await _form_page(request, db_session, user, now, values=parsed.values, errors=parsed.errors,
                            competition=competition, status_code=400)


# --- the competition page and its commands --------------------------------------------------------------


async def _show_page(request: Request[Any, Any, Any], db_session: Any, user: SignedInUser, now: datetime,
                     competition_id: int,
                     errors: FormErrors | None = None, values: dict[str, str] | None = None,
                     status_code: int = 200) -> Template:
    competition = await loading.competition_for_team(db_session, user, competition_id, now)
    to_invite = (await drafting.suppliers_to_invite(db_session, competition)
                 if competition.state == CompetitionState.DRAFT else [])
    view = await views.buyer_view(db_session, user, competition, now)
    return Template("buyer/competitions/show.html", status_code=status_code, context={
        "view": view, "competition": competition, "to_invite": to_invite,
        "errors": errors or FormErrors(), "values": values or {}, "now": now,
        "kpi_rows": range(1, KPI_ROWS + 1), "ocid_prefix": request.app.state.settings.ocid_prefix})


@get("/{competition_id:int}", name="buyer.competitions.show")
async def show(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
               competition_id: FromPath[int]) -> Template:
    return await _show_page(request, db_session, user, now, competition_id)


Page = Callable[..., Awaitable[Template]]


async def _run(request: Request[Any, Any, Any], db_session: Any, user: SignedInUser, now: datetime,
               competition_id: int,
               action: Callable[[dict[str, str]], Awaitable[Any]], *, page: Page = _show_page,
               redirect: str | None = None) -> Any:
    """Run one command; a validation error re-renders `page` with the message and what was typed."""
    return await run_form_command(
        request, db_session, action,
        redirect=redirect or path_for(request, "buyer.competitions.show", competition_id=competition_id),
        on_error=lambda errors, form: page(request, db_session, user, now, competition_id, errors, form,
                                                 status_code=400))


@post("/{competition_id:int}/publish", name="buyer.competitions.publish", guards=[buyer_role_only])
async def publish(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                  competition_id: FromPath[int]) -> Any:
    return await _run(request, db_session, user, now, competition_id, lambda form: drafting.publish(
        db_session, user, competition_id, now))


@post("/{competition_id:int}/cancel", name="buyer.competitions.cancel", guards=[buyer_role_only])
async def cancel(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                 competition_id: FromPath[int]) -> Any:
    return await _run(request, db_session, user, now, competition_id, lambda form: drafting.cancel(
        db_session, user, competition_id, form.get("reason", ""), now))


@post("/{competition_id:int}/criteria/{key:str}", name="buyer.competitions.refine", guards=[buyer_role_only])
async def refine(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                 competition_id: FromPath[int],
                 key: FromPath[str]) -> Any:
    return await _run(request, db_session, user, now, competition_id, lambda form: drafting.refine_criterion(
        db_session, user, competition_id, key, title=form.get(f"{key}-title", ""),
        question=form.get(f"{key}-question", ""), now=now))


# --- a shorter tender period, with every invited supplier's agreement (C2, PCR 2015 reg 34(12)) -------------


async def _shorter_period_page(request: Request[Any, Any, Any], db_session: Any, user: SignedInUser, now: datetime,
                               competition_id: int,
                               errors: FormErrors | None = None, values: dict[str, str] | None = None,
                               status_code: int = 200) -> Template:
    view = await shorter_period.shorter_period_view(db_session, user, competition_id, now)
    return Template("buyer/competitions/shorter_period.html", status_code=status_code, context={
        "view": view, "competition": view.competition, "errors": errors or FormErrors(), "values": values or {}})


@get("/{competition_id:int}/shorter-period", name="buyer.competitions.shorter_period", guards=[buyer_role_only])
async def shorter_period_page(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                              competition_id: FromPath[int]) -> Template:
    return await _shorter_period_page(request, db_session, user, now, competition_id)


@post("/{competition_id:int}/shorter-period", name="buyer.competitions.shorter_period.record",
      guards=[buyer_role_only])
async def record_shorter_period(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                                competition_id: FromPath[int]) -> Any:
    def organisation(form: dict[str, str]) -> int | None:
        return whole_number(form.get("organisation_id"))

    return await _run(request, db_session, user, now, competition_id, lambda form: shorter_period.record_agreement(
        db_session, user, competition_id, organisation_id=organisation(form),
        evidence=form.get("evidence", ""), now=now),
        page=_shorter_period_page,
        redirect=path_for(request, "buyer.competitions.shorter_period", competition_id=competition_id))


async def _clarifications_page(request: Request[Any, Any, Any], db_session: Any, user: SignedInUser, now: datetime,
                               competition_id: int,
                               errors: FormErrors | None = None, values: dict[str, str] | None = None,
                               status_code: int = 200) -> Template:
    competition = await loading.competition_for_buyer(db_session, user, competition_id, now)
    return Template("buyer/competitions/clarifications.html", status_code=status_code, context={
        "view": await views.buyer_view(db_session, user, competition), "competition": competition,
        "errors": errors or FormErrors(), "values": values or {}})


@get("/{competition_id:int}/clarifications", name="buyer.competitions.clarifications", guards=[buyer_role_only])
async def clarifications(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                         competition_id: FromPath[int]) -> Template:
    return await _clarifications_page(request, db_session, user, now, competition_id)


@post("/{competition_id:int}/clarifications/{clarification_id:int}", name="buyer.competitions.answer",
      guards=[buyer_role_only])
async def answer(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                 competition_id: FromPath[int],
                 clarification_id: FromPath[int]) -> Any:
    return await _run(request, db_session, user, now, competition_id, lambda form: drafting.answer_question(
        db_session, user, competition_id, clarification_id,
        published_question=form.get(f"question-{clarification_id}", ""),
        answer=form.get(f"answer-{clarification_id}", ""), now=now),
        page=_clarifications_page,
        redirect=path_for(request, "buyer.competitions.clarifications", competition_id=competition_id))


# --- evaluation -----------------------------------------------------------------------------------------


@post("/{competition_id:int}/evaluation/start", name="buyer.competitions.evaluation.start",
      guards=[buyer_role_only])
async def start_evaluation(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                           competition_id: FromPath[int]) -> Any:
    return await _run(request, db_session, user, now, competition_id, lambda form: evaluating.start_evaluation(
        db_session, user, competition_id, now))


async def _evaluation_page(request: Request[Any, Any, Any], db_session: Any, user: SignedInUser, now: datetime,
                           competition_id: int,
                           errors: FormErrors | None = None, values: dict[str, str] | None = None,
                           status_code: int = 200) -> Template:
    view = await evaluating.evaluator_view(db_session, user, competition_id, now)
    return Template("buyer/competitions/evaluation.html", status_code=status_code, context={
        "view": view, "competition": view.competition, "errors": errors or FormErrors(), "values": values or {}})


@get("/{competition_id:int}/evaluation", name="buyer.competitions.evaluation", guards=[evaluator_role_only])
async def evaluation(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                     competition_id: FromPath[int]) -> Template:
    return await _evaluation_page(request, db_session, user, now, competition_id)


@post("/{competition_id:int}/evaluation/declaration", name="buyer.competitions.declare",
      guards=[evaluator_role_only])
async def declare(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                  competition_id: FromPath[int]) -> Any:
    async def action(form: dict[str, str]) -> None:
        choice = form.get("conflict", "")
        await evaluating.declare_interest(db_session, user, competition_id,
                                          conflict={"yes": True, "no": False}.get(choice),
                                          note=form.get("note", ""), now=now)

    return await _run(request, db_session, user, now, competition_id, action, page=_evaluation_page,
                      redirect=path_for(request, "buyer.competitions.evaluation", competition_id=competition_id))


@post("/{competition_id:int}/bids/{bid_id:int}/scores/{key:str}", name="buyer.competitions.score",
      guards=[evaluator_role_only])
async def score(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                competition_id: FromPath[int],
                bid_id: FromPath[int], key: FromPath[str]) -> Any:
    return await _run(request, db_session, user, now, competition_id, lambda form: evaluating.score_answer(
        db_session, user, competition_id, bid_id, key, score=form.get(f"score-{bid_id}-{key}", ""),
        justification=form.get(f"justification-{bid_id}-{key}", ""), now=now),
        page=_evaluation_page,
        redirect=path_for(request, "buyer.competitions.evaluation", competition_id=competition_id)
        + f"#answer-{bid_id}-{key}")


async def _moderation_page(request: Request[Any, Any, Any], db_session: Any, user: SignedInUser, now: datetime,
                           competition_id: int,
                           errors: FormErrors | None = None, values: dict[str, str] | None = None,
                           status_code: int = 200) -> Template:
    view = await evaluating.moderation_view(db_session, user, competition_id, now)
    return Template("buyer/competitions/moderation.html", status_code=status_code, context={
        "view": view, "competition": view.competition, "errors": errors or FormErrors(), "values": values or {}})


@get("/{competition_id:int}/moderation", name="buyer.competitions.moderation", guards=[buyer_role_only])
async def moderation(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                     competition_id: FromPath[int]) -> Template:
    return await _moderation_page(request, db_session, user, now, competition_id)


@post("/{competition_id:int}/bids/{bid_id:int}/moderation/{key:str}", name="buyer.competitions.moderate",
      guards=[buyer_role_only])
async def moderate(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                   competition_id: FromPath[int],
                   bid_id: FromPath[int], key: FromPath[str]) -> Any:
    return await _run(request, db_session, user, now, competition_id, lambda form: evaluating.moderate(
        db_session, user, competition_id, bid_id, key,
        score=form.get(f"moderated-{bid_id}-{key}", ""), rationale=form.get(f"rationale-{bid_id}-{key}", ""),
        now=now), page=_moderation_page,
        redirect=path_for(request, "buyer.competitions.moderation", competition_id=competition_id)
        + f"#answer-{bid_id}-{key}")


@get("/{competition_id:int}/bids/{bid_id:int}/documents/{document_id:int}", name="buyer.competitions.bid_document")
async def bid_document(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                       competition_id: FromPath[int], bid_id: FromPath[int],
                       document_id: FromPath[int]) -> Response[bytes]:
    """A document attached to a bid, for the buyer and the evaluators who read the bids; 404 while they are sealed
    and for anyone else (the service decides)."""
    info, content = await bid_attachments.team_attachment(db_session, user, competition_id, bid_id, document_id, now)
    return pdf_bytes(content, info.filename)


# --- ranking, award, standstill, confirmation -----------------------------------------------------------


async def _ranking_page(request: Request[Any, Any, Any], db_session: Any, user: SignedInUser, now: datetime,
                        competition_id: int,
                        errors: FormErrors | None = None, values: dict[str, str] | None = None,
                        status_code: int = 200) -> Template:
    competition = await loading.competition_for_buyer(db_session, user, competition_id,
                                                      now)
    return Template("buyer/competitions/ranking.html", status_code=status_code, context={
        "competition": competition, "summary": await views.summary(db_session, competition),
        "criteria": loading.criteria_of(competition), "rows": await evaluating.ranking(db_session, competition),
        "excluded": [] if loading.bids_sealed(competition) else await excluding.excluded_bids(db_session, competition),
        "tie_break": TIE_BREAK_WORDING[tie_break_of(competition.tie_break)],
        "errors": errors or FormErrors(), "values": values or {}})


@get("/{competition_id:int}/ranking", name="buyer.competitions.ranking", guards=[buyer_role_only])
async def ranking(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                  competition_id: FromPath[int]) -> Template:
    return await _ranking_page(request, db_session, user, now, competition_id)


@post("/{competition_id:int}/award", name="buyer.competitions.award", guards=[buyer_role_only])
async def award(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                competition_id: FromPath[int]) -> Any:
    async def action(form: dict[str, str]) -> None:
        await awarding.decide_award(db_session, user, competition_id, reasons=form.get("reasons", ""), now=now)

    return await _run(request, db_session, user, now, competition_id, action, page=_ranking_page,
                      redirect=path_for(request, "buyer.competitions.letters", competition_id=competition_id))


@post("/{competition_id:int}/award/departure", name="buyer.competitions.award.departure", guards=[buyer_role_only])
async def award_departure(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                          competition_id: FromPath[int]) -> Any:
    """The bidder selected for award withdrew or failed a pre-contract check: the award moves down the ranking."""
    return await _run(request, db_session, user, now, competition_id, lambda form: departures.record_departure(
        db_session, user, competition_id, departure=form.get("departure", ""), reason=form.get("reason", ""),
        now=now), page=_ranking_page,
        redirect=path_for(request, "buyer.competitions.ranking", competition_id=competition_id))


@get("/{competition_id:int}/letters", name="buyer.competitions.letters", guards=[buyer_role_only])
async def letters(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                  competition_id: FromPath[int]) -> Template:
    competition = await loading.competition_for_buyer(db_session, user, competition_id,
                                                      now)
    outcome = await awarding.letters(db_session, competition)
    return Template("buyer/competitions/letters.html", context={
        "competition": competition, "summary": await views.summary(db_session, competition),
        "letters": [(letter, letter.body or awarding.letter_body(letter, competition)) for letter in outcome]})


@post("/{competition_id:int}/standstill", name="buyer.competitions.standstill", guards=[buyer_role_only])
async def standstill(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                     competition_id: FromPath[int]) -> Any:
    return await _run(request, db_session, user, now, competition_id, lambda form: awarding.start_standstill(
        db_session, user, competition_id, now))


@post("/{competition_id:int}/award-notice", name="buyer.competitions.award_notice", guards=[buyer_role_only])
async def award_notice(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                       competition_id: FromPath[int]) -> Any:
    return await _run(request, db_session, user, now, competition_id, lambda form: awarding.publish_award_notice(
        db_session, user, competition_id, now))


@post("/{competition_id:int}/contract-notice", name="buyer.competitions.contract_notice", guards=[buyer_role_only])
async def contract_notice(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                          competition_id: FromPath[int]) -> Any:
    return await _run(request, db_session, user, now, competition_id, lambda form: notices.publish_contract_notice(
        db_session, user, competition_id, kpis=[form.get(f"kpi-{n}", "") for n in range(1, KPI_ROWS + 1)],
        now=now))


@post("/{competition_id:int}/standstill/pause", name="buyer.competitions.standstill.pause",
      guards=[buyer_role_only])
async def pause(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                competition_id: FromPath[int]) -> Any:
    return await _run(request, db_session, user, now, competition_id, lambda form: awarding.pause_standstill(
        db_session, user, competition_id, form.get("reason", ""), now))


@post("/{competition_id:int}/standstill/resume", name="buyer.competitions.standstill.resume",
      guards=[buyer_role_only])
async def resume(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                 competition_id: FromPath[int]) -> Any:
    return await _run(request, db_session, user, now, competition_id, lambda form: awarding.resume_standstill(
        db_session, user, competition_id, now))


async def _confirm_page(request: Request[Any, Any, Any], db_session: Any, user: SignedInUser, now: datetime,
                        competition_id: int,
                        errors: FormErrors | None = None, values: dict[str, str] | None = None,
                        status_code: int = 200) -> Template:
    competition = await loading.competition_for_buyer(db_session, user, competition_id,
                                                      now)
    if competition.state != CompetitionState.STANDSTILL:
        return await _show_page(request, db_session, user, now, competition_id, errors, values, status_code)
    bid, total = await awarding.award_value(db_session, competition)
    if values is None:
        intended = [FundLine(int(line["allocation_id"]), int(line["pence"])) for line in competition.fund_lines]
        values = {**fund_line_values(proportional_split(total, intended)),
                  **milestone_values(default_milestones(total, competition.contract_starts_on,
                                                        competition.contract_ends_on))}
    return Template("buyer/competitions/confirm.html", status_code=status_code, context={
        "competition": competition, "summary": await views.summary(db_session, competition), "bid": bid,
        "total": total, "errors": errors or FormErrors(), "values": values, "fund_rows": range(1, FUND_ROWS + 1),
        "fund_choices": await _fund_choices(request, db_session, now, [(competition.buyer_organisation_id, "")],
                                            competition.category_id),
        "milestone_rows": range(1, MILESTONE_ROWS + 1), "now": now,
        "standstill_over": can_confirm_award(now, competition.standstill_ends_at, False)})


@get("/{competition_id:int}/confirm", name="buyer.competitions.confirm", guards=[buyer_role_only])
async def confirm_page(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                       competition_id: FromPath[int]) -> Template:
    return await _confirm_page(request, db_session, user, now, competition_id)


@post("/{competition_id:int}/confirm", name="buyer.competitions.confirm.post", guards=[buyer_role_only])
async def confirm(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                  competition_id: FromPath[int]) -> Any:
    async def action(form: dict[str, str]) -> None:
        problems = FormErrors()
        lines = parse_fund_lines(form, problems)
        milestones = parse_milestones(form, problems)
        if problems:
            raise InputInvalid(problems)
        chosen = [f"fund-{row}-allocation" for row in range(1, FUND_ROWS + 1)
                  if form.get(f"fund-{row}-allocation", "").strip() or form.get(f"fund-{row}-amount", "").strip()]
        await awarding.confirm_award(db_session, user, competition_id, fund_lines=lines,
                                     milestones=milestones, now=now, fund_line_fields=chosen)

    return await _run(request, db_session, user, now, competition_id, action, page=_confirm_page)


competitions_router = Router(
    path="/buyer/competitions",
    route_handlers=[index, new, create, show, edit, update, publish, cancel, refine, shorter_period_page,
                    record_shorter_period, clarifications, answer,
                    start_evaluation, evaluation, declare, score, moderation, moderate, bid_document, ranking, award,
                    award_departure, letters, standstill, award_notice, pause, resume, confirm_page, confirm,
                    contract_notice],
    guards=[buyer_portal_only],
)
