"""Pages anyone may see: the landing page, sign-in and sign-out, password reset, the footer pages
(accessibility, privacy, cookies, contact, help) and the health check."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from litestar import Controller, HttpMethod, Request, get, post, route
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.params import FromQuery
from litestar.response import Redirect, Response, Template

from dps.dates import london_moment
from dps.errors import ValidationFailed
from dps.forms import FormErrors
from dps.identity.models import OrganisationKind, Role
from dps.identity.password_reset import ResetLinkUnusable, request_password_reset, reset_password, usable_reset
from dps.identity.rules import LockoutPolicy
from dps.identity.services import SignedInUser, load_signed_in_user, sign_in
from dps.settings import Settings
from dps.web.auth import API_KEYS_PATH, current_user, is_api_consumer, public, signed_in
from dps.web.deps import DbSession, Now, ReadingSession
from dps.web.forms import read_form, redirect_to, safe_next_path
from dps.web.health import check_health
from dps.web.sessions import end_session, start_signed_in_session

SIGN_IN_REASONS = {
    "expired": "Your session has ended. Sign in again to continue.",
    "required": "Sign in to continue.",
    "signed_out": "You have signed out.",
    "password_reset": "Your password has been changed and you have been signed out everywhere. Sign in with your "
                      "new password.",
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
    if OrganisationKind.API_CONSUMER in kinds:
        return API_KEYS_PATH
    return "/supplier/organisation/new"  # a new supplier's next step: set up its organisation


SUPPLIER_CARD = {"href": "/supplier", "heading": "Supplier portal",
                 "description": "Join the DPS, apply to categories, list your innovations and bid in competitions."}
NEW_SUPPLIER_CARD = {"href": "/supplier/organisation/new", "heading": "Supplier portal",
                     "description": "Set up your supplier organisation, then apply to join categories of the DPS."}
BUYER_CARD = {"href": "/buyer", "heading": "Buyer portal",
              "description": "Search innovations, run mini-competitions, award contracts and track fund budgets."}
FUNDS_CARD = {"href": "/buyer/funds", "heading": "Fund budgets",
              "description": "Allocated, committed, spent and remaining money, by fund, year and ICB."}
AUTHORITY_CARD = {"href": "/authority", "heading": "Authority portal",
                  "description": "Evaluate applications, manage the suppliers, funds and audit log of the DPS."}
CATALOGUE_CARD = {"href": "/catalogue", "heading": "Catalogue search",
                  "description": "Browse the categories of the DPS and the innovations admitted suppliers offer."}
API_CARD = {"href": "/api/docs", "heading": "API documentation",
            "description": "Read the catalogue and public award data through the versioned JSON API."}
API_KEYS_CARD = {"href": API_KEYS_PATH, "heading": "Your API keys",
                 "description": "Create, rotate and revoke the keys your systems send to the API, and see their use."}


def portal_cards(user: SignedInUser | None) -> list[dict[str, str]]:
    """The cards of the landing page: each leads somewhere this person may go. Someone signed out sees every
    portal; a signed-in person sees only the portals of their own roles (a supplier with no organisation yet is led
    to set one up), then the public catalogue and API."""
    if user is None:
        return [SUPPLIER_CARD, BUYER_CARD, CATALOGUE_CARD, API_CARD]
    cards: list[dict[str, str]] = []
    if not user.memberships:
        cards.append(NEW_SUPPLIER_CARD)
    if is_api_consumer(user):
        cards.append(API_KEYS_CARD)
    if user.has_role_in(OrganisationKind.SUPPLIER, Role.SUPPLIER_ADMIN, Role.SUPPLIER_USER):
        cards.append(SUPPLIER_CARD)
    if user.has_role_in(OrganisationKind.BUYER, Role.BUYER, Role.EVALUATOR):
        cards.append(BUYER_CARD)
    if user.has_role_in(OrganisationKind.BUYER, Role.FUND_MANAGER):
        cards.append(FUNDS_CARD)
    if any(m.organisation_kind == OrganisationKind.AUTHORITY for m in user.memberships):
        cards.append(AUTHORITY_CARD)
    return [*cards, CATALOGUE_CARD, API_CARD]


def lockout_policy(settings: Settings) -> LockoutPolicy:
    return LockoutPolicy(failures_allowed=settings.sign_in_lockout_failures,
                         lock_for=timedelta(minutes=settings.sign_in_lockout_minutes))


class PublicPages(Controller):
    guards = [public]

    @get("/", name="landing")
    async def landing(self, request: Request[Any, Any, State]) -> Template:
        return Template("landing.html", context={"cards": portal_cards(current_user(request))})

    @get("/health", name="health", media_type="application/json")
    async def health(self, request: Request[Any, Any, State], reading_session: ReadingSession,
                     now: Now) -> Response[dict[str, str]]:
        report, healthy = await check_health(reading_session, request.app.state.settings,
                                             request.app.state.health_checks, now,
                                             request.app.state.healthy_dependencies)
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
        start_signed_in_session(request, user.id or 0, user.session_epoch)
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


_RESET_PROBLEMS = {
    "used": "This link to reset your password has already been used.",
    "expired": "This link to reset your password has expired. Links work for 1 hour.",
    "unknown": "This link to reset your password does not work. Check you copied the whole link from the email.",
}


class PasswordResetPages(Controller):
    """"Forgot your password?": the request (one reply whatever the address) and the reset itself. Mounted with
    sign-in, so its POSTs share sign-in's rate limit."""

    guards = [public]

    @get("/forgot-password", name="password.forgot")
    async def forgot_form(self) -> Template:
        return Template("password/forgot.html", context={"values": {}, "errors": FormErrors()})

    @post("/forgot-password", name="password.forgot.submit")
    async def forgot_submit(self, request: Request[Any, Any, State], db_session: DbSession, now: Now) -> Template:
        form = await read_form(request)
        email = form.get("email", "").strip()
        if not email or "@" not in email:
            errors = FormErrors({"email": "Enter your email address, like name@example.nhs.uk"})
            return Template("password/forgot.html", status_code=400,
                            context={"values": {"email": email}, "errors": errors})
        await request_password_reset(db_session, email=email, now=now)
        return Template("password/sent.html", context={"email": email})  # the same reply whether or not it exists

    @get("/reset-password", name="password.reset")
    async def reset_form(self, db_session: DbSession, now: Now, token: FromQuery[str] = "") -> Template:
        try:
            await usable_reset(db_session, token, now)
        except ResetLinkUnusable as problem:
            return Template("password/link_problem.html", status_code=400,
                            context={"problem": _RESET_PROBLEMS[problem.reason]})
        return Template("password/reset.html", context={"token": token, "errors": FormErrors()})

    @post("/reset-password", name="password.reset.submit")
    async def reset_submit(self, request: Request[Any, Any, State], db_session: DbSession, now: Now) -> Any:
        form = await read_form(request)
        token = form.get("token", "")
        try:
            await reset_password(db_session, request.app.state.passwords, token=token,
                                 password=form.get("password", ""), confirmation=form.get("confirmation", ""),
                                 now=now)
        except ResetLinkUnusable as problem:
            await db_session.rollback()
            return Template("password/link_problem.html", status_code=400,
                            context={"problem": _RESET_PROBLEMS[problem.reason]})
        except ValidationFailed as problem:
            await db_session.rollback()
            return Template("password/reset.html", status_code=400,
                            context={"token": token, "errors": FormErrors.from_error(problem, "password")})
        end_session(request)
        return redirect_to(request, "login", "?reason=password_reset")


