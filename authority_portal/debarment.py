"""The debarment list (RULES.md A8): authority admins add and remove entries; every authority user can read it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Request, Router, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from dps.calendar import london_date
from dps.dates import parse_date_input
from dps.errors import ValidationFailed
from dps.exclusion import services
from dps.exclusion.rules import DEBARMENT_SOURCES, MANDATORY_GROUND_QUESTIONS
from dps.forms import FormErrors, whole_number
from dps.identity.models import OrganisationKind, Role
from dps.identity.services import SignedInUser, actor_of
from dps.web.auth import authority_admin_only, authority_only
from dps.web.deps import CurrentUser, DbSession, Now

GROUND_LABELS = {ground.value: question[0].upper() + question[1:] for ground, question in
                 MANDATORY_GROUND_QUESTIONS.items()}


async def _page(request: Request[Any, Any, Any], db_session: Any, user: SignedInUser, now: datetime,
                errors: FormErrors | None = None,
                values: dict[str, Any] | None = None, status_code: int = 200) -> Template:
    return Template("authority/debarment/index.html", status_code=status_code, context={
        "rows": await services.debarment_list(db_session, london_date(now)),
        "suppliers": await services.supplier_organisations(db_session),
        "grounds": GROUND_LABELS, "sources": DEBARMENT_SOURCES,
        "can_change": user is not None and user.has_role_in(OrganisationKind.AUTHORITY, Role.AUTHORITY_ADMIN),
        "errors": errors or FormErrors(), "values": values or {}})


@get("/debarment", name="authority.debarment")
async def debarment_index(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser,
                          now: Now) -> Template:
    return await _page(request, db_session, user, now)


@post("/debarment", name="authority.debarment.add", guards=[authority_admin_only])
async def debarment_add(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now) -> Any:
    form = await request.form()
    values: dict[str, Any] = {key: str(value) for key, value in form.items() if key != "_csrf_token"}
    values["grounds"] = [str(value) for value in form.getall("grounds")] if "grounds" in form else []
    try:
        if whole_number(values.get("organisation_id")) is None:
            raise ValidationFailed("Select the supplier to put on the list", field="organisation_id")
        listed_from = parse_date_input(values, "listed_from", label="Start date")
        listed_until = (parse_date_input(values, "listed_until", label="End date")
                        if any(values.get(f"listed_until-{part}", "").strip() for part in ("day", "month", "year"))
                        else None)
        await services.add_debarment(
            db_session, organisation_id=int(values["organisation_id"]), grounds=values["grounds"],
            source=values.get("source", ""), listed_from=listed_from, listed_until=listed_until,
            details=values.get("details", ""), actor=actor_of(user),
            now=now)
    except ValidationFailed as error:
        await db_session.rollback()
        return await _page(request, db_session, user, now, FormErrors.from_error(error), values, status_code=400)
    return Redirect(request.url_for("authority.debarment"), status_code=303)


@post("/debarment/{entry_id:int}/remove", name="authority.debarment.remove", guards=[authority_admin_only])
async def debarment_remove(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                           entry_id: FromPath[int]) -> Any:
    form = await request.form()
    try:
        await services.remove_debarment(db_session, entry_id, reason=str(form.get("reason", "")),
                                        actor=actor_of(user), now=now)
    except ValidationFailed as error:
        await db_session.rollback()
        return await _page(request, db_session, user, now,
                           FormErrors.from_error(error, prefix=f"entry-{entry_id}-"),
                           status_code=400)
    return Redirect(request.url_for("authority.debarment"), status_code=303)


authority_debarment_router = Router(path="/authority", route_handlers=[debarment_index, debarment_add,
                                                                       debarment_remove], guards=[authority_only])
