"""Buyers' contracts: the milestones of each contract, accepting or rejecting a delivered milestone, raising the
payment of an accepted one, asking for a refund. The payment is created at Stripe by the outbox; its state comes
back through Stripe's signed webhooks."""

from __future__ import annotations

from typing import Any

from litestar import Request, Router, get, post
from litestar.params import FromPath
from litestar.response import Template

from dps.contracts.services import accept_milestone, contract_for_buyer, contracts_for_buyer, reject_milestone
from dps.errors import ValidationFailed
from dps.forms import FormErrors
from dps.identity.models import OrganisationKind, Role
from dps.identity.services import SignedInUser
from dps.payments import services
from dps.web.auth import requires_role
from dps.web.deps import CurrentUser, DbSession, Now
from dps.web.forms import read_form, redirect_to

buyer_role_only = requires_role(OrganisationKind.BUYER, Role.BUYER)


async def _page(request: Request[Any, Any, Any], db_session: Any, user: SignedInUser, contract_id: int,
                errors: FormErrors | None = None,
                values: dict[str, str] | None = None, status_code: int = 200) -> Template:
    contract = await contract_for_buyer(db_session, user, contract_id)
    rows = await services.milestones_with_payments(db_session, contract.id or 0)
    return Template("buyer/payments/contract.html", status_code=status_code, context={
        "contract": contract, "rows": rows, "errors": errors or FormErrors(), "values": values or {}})


@get("/", name="buyer.contracts")
async def index(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser) -> Template:
    contracts = await contracts_for_buyer(db_session, user)
    return Template("buyer/payments/index.html", context={"contracts": contracts})


@get("/{contract_id:int}", name="buyer.contracts.show")
async def show(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser,
               contract_id: FromPath[int]) -> Template:
    return await _page(request, db_session, user, contract_id)


@post("/{contract_id:int}/milestones/{milestone_id:int}/pay", name="buyer.contracts.pay")
async def pay(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
              contract_id: FromPath[int],
              milestone_id: FromPath[int]) -> Any:
    await read_form(request)
    try:
        await services.raise_milestone_payment(db_session, user, contract_id=contract_id,
                                               milestone_id=milestone_id, now=now)
    except ValidationFailed as error:
        await db_session.rollback()
        return await _page(request, db_session, user, contract_id,
                           FormErrors({f"milestone-{milestone_id}": str(error)}),
                           status_code=400)
    return redirect_to(request, "buyer.contracts.show", contract_id=contract_id)


@post("/{contract_id:int}/milestones/{milestone_id:int}/accept", name="buyer.contracts.accept")
async def accept(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                 contract_id: FromPath[int], milestone_id: FromPath[int]) -> Any:
    await read_form(request)
    await accept_milestone(db_session, user, contract_id=contract_id, milestone_id=milestone_id, now=now)
    return redirect_to(request, "buyer.contracts.show", contract_id=contract_id)


@post("/{contract_id:int}/milestones/{milestone_id:int}/reject", name="buyer.contracts.reject")
async def reject(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                 contract_id: FromPath[int], milestone_id: FromPath[int]) -> Any:
    form = await read_form(request)
    try:
        await reject_milestone(db_session, user, contract_id=contract_id, milestone_id=milestone_id,
                               reason=form.get("reason", ""), now=now)
    except ValidationFailed as error:
        await db_session.rollback()
        field = f"rejection-{milestone_id}"
        return await _page(request, db_session, user, contract_id, FormErrors({field: str(error)}),
                           {field: form.get("reason", "")}, status_code=400)
    return redirect_to(request, "buyer.contracts.show", contract_id=contract_id)


@post("/{contract_id:int}/payments/{payment_id:int}/refund", name="buyer.contracts.refund")
async def refund(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                 contract_id: FromPath[int],
                 payment_id: FromPath[int]) -> Any:
    form = await read_form(request)
    try:
        await services.request_refund(db_session, user, contract_id=contract_id,
                                      payment_id=payment_id, reason=form.get("reason", ""),
                                      now=now)
    except ValidationFailed as error:
        await db_session.rollback()
        return await _page(request, db_session, user, contract_id, FormErrors({f"reason-{payment_id}": str(error)}),
                           {f"reason-{payment_id}": form.get("reason", "")}, status_code=400)
    return redirect_to(request, "buyer.contracts.show", contract_id=contract_id)


buyer_payments_router = Router(path="/buyer/contracts", route_handlers=[index, show, accept, reject, pay, refund],
                               guards=[buyer_role_only])
