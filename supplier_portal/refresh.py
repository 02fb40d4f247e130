"""Supplier pages to answer the authority's request to refresh a declaration (A6)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Request, Router, get, post
from litestar.params import FromPath
from litestar.response import Template

from dps.admission import refresh
from dps.exclusion.rules import MANDATORY_GROUND_QUESTIONS
from dps.forms import FormErrors
from dps.identity.services import SignedInUser
from dps.web.auth import supplier_only
from dps.web.deps import CurrentUser, DbSession, Now
from dps.web.forms import path_for, run_form_command


async def _page(request: Request[Any, Any, Any], db_session: Any, user: SignedInUser, now: datetime, response_id: int,
                errors: FormErrors | None = None,
                values: dict[str, str] | None = None, status_code: int = 200) -> Template:
    response = await refresh.response_for_supplier(db_session, user, response_id)
    rows = await refresh.refresh_rows(db_session, now,
                                      organisation_ids=frozenset({response.organisation_id}))
    row = next(r for r in rows if r.response.id == response_id)
    return Template("supplier/refresh.html", status_code=status_code,
                    context={"row": row, "errors": errors or FormErrors(), "values": values or {},
                             "grounds": MANDATORY_GROUND_QUESTIONS})


@get("/refresh/{response_id:int}", name="supplier.refresh")
async def refresh_form(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                       response_id: FromPath[int]) -> Template:
    return await _page(request, db_session, user, now, response_id)


@post("/refresh/{response_id:int}", name="supplier.refresh.answer")
async def refresh_answer(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                         response_id: FromPath[int]) -> Any:
    return await run_form_command(
        request, db_session, lambda form: refresh.respond_to_refresh(
            db_session, user, response_id, confirmed=form.get("confirmed") == "yes",
            changes=form.get("changes", ""),
            grounds={key.removeprefix("ground-"): value for key, value in form.items() if key.startswith("ground-")},
            now=now),
        on_error=lambda errors, form: _page(request, db_session, user, now, response_id, errors, form, status_code=400),
        redirect=path_for(request, "supplier.home"), default_field="confirmed")


supplier_refresh_router = Router(path="/supplier", route_handlers=[refresh_form, refresh_answer],
                                 guards=[supplier_only])
