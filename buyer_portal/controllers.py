from __future__ import annotations

from typing import Any

from litestar import Request, Router, get
from litestar.response import Template

from dps.competitions.services.notices import notices_to_publish
from dps.identity.models import OrganisationKind, Role
from dps.web.auth import buyer_portal_only, current_user, memberships_in
from dps.web.deps import DbSession


@get("/", name="buyer.home")
async def buyer_home(request: Request[Any, Any, Any], db_session: DbSession) -> Template:
    memberships = memberships_in(request, OrganisationKind.BUYER)
    user = current_user(request)
    # Award notices still to publish after a contract, each marked overdue after its 30 days.
    notices = (await notices_to_publish(db_session, user, request.app.state.clock.now())
               if user.has_role_in(OrganisationKind.BUYER, Role.BUYER) else [])
    return Template("buyer/home.html", context={"memberships": memberships, "notices": notices})


buyer_router = Router(path="/buyer", route_handlers=[buyer_home], guards=[buyer_portal_only])
