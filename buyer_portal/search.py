"""Buyer pages for search: saved searches (the search itself is the public catalogue search)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Router, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from catalogue import saved_searches as saved_searches_service
from dps.forms import FormErrors
from dps.identity.services import SignedInUser
from dps.web.auth import buyer_portal_only
from dps.web.deps import CurrentUser, DbSession, Now
from dps.web.forms import path_for, redirect_to, run_form_command


async def _page(request: Request[Any, Any, Any], db_session: Any, user: SignedInUser, errors: FormErrors | None = None,
                status_code: int = 200) -> Template:
    return Template("buyer/saved_searches/index.html", status_code=status_code, context={
        "saved": await saved_searches_service.saved_searches(db_session, user), "errors": errors or FormErrors()})


@get("/saved-searches", name="buyer.saved_searches")
async def saved_searches(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser) -> Template:
    return await _page(request, db_session, user)


@post("/saved-searches", name="buyer.saved_searches.create")
async def save(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now) -> Any:
    return await run_form_command(
        request, db_session, lambda form: saved_searches_service.save_search(
            db_session, user, name=form.get("name", ""), query_string=form.get("query_string", ""),
            now=now),
        on_error=lambda errors, form: _page(request, db_session, user, errors, status_code=400),
        redirect=path_for(request, "buyer.saved_searches"), default_field="name")


@post("/saved-searches/{saved_id:int}/delete", name="buyer.saved_searches.delete")
async def delete(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser,
                 saved_id: FromPath[int]) -> Redirect:
    await saved_searches_service.delete_saved_search(db_session, user, saved_id)
    return redirect_to(request, "buyer.saved_searches")


buyer_search_router = Router(path="/buyer", route_handlers=[saved_searches, save, delete], guards=[buyer_portal_only])
