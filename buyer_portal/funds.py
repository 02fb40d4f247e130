"""Fund managers' pages: the dashboard (with its chart, CSV and JSON), allocations and their ledgers,
adjustments, off-platform commitments, payments, refunds and releases."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from litestar import MediaType, Request, Response, Router, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from dps.agreements.services import list_agreements
from dps.calendar import financial_year, london_date
from dps.errors import ValidationFailed
from dps.forms import FormErrors
from dps.funds import commands, reports, services
from dps.funds.chart import render_svg, svg_data_uri
from dps.funds.commands import LINE_ROWS, managed_allocation_ids, own_icb_code
from dps.funds.models import CommitmentState
from dps.identity.models import Organisation, OrganisationKind, Role
from dps.identity.services import SignedInUser
from dps.web.auth import requires_role
from dps.web.deps import CurrentUser, DbSession, Now
from dps.web.forms import path_for, read_form, redirect_to, run_form_command

fund_manager_only = requires_role(OrganisationKind.BUYER, Role.FUND_MANAGER)



async def _rows(request: Request[Any, Any, Any], db_session: Any, now: datetime, fund: str | None, year: str | None,
                icb: str | None) -> tuple[reports.Filters, list[reports.AllocationRow]]:
    filters = reports.Filters.from_query(fund, year, icb)
    return filters, await reports.dashboard_rows(db_session, filters, london_date(now))


@get("/", name="funds.dashboard")
async def dashboard(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                    fund: FromQuery[str | None] = None,
                    year: FromQuery[str | None] = None, icb: FromQuery[str | None] = None) -> Template:
    if fund is None and year is None and icb is None:  # opened afresh: this financial year, the manager's own ICB
        year, icb = financial_year(london_date(now)), await own_icb_code(db_session, user) or ""
    filters, rows = await _rows(request, db_session, now, fund, year, icb)
    year_shown = reports.chart_year(filters, rows)
    today = london_date(now)
    points = await reports.monthly_positions(db_session, filters, year_shown, today) if year_shown else []
    chart = None
    if points:
        fund_names = sorted({row.fund_name for row in rows if row.financial_year == year_shown})
        title = f"{', '.join(fund_names) if len(fund_names) <= 2 else 'All funds shown'}: {year_shown}"
        chart = svg_data_uri(await asyncio.to_thread(render_svg, points, title, year_shown))
    query = urlencode(filters.as_query())
    return Template("funds/dashboard.html", context={
        "filters": filters, "options": await reports.filter_options(db_session), "rows": rows,
        "by_type": reports.totals_by_budget_type(rows), "chart": chart, "chart_year": year_shown,
        "points": points, "query": f"?{query}" if query else "",
        "managed": await managed_allocation_ids(db_session, user)})


@get("/dashboard.csv", name="funds.dashboard.csv")
async def dashboard_csv(request: Request[Any, Any, Any], db_session: DbSession, now: Now,
                        fund: FromQuery[str | None] = None,
                        year: FromQuery[str | None] = None, icb: FromQuery[str | None] = None) -> Response[str]:
    _filters, rows = await _rows(request, db_session, now, fund, year, icb)
    return Response(reports.rows_csv(rows), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="fund-allocations.csv"'})


@get("/dashboard.json", name="funds.dashboard.json")
async def dashboard_json(request: Request[Any, Any, Any], db_session: DbSession, now: Now,
                         fund: FromQuery[str | None] = None,
                         year: FromQuery[str | None] = None,
                         icb: FromQuery[str | None] = None) -> Response[dict[str, Any]]:
    filters, rows = await _rows(request, db_session, now, fund, year, icb)
    return Response(reports.rows_json(rows, filters), media_type=MediaType.JSON)


# --- one allocation ---------------------------------------------------------------------------------------


async def _allocation_page(request: Request[Any, Any, Any], db_session: Any, user: SignedInUser, allocation_id: int,
                           errors: FormErrors | None = None, values: dict[str, str] | None = None,
                           status_code: int = 200) -> Template:
    context = await services.allocation_context(db_session, allocation_id)
    managed = allocation_id in await managed_allocation_ids(db_session, user, [allocation_id])
    return Template("funds/allocation.html", status_code=status_code, context={
        "item": context, "balance": context.balance, "ledger": await reports.ledger_of(db_session, allocation_id),
        "commitments": await reports.commitment_summaries(db_session, allocation_id=allocation_id),
        "can_adjust": managed, "adjust_action": f"/buyer/funds/allocations/{allocation_id}/adjust",
        "back": "/buyer/funds", "commitment_base": "/buyer/funds/commitments",
        "errors": errors or FormErrors(), "values": values or {}})


@get("/allocations/{allocation_id:int}", name="funds.allocation")
async def allocation(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser,
                     allocation_id: FromPath[int]) -> Template:
    return await _allocation_page(request, db_session, user, allocation_id)


@post("/allocations/{allocation_id:int}/adjust", name="funds.allocation.adjust")
async def adjust(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                 allocation_id: FromPath[int]) -> Any:
    return await run_form_command(
        request, db_session, lambda form: commands.adjust_from_form(
            db_session, user, allocation_id, form, now=now),
        on_error=lambda errors, form: _allocation_page(request, db_session, user, allocation_id, errors, form,
                                                       status_code=400),
        redirect=path_for(request, "funds.allocation", allocation_id=allocation_id))


# --- commitments ------------------------------------------------------------------------------------------


@get("/commitments", name="funds.commitments")
async def commitments(db_session: DbSession) -> Template:
    return Template("funds/commitments.html", context={
        "commitments": await reports.commitment_summaries(db_session)})


async def _commitment_form(request: Request[Any, Any, Any], db_session: Any, user: SignedInUser, now: datetime,
                           errors: FormErrors | None = None,
                           values: dict[str, str] | None = None, status_code: int = 200) -> Template:
    managed = await managed_allocation_ids(db_session, user)
    rows = [row for row in await reports.dashboard_rows(db_session, reports.Filters(), london_date(now))
            if row.allocation_id in managed and not row.lapsed]
    buyers = (await db_session.execute(sa.select(Organisation.id, Organisation.name)
                                       .where(Organisation.kind == OrganisationKind.BUYER)
                                       .order_by(Organisation.name))).all()
    values = values or {}
    if "buyer_organisation_id" not in values:
        own = sorted(commands.fund_manager_organisation_ids(user))
        values["buyer_organisation_id"] = str(own[0]) if own else ""
    return Template("funds/commitment_form.html", status_code=status_code, context={
        "allocations": rows, "buyers": buyers, "agreements": await list_agreements(db_session),
        "line_rows": range(1, LINE_ROWS + 1), "errors": errors or FormErrors(), "values": values})


@get("/commitments/new", name="funds.commitment.new")
async def new_commitment(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser,
                         now: Now) -> Template:
    return await _commitment_form(request, db_session, user, now)


@post("/commitments", name="funds.commitment.create")
async def create_commitment(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now) -> Any:
    form = await read_form(request)
    try:
        commitment = await commands.off_platform_commitment_from_form(db_session, user, form,
                                                                      now=now)
    except ValidationFailed as error:
        await db_session.rollback()
        return await _commitment_form(request, db_session, user, now, FormErrors.from_error(error), form,
                                      status_code=400)
    return redirect_to(request, "funds.commitment", commitment_id=commitment.id)


async def _commitment_page(request: Request[Any, Any, Any], db_session: Any, user: SignedInUser, commitment_id: int,
                           errors: FormErrors | None = None, values: dict[str, str] | None = None,
                           status_code: int = 200) -> Template:
    commitment, lines = await services.commitment_lines(db_session, commitment_id)
    managed = await managed_allocation_ids(db_session, user,
                                           [item.line.allocation_id for item in lines])
    buyer = await db_session.get(Organisation, commitment.buyer_organisation_id)
    return Template("funds/commitment.html", status_code=status_code, context={
        "commitment": commitment, "lines": lines, "buyer": buyer, "managed": managed,
        "can_release": commitment.state == CommitmentState.OPEN and lines and
        all(item.line.allocation_id in managed for item in lines),
        "errors": errors or FormErrors(), "values": values or {}})


@get("/commitments/{commitment_id:int}", name="funds.commitment")
async def commitment(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser,
                     commitment_id: FromPath[int]) -> Template:
    return await _commitment_page(request, db_session, user, commitment_id)


async def _line_action(request: Request[Any, Any, Any], db_session: Any, user: SignedInUser, now: datetime,
                       commitment_id: int, action: str,
                       allocation_id: int | None) -> Any:
    form = await read_form(request)
    try:
        if action == "pay":
            await commands.pay_from_form(db_session, user, commitment_id, allocation_id or 0, form, now=now)
        elif action == "refund":
            await commands.refund_from_form(db_session, user, commitment_id, allocation_id or 0, form, now=now)
        else:
            await commands.release_from_form(db_session, user, commitment_id, form, now=now)
    except ValidationFailed as error:
        await db_session.rollback()
        prefix = f"{action}-{allocation_id}-" if allocation_id else f"{action}-"
        values = {prefix + key: value for key, value in form.items()}
        return await _commitment_page(request, db_session, user, commitment_id,
                                      FormErrors.from_error(error, prefix=prefix), values, status_code=400)
    return redirect_to(request, "funds.commitment", commitment_id=commitment_id)


@post("/commitments/{commitment_id:int}/lines/{allocation_id:int}/pay", name="funds.commitment.pay")
async def pay(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
              commitment_id: FromPath[int],
              allocation_id: FromPath[int]) -> Any:
    return await _line_action(request, db_session, user, now, commitment_id, "pay", allocation_id)


@post("/commitments/{commitment_id:int}/lines/{allocation_id:int}/refund", name="funds.commitment.refund")
async def refund(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                 commitment_id: FromPath[int],
                 allocation_id: FromPath[int]) -> Any:
    return await _line_action(request, db_session, user, now, commitment_id, "refund", allocation_id)


@post("/commitments/{commitment_id:int}/release", name="funds.commitment.release")
async def release(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                  commitment_id: FromPath[int]) -> Any:
    return await _line_action(request, db_session, user, now, commitment_id, "release", None)


buyer_funds_router = Router(
    path="/buyer/funds",
    route_handlers=[dashboard, dashboard_csv, dashboard_json, allocation, adjust, commitments, new_commitment,
                    create_commitment, commitment, pay, refund, release],
    guards=[fund_manager_only],
)
