"""Pages for API consumers: sign up to get keys, and "Your API keys" (create, rotate, revoke; last use and today's
count of requests of each).

Access rules, by router:
- signup_router (public, POST rate limited per client address like the supplier registration):
  /api-keys/register. Signed out: a new account (with email confirmation). Signed in: the organisation and purpose
  only. A consumer already is one: sent to their keys.
- keys_router (API consumers whose email address is confirmed): /api-keys[/{id}/rotate|revoke]. A key of another
  consumer is not found (404), never a hint that it exists.

A new secret (made or rotated) is shown on the page that answers the POST, once, with Cache-Control: no-store; only
its hash is kept. The pages live outside /api/, whose paths are the JSON API (no CSRF there).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Router, get, post
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers import BaseRouteHandler
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from dps.api_keys import services
from dps.api_keys.consumers import REGISTRATION_FIELDS, become_api_consumer, register_api_consumer
from dps.api_keys.models import ApiKey
from dps.api_keys.rules import KEY_NAME_MAX_LENGTH, MAX_ACTIVE_KEYS, PURPOSE_MAX_LENGTH, usage_day
from dps.errors import ValidationFailed
from dps.forms import FormErrors
from dps.identity.models import OrganisationKind
from dps.identity.rules import MINIMUM_PASSWORD_LENGTH
from dps.identity.services import SignedInUser
from dps.web.api import keys_changed
from dps.web.api_key_state import ApiKeyUsage
from dps.web.auth import (
    API_CONSUMER_REGISTRATION_PATH,
    API_KEYS_PATH,
    api_consumer_only,
    current_user,
    is_api_consumer,
    mark_access_rule,
    public,
)
from dps.web.deps import CurrentUser, DbSession, Now
from dps.web.forms import read_form, redirect_to

# The supplier registration's "check your email" page reads these from the session (supplier_portal.account).
PENDING_EMAIL = "pending_email"
PENDING_NEXT_STEP = "pending_next_step"
SIGNUP_RATE_LIMIT_PER_MINUTE = 10
signup_rate_limit = RateLimitConfig(
    rate_limit=("minute", SIGNUP_RATE_LIMIT_PER_MINUTE),
    store="onboarding_rate_limit",
    check_throttle_handler=lambda request: request.method == "POST",
)


class ConsumerEmailNotConfirmed(Exception):
    """A consumer whose email address is not confirmed yet opened their keys: sent to confirm it first."""


async def _confirmed_email(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    user = current_user(connection)
    if user is None:
        raise NotAuthorizedException("Sign in to continue")
    if not user.email_verified:
        raise ConsumerEmailNotConfirmed


confirmed_email = mark_access_rule(_confirmed_email, "a user whose email address is confirmed")


def _to_confirm_email(request: Request[Any, Any, Any], _: ConsumerEmailNotConfirmed) -> Redirect:
    return redirect_to(request, "verify_email.required")


# --- signing up ----------------------------------------------------------------------------------------------------


def _signup_page(user: SignedInUser | None, values: dict[str, str], errors: FormErrors,
                 status_code: int = 200) -> Template:
    return Template("api_keys/register.html", status_code=status_code, context={
        "signed_in_user": user, "values": values, "errors": errors,
        "minimum_password_length": MINIMUM_PASSWORD_LENGTH, "purpose_max_length": PURPOSE_MAX_LENGTH})


@get(API_CONSUMER_REGISTRATION_PATH, name="api_keys.register")
async def signup_form(request: Request[Any, Any, Any]) -> Any:
    user = current_user(request)
    if is_api_consumer(user):
        return redirect_to(request, "api_keys")
    return _signup_page(user, {}, FormErrors())


@post(API_CONSUMER_REGISTRATION_PATH, name="api_keys.register.submit")
async def signup(request: Request[Any, Any, Any], db_session: DbSession, now: Now) -> Any:
    form = await read_form(request)
    user = current_user(request)
    if is_api_consumer(user):
        return redirect_to(request, "api_keys")
    values = {name: form.get(name, "") for name in REGISTRATION_FIELDS if not name.startswith("password")}
    try:
        if user is not None:
            await become_api_consumer(db_session, user.id, organisation_name=form.get("organisation_name", ""),
                                      purpose=form.get("purpose", ""), now=now)
            return redirect_to(request, "api_keys")
        state = request.app.state
        registration = await register_api_consumer(
            db_session, state.passwords, state.settings, full_name=form.get("full_name", ""),
            email=form.get("email", ""), password=form.get("password", ""),
            password_confirmation=form.get("password_confirmation", ""),
            organisation_name=form.get("organisation_name", ""), purpose=form.get("purpose", ""), now=now)
    except ValidationFailed as problem:
        await db_session.rollback()
        return _signup_page(user, values, FormErrors.from_error(problem, default_field=""), status_code=400)
    request.set_session({**dict(request.session or {}), PENDING_EMAIL: registration.email,
                         PENDING_NEXT_STEP: "get your API key"})
    return redirect_to(request, "register.check_email")


signup_router = Router(path="/", route_handlers=[signup_form, signup], guards=[public],
                       middleware=[signup_rate_limit.middleware])


# --- the consumer's keys -------------------------------------------------------------------------------------------


async def _keys_page(request: Request[Any, Any, Any], db_session: Any, user: SignedInUser, now: Any, *,
                     new_secret: tuple[ApiKey, str, str] | None = None, errors: FormErrors | None = None,
                     values: dict[str, str] | None = None, notice: str | None = None,
                     status_code: int = 200) -> Template:
    usage: ApiKeyUsage = request.app.state.api_key_usage
    await usage.flush(db_session, now)  # this process's last uses, so the page is up to date
    keys = await services.consumer_keys(db_session, user)
    counts = await usage.counts_on([key.id for key in keys], usage_day(now))
    organisations = [m.organisation_name for m in user.memberships
                     if m.organisation_kind is OrganisationKind.API_CONSUMER]
    page = Template("api_keys/index.html", status_code=status_code, context={
        "keys": [key for key in keys if key.revoked_at is None],
        "revoked": [key for key in keys if key.revoked_at is not None], "counts": counts,
        "organisation_name": organisations[0] if organisations else "", "new_secret": new_secret,
        "errors": errors or FormErrors(), "values": values or {}, "notice": notice,
        "max_keys": MAX_ACTIVE_KEYS, "name_max_length": KEY_NAME_MAX_LENGTH,
        "base_url": request.app.state.settings.base_url})
    if new_secret is not None:
        page.headers["Cache-Control"] = "no-store"  # the secret is on this page, this once
    return page


NOTICES = {"revoked": "The key has been revoked. Requests sent with it are refused from now on."}


@get("/", name="api_keys")
async def keys(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
               done: FromQuery[str | None] = None) -> Template:
    return await _keys_page(request, db_session, user, now, notice=NOTICES.get(done or ""))


@post("/", name="api_keys.create")
async def create_key(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser,
                     now: Now) -> Template:
    form = await read_form(request)
    try:
        key, secret = await services.create_consumer_key(db_session, user, name=form.get("name", ""), now=now)
    except ValidationFailed as problem:
        await db_session.rollback()
        return await _keys_page(request, db_session, user, now, errors=FormErrors.from_error(problem, "name"),
                                values=form, status_code=400)
    return await _keys_page(request, db_session, user, now, new_secret=(key, secret, "created"))


@post("/{key_id:int}/rotate", name="api_keys.rotate")
async def rotate_key(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                     key_id: FromPath[int]) -> Template:
    key, secret = await services.rotate_consumer_key(db_session, user, key_id, now)
    await keys_changed(request.app.state)
    return await _keys_page(request, db_session, user, now, new_secret=(key, secret, "rotated"))


@post("/{key_id:int}/revoke", name="api_keys.revoke")
async def revoke_key(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                     key_id: FromPath[int]) -> Redirect:
    await services.revoke_consumer_key(db_session, user, key_id, now)
    await keys_changed(request.app.state)
    return redirect_to(request, "api_keys", "?done=revoked")


keys_router = Router(path=API_KEYS_PATH, route_handlers=[keys, create_key, rotate_key, revoke_key],
                     guards=[api_consumer_only, confirmed_email],
                     exception_handlers={ConsumerEmailNotConfirmed: _to_confirm_email})

api_consumer_routers = [signup_router, keys_router]
