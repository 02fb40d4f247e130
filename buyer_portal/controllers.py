from __future__ import annotations

from typing import Any

from litestar import Request, Router, get
from litestar.params import FromPath
from litestar.response import Template

from dps.calendar import london_date
from dps.competitions.services.notices import notices_to_publish
from dps.errors import NotFound
from dps.funds import services as funds
from dps.identity.models import OrganisationKind, Role
from dps.web.auth import buyer_portal_only, current_user, memberships_in
from dps.web.deps import DbSession, Now


@get("/", name="buyer.home")
async def buyer_home(request: Request[Any, Any, Any], db_session: DbSession) -> Template:
    memberships = memberships_in(request, OrganisationKind.BUYER)
    user = current_user(request)
    # Award notices still to publish after a contract, each marked overdue after its 30 days.
    notices = (await notices_to_publish(db_session, user, request.app.state.clock.now())
               if user.has_role_in(OrganisationKind.BUYER, Role.BUYER) else [])
    return Template("buyer/home.html", context={"memberships": memberships, "notices": notices})


@get("/organisations/{organisation_id:int}", name="buyer.organisation")
async def organisation(request: Request[Any, Any, Any], db_session: DbSession, now: Now,
                       organisation_id: FromPath[int]) -> Template:
    """One of the user's NHS organisations: its ODS code, region and the ICB it belongs to (RULES.md 5), and the
    fund allocations open to it. Another organisation's page is 404."""
    if organisation_id not in {m.organisation_id for m in memberships_in(request, OrganisationKind.BUYER)}:
        raise NotFound("There is no such organisation")
    funding = await funds.buyer_funding(db_session, organisation_id,
                                        today=london_date(now))
    return Template("buyer/organisation.html", context={"funding": funding})


buyer_router = Router(path="/buyer", route_handlers=[buyer_home, organisation], guards=[buyer_portal_only])
