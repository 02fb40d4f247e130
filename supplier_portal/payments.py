"""Suppliers' contracts: marking a milestone delivered (again, after the buyer rejected it, with the reason shown),
and the state of each milestone's payment."""

from __future__ import annotations

from typing import Any

from litestar import Request, Router, get, post
from litestar.params import FromPath
from litestar.response import Template

from dps.contracts.services import contract_for_supplier, contracts_for_supplier, deliver_milestone
from dps.forms import FormErrors
from dps.identity.services import SignedInUser
from dps.payments.services import milestones_with_payments
from dps.web.auth import supplier_only
from dps.web.deps import CurrentUser, DbSession, Now
from dps.web.forms import path_for, run_form_command


@get("/", name="supplier.contracts")
async def index(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser) -> Template:
    contracts = await contracts_for_supplier(db_session, user)
    return Template("supplier/payments/index.html", context={"contracts": contracts})


async def _page(db_session: Any, user: SignedInUser, contract_id: int, errors: FormErrors | None = None,
                values: dict[str, str] | None = None, status_code: int = 200) -> Template:
    contract = await contract_for_supplier(db_session, user, contract_id)
    rows = await milestones_with_payments(db_session, contract.id or 0)
    return Template("supplier/payments/contract.html", status_code=status_code, context={
        "contract": contract, "rows": rows, "errors": errors or FormErrors(), "values": values or {}})


@get("/{contract_id:int}", name="supplier.contracts.show")
async def show(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser,
               contract_id: FromPath[int]) -> Template:
    return await _page(db_session, user, contract_id)


@post("/{contract_id:int}/milestones/{milestone_id:int}/deliver", name="supplier.contracts.deliver")
async def deliver(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                  contract_id: FromPath[int], milestone_id: FromPath[int]) -> Any:
    field = f"note-{milestone_id}"  # each milestone's row has its own note box

    async def command(form: dict[str, str]) -> None:
        await deliver_milestone(db_session, user, contract_id=contract_id, milestone_id=milestone_id,
                                note=form.get("note", ""), now=now)

    async def on_error(errors: FormErrors, form: dict[str, str]) -> Template:
        return await _page(db_session, user, contract_id, errors.on_field(field), {field: form.get("note", "")},
                           status_code=400)

    return await run_form_command(request, db_session, command, on_error=on_error,
                                  redirect=path_for(request, "supplier.contracts.show", contract_id=contract_id))


supplier_payments_router = Router(path="/supplier/contracts", route_handlers=[index, show, deliver],
                                  guards=[supplier_only])
