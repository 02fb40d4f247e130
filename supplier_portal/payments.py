"""Suppliers' view of their contracts' milestone payments (read only)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Router, get
from litestar.params import FromPath
from litestar.response import Template

from dps.contracts.services import contract_for_supplier, contracts_for_supplier
from dps.payments.services import milestones_with_payments
from dps.web.auth import supplier_only
from dps.web.deps import CurrentUser, DbSession


@get("/", name="supplier.contracts")
async def index(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser) -> Template:
    contracts = await contracts_for_supplier(db_session, user)
    return Template("supplier/payments/index.html", context={"contracts": contracts})


@get("/{contract_id:int}", name="supplier.contracts.show")
async def show(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser,
               contract_id: FromPath[int]) -> Template:
    contract = await contract_for_supplier(db_session, user, contract_id)
    rows = await milestones_with_payments(db_session, contract.id or 0)
    return Template("supplier/payments/contract.html", context={"contract": contract, "rows": rows})


supplier_payments_router = Router(path="/supplier/contracts", route_handlers=[index, show], guards=[supplier_only])
