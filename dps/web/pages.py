"""Pages anyone may see: the landing page, sign-in and sign-out, and the health check."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.params import FromQuery
from litestar.response import Redirect, Response, Template

from dps.dates import london_moment
from dps.forms import FormErrors
from dps.identity.models import OrganisationKind
from dps.identity.rules import LockoutPolicy
from dps.identity.services import SignedInUser, load_signed_in_user, sign_in
from dps.settings import Settings
from dps.web.auth import current_user, public, signed_in
from dps.web.deps import DbSession, Now
from dps.web.forms import read_form, redirect_to, safe_next_path
from dps.web.health import check_health
from dps.web.sessions import end_session, start_signed_in_session

SIGN_IN_REASONS = {
    "expired": "Your session has ended. Sign in again to continue.",
    "required": "Sign in to continue.",
    "signed_out": "You have signed out.",
}


def home_path(user: SignedInUser) -> str:
    """Where a user lands after sign-in: the portal of their first organisation."""
    kinds = {m.organisation_kind for m in user.memberships}
    if OrganisationKind.AUTHORITY in kinds:
        return "/authority"
    if OrganisationKind.BUYER in kinds:
        return "/buyer"
    if OrganisationKind.SUPPLIER in kinds:
        return "/supplier"
    return "/supplier/organisation/new"  # a new supplier's next step: set up its organisation


def lockout_policy(settings: Settings) -> LockoutPolicy:
    return LockoutPolicy(failures_allowed=settings.sign_in_lockout_failures,
                         lock_for=timedelta(minutes=settings.sign_in_lockout_minutes))


class PublicPages(Controller):
    guards = [public]

    @get("/", name="landing")
    async def landing(self) -> Template:
        return Template("landing.html")

    @get("/health", name="health", media_type="application/json")
    async def health(self, request: Request[Any, Any, State], db_session: DbSession,
                     now: Now) -> Response[dict[str, str]]:
        report, healthy = await check_health(db_session, request.app.state.settings,
                                             request.app.state.health_checks, now)
        return Response(report, status_code=200 if healthy else 503)


class SignInPages(Controller):
    """Sign in. The POST is rate limited by the router this controller is mounted on."""

    guards = [public]

    @get("/login", name="login")
    async def form(self, request: Request[Any, Any, State], reason: FromQuery[str | None] = None,
                   next: FromQuery[str | None] = None) -> Any:
        user = current_user(request)
        if user is not None:
            return Redirect(safe_next_path(next, home_path(user)), status_code=303)
        return Template("login.html", context={"notice": SIGN_IN_REASONS.get(reason or ""), "next": next or "",
                                               "values": {}, "errors": FormErrors()})

    @post("/login", name="login.submit")
    async def submit(self, request: Request[Any, Any, State], db_session: DbSession, now: Now) -> Any:
        form = await read_form(request)
        errors = FormErrors()
        if not form.get("email", "").strip():
            errors.add("email", "Enter your email address")
        if not form.get("password"):
            errors.add("password", "Enter your password")
        user = None
        if not errors:
            state = request.app.state
            result = await sign_in(db_session, state.passwords, email=form["email"], password=form["password"],
                                   now=now, policy=lockout_policy(state.settings))
            user = result.user
            if result.locked_until is not None:
                when = london_moment(result.locked_until)
                errors.add("email", f"You entered an incorrect email address or password too many times. You "
                                    f"cannot sign in with this email address until {when}")
                context = {"values": {"email": form.get("email", "")}, "errors": errors,
                           "next": form.get("next", ""), "locked_until": when}
                retry_after = max(1, math.ceil((result.locked_until - now).total_seconds()))
                return Template("login.html", context=context, status_code=429,
                                headers={"Retry-After": str(retry_after)})
            if user is None:
                errors.add("email", "Enter a correct email address and password")
        if errors or user is None:
            context = {"values": {"email": form.get("email", "")}, "errors": errors, "next": form.get("next", "")}
            return Template("login.html", context=context, status_code=400 if not form.get("password") else 401)
        start_signed_in_session(request, user.id or 0)
        signed = await load_signed_in_user(db_session, user.id or 0)
        return Redirect(safe_next_path(form.get("next"), home_path(signed) if signed else "/"), status_code=303)


class SignOutPages(Controller):
    guards = [signed_in]

    @get("/logout", name="logout")
    async def confirm(self) -> Template:
        return Template("logout.html")

    @post("/logout", name="logout.submit")
    async def submit(self, request: Request[Any, Any, State]) -> Redirect:
        end_session(request)
        return redirect_to(request, "login", "?reason=signed_out")
