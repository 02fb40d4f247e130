"""Authority pages for the catalogue: see every listing, unpublish one with a reason (admins); and the keys of the
public API (admins): every key with its owner, last use and today's requests; issue a key by hand, change a key's
rate limit, revoke any key (at once, in every app process: dps.web.api.keys_changed)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from litestar import Request, Router, get, post
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import File, Redirect, Template

from catalogue import rules, services
from dps.api_keys import services as api_key_services
from dps.api_keys.rules import MAX_RATE_LIMIT, rate_limit_problem, usage_day
from dps.errors import ValidationFailed
from dps.forms import FormErrors, whole_number
from dps.identity.models import OrganisationKind, Role
from dps.identity.services import SignedInUser, actor_of
from dps.web.api import keys_changed
from dps.web.api_key_state import ApiKeyUsage
from dps.web.auth import authority_admin_only, authority_only
from dps.web.deps import CurrentUser, DbSession, Now
from dps.web.downloads import stored_document
from dps.web.forms import path_for, read_form, redirect_to, run_form_command


async def _listing_page(request: Request[Any, Any, Any], db_session: Any, user: SignedInUser, now: datetime,
                        listing_id: int,
                        errors: FormErrors | None = None, values: dict[str, str] | None = None,
                        status_code: int = 200) -> Template:
    row = await services.listing_row(db_session, listing_id)
    today = now.date()
    return Template("authority/listings/show.html", status_code=status_code, context={
        "row": row, "listing": row.listing, "description": rules.render_description(row.listing.description),
        "summary": rules.assurance_summary(row.listing.assurance, today), "labels": rules.LABELS,
        "versions": await services.versions_of(db_session, listing_id),
        "documents": await services.documents_of(db_session, listing_id), "today": today,
        "can_unpublish": user.has_role_in(OrganisationKind.AUTHORITY, Role.AUTHORITY_ADMIN),
        "errors": errors or FormErrors(), "values": values or {},
    })


@get("/listings", name="authority.listings")
async def listings(db_session: DbSession,
                   listing_state: Annotated[str | None, QueryParameter(name="state")] = None) -> Template:
    return Template("authority/listings/index.html", context={
        "rows": await services.all_listings(db_session, listing_state or None), "state": listing_state or ""})


@get("/listings/{listing_id:int}", name="authority.listing")
async def listing(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                  listing_id: FromPath[int]) -> Template:
    return await _listing_page(request, db_session, user, now, listing_id)


@get("/listings/{listing_id:int}/versions/{version:int}", name="authority.listing.version")
async def listing_version(db_session: DbSession, listing_id: FromPath[int], version: FromPath[int]) -> Template:
    row = await services.listing_row(db_session, listing_id)
    found = await services.version_of(db_session, listing_id, version)
    return Template("catalogue/version.html", context={
        "listing": row.listing, "version": found, "labels": rules.LABELS,
        "description": rules.render_description(found.content.get("description", "")),
        "back": f"/authority/listings/{listing_id}"})


@get("/listings/{listing_id:int}/documents/{document_id:int}", name="authority.listing.document")
async def listing_document(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser,
                           listing_id: FromPath[int],
                           document_id: FromPath[int]) -> File:
    document, path = await services.evidence_for_download(db_session, user, listing_id, document_id,
                                                          request.app.state.settings.var_dir)
    return stored_document(document, path)


@post("/listings/{listing_id:int}/unpublish", name="authority.listing.unpublish", guards=[authority_admin_only])
async def unpublish(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                    listing_id: FromPath[int]) -> Any:
    return await run_form_command(
        request, db_session, lambda form: services.unpublish_listing(
            db_session, user, listing_id, form.get("reason", ""), now),
        on_error=lambda errors, form: _listing_page(request, db_session, user, now, listing_id, errors, form,
                                                    status_code=400),
        redirect=path_for(request, "authority.listing", listing_id=listing_id), default_field="reason")


async def _keys_page(request: Request[Any, Any, Any], db_session: Any, now: datetime, *,
                     errors: FormErrors | None = None, values: dict[str, str] | None = None,
                     new_key: tuple[Any, str] | None = None, revoked_id: int | None = None,
                     status_code: int = 200) -> Template:
    usage: ApiKeyUsage = request.app.state.api_key_usage
    await usage.flush(db_session, now)
    rows = await api_key_services.key_rows(db_session)
    revoked = next((row.key for row in rows if row.key.id == revoked_id and row.key.revoked_at is not None), None)
    return Template("authority/api_keys/index.html", status_code=status_code, context={
        "rows": rows, "counts": await usage.counts_on([row.key.id for row in rows], usage_day(now)),
        "errors": errors or FormErrors(), "values": values or {},
        "new_key": new_key, "revoked": revoked, "default_limit": api_key_services.DEFAULT_RATE_LIMIT})


@get("/api-keys", name="authority.api_keys", guards=[authority_admin_only])
async def api_keys(request: Request[Any, Any, Any], db_session: DbSession, now: Now,
                   revoked: FromQuery[str | None] = None) -> Template:
    """`revoked` names the key just revoked here, to say so (anything else in it is ignored)."""
    return await _keys_page(request, db_session, now, revoked_id=whole_number(revoked))


@post("/api-keys", name="authority.api_keys.create", guards=[authority_admin_only])
async def create_api_key(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser,
                         now: Now) -> Template:
    form = await read_form(request)
    limit, problem = rate_limit_problem(form.get("rate_limit", "").strip() or str(api_key_services.DEFAULT_RATE_LIMIT))
    try:
        if problem or limit is None:
            raise ValidationFailed(problem or "Enter the rate limit", field="rate_limit")
        key, secret = await api_key_services.create_api_key(db_session, name=form.get("name", ""),
                                                            actor=actor_of(user), now=now,
                                                            rate_limit_per_minute=limit)
    except ValidationFailed as error:
        await db_session.rollback()
        return await _keys_page(request, db_session, now, errors=FormErrors.from_error(error, "name"), values=form,
                                status_code=400)
    # The key is shown this once; only its hash is kept. The page must not be cached.
    page = await _keys_page(request, db_session, now, new_key=(key, secret))
    page.headers["Cache-Control"] = "no-store"
    return page


async def _key_page(request: Request[Any, Any, Any], db_session: Any, now: datetime, key_id: int, *,
                    errors: FormErrors | None = None, values: dict[str, str] | None = None,
                    changed: bool = False, status_code: int = 200) -> Template:
    usage: ApiKeyUsage = request.app.state.api_key_usage
    await usage.flush(db_session, now)
    row = await api_key_services.key_row(db_session, key_id)
    counts = await usage.counts_on([key_id], usage_day(now))
    return Template("authority/api_keys/show.html", status_code=status_code, context={
        "row": row, "key": row.key, "today": counts.get(key_id, 0), "errors": errors or FormErrors(),
        "values": values or {}, "max_limit": MAX_RATE_LIMIT, "changed": changed})


@get("/api-keys/{key_id:int}", name="authority.api_key", guards=[authority_admin_only])
async def api_key(request: Request[Any, Any, Any], db_session: DbSession, now: Now, key_id: FromPath[int],
                  changed: FromQuery[str | None] = None) -> Template:
    return await _key_page(request, db_session, now, key_id, changed=changed == "limit")


@post("/api-keys/{key_id:int}/rate-limit", name="authority.api_keys.rate_limit", guards=[authority_admin_only])
async def change_rate_limit(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                            key_id: FromPath[int]) -> Any:
    form = await read_form(request)
    try:
        await api_key_services.change_rate_limit(db_session, key_id, form.get("rate_limit", ""),
                                                 actor=actor_of(user), now=now)
    except ValidationFailed as error:
        await db_session.rollback()
        return await _key_page(request, db_session, now, key_id, errors=FormErrors.from_error(error, "rate_limit"),
                               values=form, status_code=400)
    await keys_changed(request.app.state)
    return redirect_to(request, "authority.api_key", "?changed=limit", key_id=key_id)


@post("/api-keys/{key_id:int}/revoke", name="authority.api_keys.revoke", guards=[authority_admin_only])
async def revoke_api_key(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                         key_id: FromPath[int]) -> Redirect:
    await api_key_services.revoke_api_key(db_session, key_id, actor=actor_of(user), now=now)
    await keys_changed(request.app.state)
    return redirect_to(request, "authority.api_keys", f"?revoked={key_id}")


authority_listings_router = Router(
    path="/authority",
    route_handlers=[listings, listing, listing_version, listing_document, unpublish, api_keys, create_api_key,
                    api_key, change_rate_limit, revoke_api_key],
    guards=[authority_only],
)
