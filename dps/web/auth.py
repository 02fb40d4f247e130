"""Who is asking (loaded once per request from the session) and the guards every route declares."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, NotFoundException, PermissionDeniedException
from litestar.handlers import BaseRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from dps.identity.models import OrganisationKind, Role
from dps.identity.services import MembershipView, SignedInUser, load_signed_in_user
from dps.web.database import database_of

# Guards are coroutines so Litestar calls them directly instead of sending each one to a thread.
Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]
GUARD_MARK = "__dps_access_rule__"


class CurrentUserMiddleware(ASGIMiddleware):
    """Puts the signed-in user (or None) in scope["user"] for guards, handlers and templates."""

    scopes = ("http",)  # type: ignore[assignment]

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        scope["user"] = None
        session = scope.get("session")
        stored = session if isinstance(session, dict) else {}
        user_id = stored.get("user_id")
        if isinstance(user_id, int):
            async with database_of(scope["app"]).reading_sessions() as db:
                user = await load_signed_in_user(db, user_id)
            # A password reset moves the account's session epoch on: sessions signed in before it are not signed in.
            if user is not None and stored.get("epoch", 0) == user.session_epoch:
                scope["user"] = user
        await next_app(scope, receive, send)


def mark_access_rule(guard: Guard, description: str) -> Guard:
    """Label a guard as an access rule (what the route-table tests read); every route needs one."""
    setattr(guard, GUARD_MARK, description)
    return guard


_mark = mark_access_rule


def current_user(connection: ASGIConnection[Any, Any, Any, Any]) -> SignedInUser | None:
    return connection.scope.get("user")


async def _anyone(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    return None


async def _signed_in(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    if current_user(connection) is None:
        raise NotAuthorizedException("Sign in to continue")


async def _in_development(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    if connection.app.state.settings.environment != "development":
        raise NotFoundException()


public = _mark(_anyone, "anyone, signed in or not")
# Development tools (the local mailbox): anyone on a developer's machine, and not found anywhere else.
development_only = _mark(_in_development, "anyone, in development only")
signed_in = _mark(_signed_in, "any signed-in user")


# Where a signed-in person with no organisation yet sets up their supplier (a supplier page sends them there).
NEW_SUPPLIER_ORGANISATION_PATH = "/supplier/organisation/new"
# Where an API consumer manages their keys (their home), and where anyone signs up to become one.
API_KEYS_PATH = "/api-keys"
API_CONSUMER_REGISTRATION_PATH = "/api-keys/register"


class NoOrganisationYet(PermissionDeniedException):
    """A signed-in person who belongs to no organisation opened a supplier page: the web layer sends them to set
    up their organisation instead of answering 403."""


def requires_role(kind: OrganisationKind, *roles: Role) -> Guard:
    """Allow signed-in users holding one of `roles` in an organisation of `kind` (a buyer's evaluator is not
    the authority's evaluator)."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        user = current_user(connection)
        if user is None:
            raise NotAuthorizedException("Sign in to continue")
        if not user.has_role_in(kind, *roles):
            if kind == OrganisationKind.SUPPLIER and not user.memberships:
                raise NoOrganisationYet("Set up your organisation first")
            raise PermissionDeniedException("Your account does not have access to this page")

    guard.__name__ = f"requires_{kind}_" + "_or_".join(roles)
    return _mark(guard, f"{kind} roles: " + ", ".join(roles))


SUPPLIER_ROLES = (Role.SUPPLIER_ADMIN, Role.SUPPLIER_USER)
BUYER_PORTAL_ROLES = (Role.BUYER, Role.EVALUATOR, Role.FUND_MANAGER)
AUTHORITY_ROLES = (Role.EVALUATOR, Role.AUTHORITY_ADMIN)

supplier_only = requires_role(OrganisationKind.SUPPLIER, *SUPPLIER_ROLES)
buyer_portal_only = requires_role(OrganisationKind.BUYER, *BUYER_PORTAL_ROLES)
authority_only = requires_role(OrganisationKind.AUTHORITY, *AUTHORITY_ROLES)
authority_admin_only = requires_role(OrganisationKind.AUTHORITY, Role.AUTHORITY_ADMIN)
api_consumer_only = requires_role(OrganisationKind.API_CONSUMER, Role.API_CONSUMER)


def is_api_consumer(user: SignedInUser | None) -> bool:
    return user is not None and user.has_role_in(OrganisationKind.API_CONSUMER, Role.API_CONSUMER)


def access_rule_of(handler: BaseRouteHandler) -> list[str]:
    """The access rules declared on a route (through its own guards or its router's); empty means none."""
    guards = [getattr(guard, "func", guard) for guard in handler.resolve_guards()]  # unwrap Litestar's wrapper
    return [getattr(guard, GUARD_MARK) for guard in guards if hasattr(guard, GUARD_MARK)]


def memberships_in(connection: ASGIConnection[Any, Any, Any, Any], kind: OrganisationKind) -> list[MembershipView]:
    user = current_user(connection)
    return [m for m in user.memberships if m.organisation_kind is kind] if user else []
