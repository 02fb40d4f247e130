from __future__ import annotations

from typing import Any

from litestar import Request, Router, get
from litestar.response import Template

from dps.identity.models import OrganisationKind
from dps.web.auth import buyer_portal_only, memberships_in


@get("/", name="buyer.home")
async def buyer_home(request: Request[Any, Any, Any]) -> Template:
    memberships = memberships_in(request, OrganisationKind.BUYER)
    return Template("buyer/home.html", context={"memberships": memberships})


buyer_router = Router(path="/buyer", route_handlers=[buyer_home], guards=[buyer_portal_only])
