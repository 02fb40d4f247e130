"""Buyers' contracts: the milestones of each contract, accepting or rejecting a delivered milestone, raising the
payment of an accepted one, asking for a refund. The payment is created at Stripe by the outbox; its state comes
back through Stripe's signed webhooks."""

from __future__ import annotations

from secrets import token_urlsafe
from typing import Any

from litestar import Request, Router, get, post
from litestar.connection import ASGIConnection
from litestar.exceptions import NotFoundException
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath
from litestar.response import Template

from dps.contracts.services import accept_milestone, contract_for_buyer, contracts_for_buyer, reject_milestone
from dps.errors import ValidationFailed
from dps.forms import FormErrors
from dps.identity.models import OrganisationKind, Role
from dps.identity.services import SignedInUser
from dps.payments import services
from dps.payments.local_stripe import is_test_mode
from dps.payments.stripe_client import StripeClient, StripeError
from dps.web.auth import mark_access_rule, requires_role
from dps.web.deps import AppSettings, CurrentUser, DbSession, Now
from dps.web.forms import path_for, read_form, redirect_to, run_form_command

buyer_role_only = requires_role(OrganisationKind.BUYER, Role.BUYER)


async def _stripe_in_test_mode(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """"Pay now (test mode)" exists only with a Stripe test key, never in production: elsewhere it is not found."""
    if not is_test_mode(connection.app.state.settings):
        raise NotFoundException()


stripe_test_mode_only = mark_access_rule(_stripe_in_test_mode, "a Stripe test key, outside production")


async def _page(request: Request[Any, Any, Any], db_session: Any, user: SignedInUser, contract_id: int,
                errors: FormErrors | None = None,
                values: dict[str, str] | None = None, status_code: int = 200) -> Template:
    contract = await contract_for_buyer(db_session, user, contract_id)
    rows = await services.milestones_with_payments(db_session, contract.id or 0)
    settings = request.app.state.settings
    return Template("buyer/payments/contract.html", status_code=status_code, context={
        "contract": contract, "rows": rows, "errors": errors or FormErrors(), "values": values or {},
        "payments_on": bool(settings.stripe_secret_key), "test_mode": is_test_mode(settings)})


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
              settings: AppSettings, contract_id: FromPath[int],
              milestone_id: FromPath[int]) -> Any:
    await read_form(request)
    try:
        await services.raise_milestone_payment(db_session, user, contract_id=contract_id,
                                               milestone_id=milestone_id, now=now,
                                               stripe_configured=bool(settings.stripe_secret_key))
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
    field = f"rejection-{milestone_id}"  # each milestone's row has its own reason box

    async def command(form: dict[str, str]) -> None:
        await reject_milestone(db_session, user, contract_id=contract_id, milestone_id=milestone_id,
                               reason=form.get("reason", ""), now=now)

    async def on_error(errors: FormErrors, form: dict[str, str]) -> Template:
        return await _page(request, db_session, user, contract_id, errors.on_field(field),
                           {field: form.get("reason", "")}, status_code=400)

    return await run_form_command(request, db_session, command, on_error=on_error,
                                  redirect=path_for(request, "buyer.contracts.show", contract_id=contract_id))


@post("/{contract_id:int}/payments/{payment_id:int}/pay-in-test-mode", name="buyer.contracts.pay_in_test_mode",
      guards=[stripe_test_mode_only])
async def pay_in_test_mode(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                           settings: AppSettings, contract_id: FromPath[int], payment_id: FromPath[int]) -> Any:
    await read_form(request)
    try:
        async with StripeClient(api_base=settings.stripe_api_base, secret_key=settings.stripe_secret_key or "",
                                max_retries=1) as stripe:
            await services.pay_in_test_mode(db_session, user, contract_id=contract_id, payment_id=payment_id,
                                            stripe=stripe, now=now,
                                            webhook_secret=settings.stripe_webhook_secret or token_urlsafe())
    except StripeError as error:
        await db_session.rollback()
        return await _page(request, db_session, user, contract_id,
                           FormErrors({f"payment-{payment_id}": f"The test payment did not go through: {error}"}),
                           status_code=502)
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


buyer_payments_router = Router(path="/buyer/contracts", guards=[buyer_role_only],
                               route_handlers=[index, show, accept, reject, pay, pay_in_test_mode, refund])