class ServicePages(Controller):
    """The pages every NHS service links from its footer, written for this service."""

    guards = [public]

    @get("/accessibility", name="service.accessibility")
    async def accessibility(self) -> Template:
        return Template("service/accessibility.html")

    @get("/privacy", name="service.privacy")
    async def privacy(self) -> Template:
        return Template("service/privacy.html")

    @get("/cookies", name="service.cookies")
    async def cookies(self) -> Template:
        return Template("service/cookies.html")

    @get("/contact", name="service.contact")
    async def contact(self) -> Template:
        return Template("service/contact.html")

    @get("/help", name="service.help")
    async def help(self) -> Template:
        return Template("service/help.html")


PAGE_NOT_FOUND_PATH = "/page-not-found"


class UnknownAddresses(Controller):
    """The page for an address no other route has (`MarketplaceApp.answer_unknown_addresses_at` routes such requests
    here): it passes the session and the user like any page, so its header knows who is signed in, then answers 404
    (problem JSON under /api/). CSRF is not checked: nothing is done here, and a form sent to a wrong address should
    hear "not found"."""

    guards = [public]

    @route(PAGE_NOT_FOUND_PATH, http_method=list(HttpMethod), name="page-not-found", exclude_from_csrf=True,
           sync_to_thread=False)
    def page_not_found(self) -> None:
        raise NotFoundException()
