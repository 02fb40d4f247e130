"""Authority admins' pages for funds: define a fund and its rules, allocate it to ICBs by financial year and
capital | revenue, and adjust allocations with a reason."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from litestar import Request, Router, get, post
from litestar.params import FromPath
from litestar.response import Template

from dps.agreements.services import list_agreements
from dps.calendar import financial_year, london_date
from dps.errors import NotFound, ValidationFailed
from dps.forms import FormErrors
from dps.funds import commands, reports, services
from dps.funds.models import Fund
from dps.funds.rules import BUYER_TYPE_NAMES, percent
from dps.identity.models import Organisation, OrganisationKind
from dps.identity.rules import BuyerType
from dps.web.auth import authority_admin_only
from dps.web.deps import CurrentUser, DbSession, Now
from dps.web.forms import path_for, read_form, redirect_to, run_form_command


@get("/", name="authority.funds")
async def funds_index(request: Request[Any, Any, Any], db_session: DbSession, now: Now) -> Template:
    rows = await reports.dashboard_rows(db_session, reports.Filters(), london_date(now))
    funds = (await db_session.scalars(sa.select(Fund).order_by(Fund.name))).all()
    summaries = [(fund, reports.totals_by_budget_type([r for r in rows if r.fund_id == fund.id]),
                  sorted({r.financial_year for r in rows if r.fund_id == fund.id})) for fund in funds]
    return Template("funds/authority/index.html", context={"summaries": summaries})


async def _fund_form(db_session: Any, errors: FormErrors | None = None, values: dict[str, Any] | None = None,
                     status_code: int = 200) -> Template:
    owners = (await db_session.execute(
        sa.select(Organisation.id, Organisation.name).where(
            sa.or_(Organisation.kind == OrganisationKind.AUTHORITY, Organisation.buyer_type == BuyerType.NHSE_REGION))
        .order_by(Organisation.kind, Organisation.name))).all()
    return Template("funds/authority/fund_form.html", status_code=status_code, context={
        "owners": owners, "agreements": await list_agreements(db_session), "buyer_types": BUYER_TYPE_NAMES,
        "errors": errors or FormErrors(), "values": values or {"lapses_at_year_end": "yes", "national": "no"}})


@get("/new", name="authority.funds.new")
async def new_fund(db_session: DbSession) -> Template:
    return await _fund_form(db_session)


@post("/", name="authority.funds.create")
async def create_fund(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now) -> Any:
    form = await read_form(request)
    multi = await request.form()
    category_ids, buyer_types = multi.getall("eligible_category_ids", []), multi.getall("eligible_buyer_types", [])
    try:
        fund = await commands.define_fund_from_form(db_session, user, form,
                                                    category_ids=[str(v) for v in category_ids],
                                                    buyer_types=[str(v) for v in buyer_types],
                                                    now=now)
    except ValidationFailed as error:
        await db_session.rollback()
        values = {**form, "eligible_category_ids": [str(v) for v in category_ids],
                  "eligible_buyer_types": [str(v) for v in buyer_types]}
        return await _fund_form(db_session, FormErrors.from_error(error), values, status_code=400)
    return redirect_to(request, "authority.fund", fund_id=fund.id)


async def _fund_page(request: Request[Any, Any, Any], db_session: Any, now: datetime, fund_id: int,
                     errors: FormErrors | None = None, values: dict[str, str] | None = None,
                     status_code: int = 200) -> Template:
    fund = await db_session.get(Fund, fund_id)
    if fund is None:
        raise NotFound("There is no such fund")
    today = london_date(now)
    rows = await reports.dashboard_rows(db_session, reports.Filters(fund_id=fund_id), today)
    owner = await db_session.get(Organisation, fund.owner_organisation_id)
    categories = {c.id: c.name for item in await list_agreements(db_session) for c in item.categories}
    icbs = (await db_session.execute(sa.select(Organisation.id, Organisation.name, Organisation.ods_code)
                                     .where(Organisation.buyer_type == BuyerType.ICB)
                                     .order_by(Organisation.name))).all()
    return Template("funds/authority/fund.html", status_code=status_code, context={
        "fund": fund, "owner": owner, "rows": rows, "by_type": reports.totals_by_budget_type(rows),
        "category_names": [categories.get(i, f"category {i}") for i in fund.eligible_category_ids],
        "buyer_type_names": [BUYER_TYPE_NAMES.get(t, t) for t in fund.eligible_buyer_types],
        "match_funding": percent(fund.match_funding_bps), "icbs": icbs,
        "errors": errors or FormErrors(), "values": values or {"financial_year": financial_year(today)}})


@get("/{fund_id:int}", name="authority.fund")
async def fund_page(request: Request[Any, Any, Any], db_session: DbSession, now: Now,
                    fund_id: FromPath[int]) -> Template:
    return await _fund_page(request, db_session, now, fund_id)


@post("/{fund_id:int}/allocations", name="authority.fund.allocate")
async def allocate(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                   fund_id: FromPath[int]) -> Any:
    return await run_form_command(
        request, db_session, lambda form: commands.allocate_from_form(
            db_session, user, fund_id, form, now=now),
        on_error=lambda errors, form: _fund_page(request, db_session, now, fund_id, errors, form, status_code=400),
        redirect=path_for(request, "authority.fund", fund_id=fund_id))


async def _allocation_page(db_session: Any, allocation_id: int, errors: FormErrors | None = None,
                           values: dict[str, str] | None = None, status_code: int = 200) -> Template:
    context = await services.allocation_context(db_session, allocation_id)
    return Template("funds/allocation.html", status_code=status_code, context={
        "item": context, "balance": context.balance, "ledger": await reports.ledger_of(db_session, allocation_id),
        "commitments": await reports.commitment_summaries(db_session, allocation_id=allocation_id),
        "can_adjust": True, "adjust_action": f"/authority/funds/allocations/{allocation_id}/adjust",
        "back": f"/authority/funds/{context.fund.id}", "commitment_base": None,
        "errors": errors or FormErrors(), "values": values or {}})


@get("/allocations/{allocation_id:int}", name="authority.funds.allocation")
async def allocation(db_session: DbSession, allocation_id: FromPath[int]) -> Template:
    return await _allocation_page(db_session, allocation_id)


@post("/allocations/{allocation_id:int}/adjust", name="authority.funds.allocation.adjust")
async def adjust(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                 allocation_id: FromPath[int]) -> Any:
    return await run_form_command(
        request, db_session, lambda form: commands.adjust_from_form(
            db_session, user, allocation_id, form, now=now,
            as_authority=True),
        on_error=lambda errors, form: _allocation_page(db_session, allocation_id, errors, form, status_code=400),
        redirect=path_for(request, "authority.funds.allocation", allocation_id=allocation_id))


authority_funds_router = Router(
    path="/authority/funds",
    route_handlers=[funds_index, new_fund, create_fund, fund_page, allocate, allocation, adjust],
    guards=[authority_admin_only],
)
