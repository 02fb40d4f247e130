from __future__ import annotations

from typing import Any

from litestar import Request, Router, get
from litestar.response import Template

from dps.identity.models import OrganisationKind
from dps.web.auth import authority_only, memberships_in


@get("/", name="authority.home")
async def authority_home(request: Request[Any, Any, Any]) -> Template:
    memberships = memberships_in(request, OrganisationKind.AUTHORITY)
    return Template("authority/home.html", context={"memberships": memberships})


authority_router = Router(path="/authority", route_handlers=[authority_home], guards=[authority_only])
