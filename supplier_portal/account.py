"""Supplier onboarding pages: register, confirm the email address, set up the organisation, invite colleagues.

Access rules, by router:
- registration_router (public): /register, /register/check-email, /register/resend, /verify-email,
  /invitations/accept; its POSTs are rate limited per client address. /verify-email/required is signed-in only.
- new_organisation_router (signed in, email confirmed): /supplier/organisation/new[/check]. A new user has no
  supplier role yet, so no role guard fits; the service refuses anyone who already has a supplier organisation.
- organisation_router (supplier roles, email confirmed): /supplier/organisation/{id}[/edit|/team...]. Whether
  the user belongs to that organisation (404 if not) and is its administrator (403 if not) is decided by
  dps.identity.onboarding.organisation.supplier_access, for reads and writes alike.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Router, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.exceptions import NotAuthorizedException
from litestar.handlers import BaseRouteHandler
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from dps.errors import Conflict, ValidationFailed
from dps.forms import FormErrors
from dps.identity.models import OrganisationKind
from dps.identity.onboarding.accounts import LinkUnusable, sign_in_path_for
from dps.identity.onboarding.invitations import (
    INVITABLE_ROLES,
    ROLE_DESCRIPTIONS,
    ROLE_IN_A_SENTENCE,
    ROLE_LABELS,
    SignInToAccept,
    accept_invitation,
    inspect_invitation,
    invite_colleague,
    load_team,
    revoke_invitation,
)
from dps.identity.onboarding.organisation import (
    check_new_organisation,
    create_supplier_organisation,
    profile_snapshot,
    sme_of,
    supplier_access,
    supplier_organisation_ids,
    update_supplier_profile,
)
from dps.identity.onboarding.registration import (
    VERIFICATION_LIFETIME,
    ResendOutcome,
    is_email_verified,
    register_supplier_user,
    resend_verification,
    verify_email,
)
from dps.identity.profile import SupplierProfile, parse_supplier_profile
from dps.identity.rules import MINIMUM_PASSWORD_LENGTH
from dps.identity.services import SignedInUser, load_signed_in_user
from dps.money import pounds_for_form
from dps.web.auth import (
    API_KEYS_PATH,
    NEW_SUPPLIER_ORGANISATION_PATH,
    current_user,
    is_api_consumer,
    mark_access_rule,
    memberships_in,
    public,
    signed_in,
    supplier_only,
)
from dps.web.deps import CurrentUser, DbSession, Now
from dps.web.forms import read_form, redirect_to
from dps.web.sessions import start_signed_in_session

# Registration, re-sending and accepting invitations: POSTs per client address per minute (their own store,
# so they do not eat into the sign-in limit).
ONBOARDING_RATE_LIMIT_PER_MINUTE = 10
onboarding_rate_limit = RateLimitConfig(
    rate_limit=("minute", ONBOARDING_RATE_LIMIT_PER_MINUTE),
    store="onboarding_rate_limit",
    check_throttle_handler=lambda request: request.method == "POST",
)

PENDING_EMAIL = "pending_email"  # the address just registered, for the "check your email" page
PENDING_NEXT_STEP = "pending_next_step"  # what they will do once confirmed, if not set up a supplier organisation
ORGANISATION_DRAFT = "organisation_draft"  # the new organisation's answers, until they are confirmed
VERIFY_REQUIRED_PATH = "/verify-email/required"
NEW_ORGANISATION_PATH = NEW_SUPPLIER_ORGANISATION_PATH


class EmailNotVerified(Exception):
    """Raised by the verified_email guard; the routers answer it with the "confirm your email" page."""


async def _verified_email(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    user = current_user(connection)
    if user is None:
        raise NotAuthorizedException("Sign in to continue")
    if not user.email_verified:  # loaded with the user on every request
        raise EmailNotVerified


verified_email = mark_access_rule(_verified_email, "a user whose email address is confirmed")


def _to_verify_page(request: Request[Any, Any, Any], _: EmailNotVerified) -> Redirect:
    return redirect_to(request, "verify_email.required")



def _next_step(user: SignedInUser) -> str:
    """Where a confirmed person goes next: an API consumer to their keys, anyone else to set up a supplier."""
    return API_KEYS_PATH if is_api_consumer(user) else NEW_ORGANISATION_PATH


def _session(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return dict(request.session or {})


def _link_problem(request: Request[Any, Any, Any], problem: LinkUnusable) -> Template:
    return Template("supplier/account/link_problem.html", status_code=problem.status_code,
                    context={"problem": problem, "signed_in": current_user(request) is not None})


# ---------------------------------------------------------------------------------------------------------------
# Registration, email confirmation, invitations (public)


def _register_page(values: dict[str, str], errors: FormErrors, status_code: int = 200) -> Template:
    return Template("supplier/account/register.html", status_code=status_code,
                    context={"values": values, "errors": errors, "minimum_password_length": MINIMUM_PASSWORD_LENGTH})


class RegistrationPages(Controller):
    guards = [public]

    @get("/register", name="register")
    async def form(self, request: Request[Any, Any, State]) -> Any:
        user = current_user(request)
        if user is not None:
            return Redirect(_next_step(user), status_code=303)
        return _register_page({}, FormErrors())

    @post("/register", name="register.submit")
    async def submit(self, request: Request[Any, Any, State], db_session: DbSession, now: Now) -> Any:
        form = await read_form(request)
        state = request.app.state
        try:
            registration = await register_supplier_user(
                db_session, state.passwords, state.settings, full_name=form.get("full_name", ""),
                email=form.get("email", ""), password=form.get("password", ""),
                password_confirmation=form.get("password_confirmation", ""), now=now,
            )
        except ValidationFailed as problem:
            values = {"full_name": form.get("full_name", ""), "email": form.get("email", "")}
            return _register_page(values, FormErrors.from_error(problem, default_field=""), status_code=400)
        request.set_session({**_session(request), PENDING_EMAIL: registration.email})
        return redirect_to(request, "register.check_email")

    @get("/register/check-email", name="register.check_email")
    async def check_email(self, request: Request[Any, Any, State]) -> Template:
        return Template("supplier/account/check_email.html",
                        context={"email": _session(request).get(PENDING_EMAIL), "notice": None,
                                 "next_step": _session(request).get(PENDING_NEXT_STEP),
                                 "hours": int(VERIFICATION_LIFETIME.total_seconds() // 3600)})

    @post("/register/resend", name="register.resend")
    async def resend(self, request: Request[Any, Any, State], db_session: DbSession, now: Now) -> Any:
        """Send a new link to the signed-in user, to the holder of a genuine (expired) link, or to the address
        registered in this browser. Only the first two may learn what happened."""
        form = await read_form(request)
        user = current_user(request)
        settings, now = request.app.state.settings, now
        email = _session(request).get(PENDING_EMAIL)
        try:
            if user is not None:
                outcome = await resend_verification(db_session, settings, now=now, user_id=user.id)
            elif form.get("token"):
                outcome = await resend_verification(db_session, settings, now=now, token=form["token"])
            else:
                outcome = await resend_verification(db_session, settings, now=now, email=email)
        except LinkUnusable as problem:
            return _link_problem(request, problem)
        if user is None and not form.get("token"):
            notice = ("If the account for this address still needs confirming, we have sent a new email. "
                      "It can take a few minutes to arrive.")
        elif outcome is ResendOutcome.ALREADY_VERIFIED:
            return Redirect(_next_step(user), status_code=303) if user else redirect_to(request, "login")
        elif outcome is ResendOutcome.TOO_SOON:
            notice = ("We sent you an email recently. It can take a few minutes to arrive: wait for it before asking "
                      "for another.")
        elif outcome is ResendOutcome.SENT:
            notice = "We have sent you a new email. Use the link in the newest email."
        else:
            notice = "We could not find an account to send the email to."
        return Template("supplier/account/check_email.html",
                        context={"email": user.email if user else email, "notice": notice,
                                 "hours": int(VERIFICATION_LIFETIME.total_seconds() // 3600)})

    @get("/verify-email", name="verify_email")
    async def verify(self, request: Request[Any, Any, State], db_session: DbSession, now: Now,
                     token: FromQuery[str] = "") -> Any:
        try:
            result = await verify_email(db_session, request.app.state.settings, token=token, now=now)
        except LinkUnusable as problem:
            return _link_problem(request, problem)
        user = current_user(request)
        verified = await load_signed_in_user(db_session, result.user_id)
        consumer = is_api_consumer(verified)
        next_path = API_KEYS_PATH if consumer else NEW_ORGANISATION_PATH
        return Template("supplier/account/email_verified.html",
                        context={"already": result.already_verified,
                                 "signed_in_as_them": user is not None and user.id == result.user_id,
                                 "next_path": next_path,
                                 "next_step": "get your API key" if consumer else "set up your organisation",
                                 "sign_in_link": sign_in_path_for(next_path)})


class VerificationRequiredPage(Controller):
    """Where a signed-in user whose address is not confirmed yet is sent by the verified_email guard."""

    guards = [signed_in]

    @get(VERIFY_REQUIRED_PATH, name="verify_email.required")
    async def required(self, request: Request[Any, Any, State], db_session: DbSession, user: CurrentUser) -> Any:
        if await is_email_verified(db_session, user.id):
            return Redirect(_next_step(user), status_code=303)
        return Template("supplier/account/verify_required.html",
                        context={"email": user.email, "hours": int(VERIFICATION_LIFETIME.total_seconds() // 3600)})


def _invitation_page(request: Request[Any, Any, Any], details: Any, token: str, *, values: dict[str, str] | None = None,
                     errors: FormErrors | None = None, status_code: int = 200) -> Template:
    next_path = f"/invitations/accept?token={token}"
    return Template(
        "supplier/account/accept_invitation.html", status_code=status_code,
        context={"invitation": details, "token": token, "signed_in": current_user(request) is not None,
                 "role_in_a_sentence": ROLE_IN_A_SENTENCE.get(details.role, details.role),
                 "role_description": ROLE_DESCRIPTIONS.get(details.role, ""),
                 "sign_in_link": sign_in_path_for(next_path), "values": values or {}, "errors": errors or FormErrors(),
                 "minimum_password_length": MINIMUM_PASSWORD_LENGTH},
    )


class InvitationPages(Controller):
    """Accepting an invitation, from the link in its email: signed in as the invited address, or not signed in
    at all (then an account is created on the spot, or the owner of an existing account is asked to sign in)."""

    guards = [public]

    @get("/invitations/accept", name="invitation.accept")
    async def show(self, request: Request[Any, Any, State], db_session: DbSession, now: Now,
                   token: FromQuery[str] = "") -> Any:
        user = current_user(request)
        try:
            details = await inspect_invitation(db_session, request.app.state.settings, token=token,
                                               now=now, signed_in_email=user.email if user else None)
        except LinkUnusable as problem:
            return _link_problem(request, problem)
        return _invitation_page(request, details, token)

    @post("/invitations/accept", name="invitation.accept.submit")
    async def accept(self, request: Request[Any, Any, State], db_session: DbSession, now: Now) -> Any:
        form = await read_form(request)
        token = form.get("token", "")
        user = current_user(request)
        state = request.app.state
        try:
            acceptance = await accept_invitation(
                db_session, state.settings, state.passwords, token=token, now=now,
                signed_in_user_id=user.id if user else None, full_name=form.get("full_name", ""),
                password=form.get("password", ""), password_confirmation=form.get("password_confirmation", ""),
            )
        except LinkUnusable as problem:
            return _link_problem(request, problem)
        except SignInToAccept:
            return Redirect(sign_in_path_for(f"/invitations/accept?token={token}"), status_code=303)
        except ValidationFailed as problem:
            await db_session.rollback()
            details = await inspect_invitation(db_session, state.settings, token=token, now=now)
            return _invitation_page(request, details, token, values={"full_name": form.get("full_name", "")},
                                    errors=FormErrors.from_error(problem, default_field=""), status_code=400)
        if acceptance.new_account:
            start_signed_in_session(request, acceptance.user_id)
        return redirect_to(request, "organisation.show", "?joined=1", organisation_id=acceptance.organisation_id)


registration_router = Router(
    path="/", route_handlers=[RegistrationPages, VerificationRequiredPage, InvitationPages],
    middleware=[onboarding_rate_limit.middleware],
)


# ---------------------------------------------------------------------------------------------------------------
# Setting up the organisation (signed in, email confirmed, no supplier organisation yet)


def _profile_form(values: dict[str, str], errors: FormErrors, *, action: str, heading: str, button: str,
                  status_code: int = 200, cancel: str | None = None) -> Template:
    return Template("supplier/account/organisation_form.html", status_code=status_code,
                    context={"values": values, "errors": errors, "action": action, "heading": heading,
                             "submit_text": button, "cancel": cancel})


def _new_form(values: dict[str, str], errors: FormErrors | None = None, status_code: int = 200) -> Template:
    return _profile_form(values, errors or FormErrors(), action=NEW_ORGANISATION_PATH,
                         heading="Tell us about your organisation", button="Continue", status_code=status_code)


class NewOrganisationPages(Controller):
    @get("/", name="organisation.new")
    async def form(self, request: Request[Any, Any, State], db_session: DbSession, user: CurrentUser) -> Any:
        existing = await supplier_organisation_ids(db_session, user.id)
        if existing:
            return redirect_to(request, "organisation.show", organisation_id=existing[0])
        return _new_form(_session(request).get(ORGANISATION_DRAFT) or {})

    @post("/", name="organisation.new.submit")
    async def submit(self, request: Request[Any, Any, State], db_session: DbSession, user: CurrentUser) -> Any:
        form = await read_form(request)
        try:
            profile = await check_new_organisation(db_session, user_id=user.id, form=form)
        except ValidationFailed as problem:
            return _new_form(form, FormErrors.from_error(problem, default_field=""), status_code=400)
        request.set_session({**_session(request), ORGANISATION_DRAFT: profile.as_form()})
        return redirect_to(request, "organisation.new.check")

    @get("/check", name="organisation.new.check")
    async def check(self, request: Request[Any, Any, State]) -> Any:
        profile = _draft(request)
        if profile is None:
            return redirect_to(request, "organisation.new")
        return Template("supplier/account/organisation_check.html",
                        context={"profile": profile, "sme": profile.sme})

    @post("/check", name="organisation.new.create")
    async def create(self, request: Request[Any, Any, State], db_session: DbSession, user: CurrentUser,
                     now: Now) -> Any:
        profile = _draft(request)
        if profile is None:
            return redirect_to(request, "organisation.new")
        try:
            organisation = await create_supplier_organisation(db_session, user_id=user.id, profile=profile,
                                                              now=now)
        except ValidationFailed as problem:  # the number was registered by someone else meanwhile
            return _new_form(profile.as_form(), FormErrors.from_error(problem, default_field=""), status_code=400)
        except Conflict:  # already has an organisation (a second tab, a double click)
            await db_session.rollback()
            existing = await supplier_organisation_ids(db_session, user.id)
            return (redirect_to(request, "organisation.show", organisation_id=existing[0]) if existing
                    else redirect_to(request, "landing"))
        session = _session(request)
        session.pop(ORGANISATION_DRAFT, None)
        request.set_session(session)
        return redirect_to(request, "organisation.show", "?created=1", organisation_id=organisation.id)


def _draft(request: Request[Any, Any, Any]) -> SupplierProfile | None:
    draft = _session(request).get(ORGANISATION_DRAFT)
    if not isinstance(draft, dict):
        return None
    try:
        return parse_supplier_profile(draft)
    except ValidationFailed:
        return None


new_organisation_router = Router(
    path=NEW_ORGANISATION_PATH, route_handlers=[NewOrganisationPages], guards=[signed_in, verified_email],
    exception_handlers={EmailNotVerified: _to_verify_page},
)


# ---------------------------------------------------------------------------------------------------------------
# The organisation and its team (members only; changes by its administrators only)


def _form_values(organisation: Any) -> dict[str, str]:
    return {
        "legal_name": organisation.name or "",
        "trading_name": organisation.trading_name or "",
        "companies_house_number": organisation.companies_house_number or "",
        "registered_address": organisation.registered_address or "",
        "headcount": "" if organisation.headcount is None else str(organisation.headcount),
        "turnover": pounds_for_form(organisation.turnover_pence),
        "balance_sheet_total": pounds_for_form(organisation.balance_sheet_pence),
    }


class OrganisationPages(Controller):
    @get("/", name="organisation.mine")
    async def mine(self, request: Request[Any, Any, State]) -> Redirect:
        memberships = memberships_in(request, OrganisationKind.SUPPLIER)
        return redirect_to(request, "organisation.show", organisation_id=memberships[0].organisation_id)

    @get("/{organisation_id:int}", name="organisation.show")
    async def show(self, request: Request[Any, Any, State], db_session: DbSession, user: CurrentUser,
                   organisation_id: FromPath[int],
                   created: FromQuery[str | None] = None, joined: FromQuery[str | None] = None,
                   updated: FromQuery[str | None] = None) -> Template:
        access = await supplier_access(db_session, organisation_id=organisation_id, user_id=user.id)
        organisation = access.organisation
        notice = ("Your organisation has been set up. You are its administrator." if created
                  else f"You have joined {organisation.name}." if joined
                  else "The organisation's details have been saved." if updated else None)
        return Template("supplier/account/organisation.html",
                        context={"organisation": organisation, "profile": profile_snapshot(organisation),
                                 "sme": sme_of(organisation), "is_admin": access.is_admin, "notice": notice})

    @get("/{organisation_id:int}/edit", name="organisation.edit")
    async def edit(self, request: Request[Any, Any, State], db_session: DbSession, user: CurrentUser,
                   organisation_id: FromPath[int]) -> Template:
        access = await supplier_access(db_session, organisation_id=organisation_id, user_id=user.id, admin=True)
        return self._form(organisation_id, _form_values(access.organisation), FormErrors())

    @post("/{organisation_id:int}/edit", name="organisation.edit.submit")
    async def save(self, request: Request[Any, Any, State], db_session: DbSession, user: CurrentUser, now: Now,
                   organisation_id: FromPath[int]) -> Any:
        form = await read_form(request)
        try:
            await update_supplier_profile(db_session, organisation_id=organisation_id, user_id=user.id, form=form,
                                          now=now)
        except ValidationFailed as problem:
            return self._form(organisation_id, form, FormErrors.from_error(problem, default_field=""), status_code=400)
        return redirect_to(request, "organisation.show", "?updated=1", organisation_id=organisation_id)

    @staticmethod
    def _form(organisation_id: int, values: dict[str, str], errors: FormErrors, status_code: int = 200) -> Template:
        path = f"/supplier/organisation/{organisation_id}"
        return _profile_form(values, errors, action=f"{path}/edit", heading="Change your organisation's details",
                             button="Save changes", status_code=status_code, cancel=path)

    @get("/{organisation_id:int}/team", name="organisation.team")
    async def team(self, request: Request[Any, Any, State], db_session: DbSession, user: CurrentUser, now: Now,
                   organisation_id: FromPath[int],
                   sent: FromQuery[str | None] = None, withdrawn: FromQuery[str | None] = None) -> Template:
        team = await load_team(db_session, organisation_id=organisation_id, user_id=user.id, now=now)
        notice = "Invitation sent." if sent else "Invitation withdrawn." if withdrawn else None
        return Template("supplier/account/team.html",
                        context={"team": team, "role_labels": ROLE_LABELS, "notice": notice})

    @get("/{organisation_id:int}/team/invite", name="organisation.invite")
    async def invite_form(self, request: Request[Any, Any, State], db_session: DbSession, user: CurrentUser,
                          organisation_id: FromPath[int]) -> Template:
        access = await supplier_access(db_session, organisation_id=organisation_id, user_id=user.id, admin=True)
        return _invite_page(access.organisation, {}, FormErrors())

    @post("/{organisation_id:int}/team/invite", name="organisation.invite.submit")
    async def invite(self, request: Request[Any, Any, State], db_session: DbSession, user: CurrentUser, now: Now,
                     organisation_id: FromPath[int]) -> Any:
        form = await read_form(request)
        try:
            await invite_colleague(db_session, request.app.state.settings, organisation_id=organisation_id,
                                   user_id=user.id, email=form.get("email", ""), role=form.get("role", ""),
                                   now=now)
        except ValidationFailed as problem:
            await db_session.rollback()
            access = await supplier_access(db_session, organisation_id=organisation_id, user_id=user.id, admin=True)
            values = {"email": form.get("email", ""), "role": form.get("role", "")}
            return _invite_page(access.organisation, values, FormErrors.from_error(problem, default_field=""),
                                status_code=400)
        return redirect_to(request, "organisation.team", "?sent=1", organisation_id=organisation_id)

    @post("/{organisation_id:int}/team/invitations/{invitation_id:int}/revoke", name="organisation.invitation.revoke")
    async def revoke(self, request: Request[Any, Any, State], db_session: DbSession, user: CurrentUser, now: Now,
                     organisation_id: FromPath[int],
                     invitation_id: FromPath[int]) -> Redirect:
        await revoke_invitation(db_session, organisation_id=organisation_id, invitation_id=invitation_id,
                                user_id=user.id, now=now)
        return redirect_to(request, "organisation.team", "?withdrawn=1", organisation_id=organisation_id)


def _invite_page(organisation: Any, values: dict[str, str], errors: FormErrors, status_code: int = 200) -> Template:
    roles = [{"value": role.value, "text": ROLE_LABELS[role], "hint": {"text": ROLE_DESCRIPTIONS[role].capitalize()},
              "checked": values.get("role") == role.value} for role in INVITABLE_ROLES]
    return Template("supplier/account/invite.html", status_code=status_code,
                    context={"organisation": organisation, "values": values, "errors": errors, "roles": roles})


organisation_router = Router(
    path="/supplier/organisation", route_handlers=[OrganisationPages], guards=[supplier_only, verified_email],
    exception_handlers={EmailNotVerified: _to_verify_page},
)

account_routers = [registration_router, new_organisation_router, organisation_router]
