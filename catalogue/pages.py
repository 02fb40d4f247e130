"""Public catalogue pages."""

from __future__ import annotations

from litestar import Router, get
from litestar.response import Template

from dps.agreements.services import list_agreements
from dps.web.deps import DbSession
from dps.web.auth import public


@get("/", name="catalogue.categories")
async def categories(db_session: DbSession) -> Template:
    return Template("catalogue/categories.html", context={"agreements": await list_agreements(db_session)})


catalogue_router = Router(path="/catalogue", route_handlers=[categories], guards=[public])
