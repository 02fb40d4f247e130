from __future__ import annotations

from typing import Any

from litestar import Request, Router, get
from litestar.response import Template

from dps.identity.models import OrganisationKind
from dps.web.auth import supplier_only, memberships_in


@get("/", name="supplier.home")
async def supplier_home(request: Request[Any, Any, Any]) -> Template:
    memberships = memberships_in(request, OrganisationKind.SUPPLIER)
    return Template("supplier/home.html", context={"memberships": memberships})


supplier_router = Router(path="/supplier", route_handlers=[supplier_home], guards=[supplier_only])
