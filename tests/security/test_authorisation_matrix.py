"""Every route x every kind of user: the status each gets, checked against a table written by hand.

The table is keyed by (method, path) exactly as the app's route table has them, so a new route without an
entry here fails `test_every_route_has_an_entry`. Ids in paths are unknown ones: a permitted user may get
404 (or 400/409 for an empty form), but never the 401/403/sign-in redirect a refused user gets.
"""

from __future__ import annotations

import re

import pytest
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient

from dps.app import create_app
from dps.identity.models import Role
from dps.settings import Settings
from tests.factories import authority, make_api_consumer, make_supplier, make_trust, make_user
from tests.helpers import sign_in

# Who may use a route. Each actor below is in exactly the groups listed for it.
ANYONE = "anyone"
SIGNED_IN = "signed_in"
VERIFIED = "verified"  # signed in with a confirmed email address
SUPPLIER = "supplier"
BUYER_PORTAL = "buyer_portal"
BUYER = "buyer"
COMPETITION_EVALUATOR = "competition_evaluator"
FUND_MANAGER = "fund_manager"
AUTHORITY = "authority"
AUTHORITY_ADMIN = "authority_admin"
API_KEY = "api_key"
API_CONSUMER = "api_consumer"  # registered to get API keys, email confirmed

ACTORS: dict[str, set[str]] = {
    "anonymous": {ANYONE},
    "supplier_admin": {ANYONE, SIGNED_IN, VERIFIED, SUPPLIER},
    "supplier_user": {ANYONE, SIGNED_IN, VERIFIED, SUPPLIER},
    "buyer": {ANYONE, SIGNED_IN, VERIFIED, BUYER_PORTAL, BUYER},
    "buyer_evaluator": {ANYONE, SIGNED_IN, VERIFIED, BUYER_PORTAL, COMPETITION_EVALUATOR},
    "fund_manager": {ANYONE, SIGNED_IN, VERIFIED, BUYER_PORTAL, FUND_MANAGER},
    "authority_evaluator": {ANYONE, SIGNED_IN, VERIFIED, AUTHORITY},
    "authority_admin": {ANYONE, SIGNED_IN, VERIFIED, AUTHORITY, AUTHORITY_ADMIN},
    "api_consumer": {ANYONE, SIGNED_IN, VERIFIED, API_CONSUMER},
}

_S, _B, _A = SUPPLIER, BUYER_PORTAL, AUTHORITY
EXPECTED: dict[tuple[str, str], str] = {
    ("GET", "/"): ANYONE, ("GET", "/health"): ANYONE, ("GET", "/login"): ANYONE, ("POST", "/login"): ANYONE,
    ("GET", "/logout"): SIGNED_IN, ("POST", "/logout"): SIGNED_IN,
    ("GET", "/register"): ANYONE, ("POST", "/register"): ANYONE, ("GET", "/register/check-email"): ANYONE,
    ("POST", "/register/resend"): ANYONE, ("GET", "/verify-email"): ANYONE, ("GET",
                                                                             "/verify-email/required"): SIGNED_IN,
    ("GET", "/invitations/accept"): ANYONE, ("POST", "/invitations/accept"): ANYONE,
    ("GET", "/assets/{file_path:path}"): ANYONE, ("GET", "/static/{file_path:path}"): ANYONE,
    ("GET", "/catalogue"): ANYONE, ("GET", "/catalogue/search"): ANYONE, ("GET", "/catalogue/compare"): ANYONE,
    ("GET", "/catalogue/innovations/{listing_id:int}"): ANYONE,
    ("GET", "/catalogue/innovations/{listing_id:int}/versions/{version:int}"): ANYONE,
    ("GET", "/catalogue/innovations/{listing_id:int}/documents/{document_id:int}"): ANYONE,
    # Open data: anyone, a key raises the rate limit.
    ("GET", "/api/v1/innovations"): ANYONE, ("GET", "/api/v1/innovations/{innovation_id:str}"): ANYONE,
    ("GET", "/api/v1/changes"): ANYONE, ("GET", "/api/v1/{path:path}"): ANYONE,
    ("GET", "/api/v1/ocds/releases"): ANYONE, ("GET", "/api/v1/ocds/records/{ocid:str}"): ANYONE,
    ("GET", "/api/v1/contracts-register"): ANYONE,
    ("GET", "/api/v1/ocds/bulk"): ANYONE, ("GET", "/api/v1/ocds/bulk/{file:str}"): ANYONE,
    ("GET", "/contracts-register"): ANYONE, ("GET", "/contracts-register.csv"): ANYONE,
    ("GET", "/contracts-register/{ocid:str}"): ANYONE,
    ("GET", "/open-data/publication-policy"): ANYONE,
    # Supplier portal
    ("GET", "/supplier"): _S, ("GET", "/supplier/applications/new"): _S, ("POST", "/supplier/applications"): _S,
    ("GET", "/supplier/applications/{application_id:int}"): _S,
    ("GET", "/supplier/applications/{application_id:int}/check"): _S,
    ("GET", "/supplier/applications/{application_id:int}/sections/{section_key:str}"): _S,
    ("POST", "/supplier/applications/{application_id:int}/sections/{section_key:str}"): _S,
    ("POST", "/supplier/applications/{application_id:int}/submit"): _S,
    ("POST", "/supplier/applications/{application_id:int}/withdraw"): _S,
    ("GET", "/supplier/refresh/{response_id:int}"): _S, ("POST", "/supplier/refresh/{response_id:int}"): _S,
    ("GET", "/supplier/competitions"): _S, ("GET", "/supplier/competitions/{competition_id:int}"): _S,
    ("GET", "/supplier/competitions/{competition_id:int}/bid"): _S,
    ("POST", "/supplier/competitions/{competition_id:int}/bid"): _S,
    ("POST", "/supplier/competitions/{competition_id:int}/bid/withdraw"): _S,
    ("POST", "/supplier/competitions/{competition_id:int}/bid/documents"): _S,
    ("GET", "/supplier/competitions/{competition_id:int}/bid/documents/{document_id:int}"): _S,
    ("POST", "/supplier/competitions/{competition_id:int}/bid/documents/{document_id:int}/remove"): _S,
    ("POST", "/supplier/competitions/{competition_id:int}/questions"): _S,
    ("GET", "/supplier/listings"): _S, ("POST", "/supplier/listings"): _S, ("GET", "/supplier/listings/new"): _S,
    ("GET", "/supplier/listings/{listing_id:int}"): _S, ("POST", "/supplier/listings/{listing_id:int}"): _S,
    ("GET", "/supplier/listings/{listing_id:int}/edit"): _S,
    ("POST", "/supplier/listings/{listing_id:int}/publish"): _S,
    ("POST", "/supplier/listings/{listing_id:int}/withdraw"): _S,
    ("POST", "/supplier/listings/{listing_id:int}/documents"): _S,
    ("GET", "/supplier/listings/{listing_id:int}/documents/{document_id:int}"): _S,
    ("POST", "/supplier/listings/{listing_id:int}/documents/{document_id:int}/remove"): _S,
    ("GET", "/supplier/listings/{listing_id:int}/versions/{version:int}"): _S,
    ("GET", "/supplier/organisation/new"): VERIFIED, ("POST", "/supplier/organisation/new"): VERIFIED,
    ("GET", "/supplier/organisation/new/check"): VERIFIED, ("POST", "/supplier/organisation/new/check"): VERIFIED,
    ("GET", "/supplier/organisation"): _S, ("GET", "/supplier/organisation/{organisation_id:int}"): _S,
    ("GET", "/supplier/organisation/{organisation_id:int}/edit"): _S,
    ("POST", "/supplier/organisation/{organisation_id:int}/edit"): _S,
    ("GET", "/supplier/organisation/{organisation_id:int}/team"): _S,
    ("GET", "/supplier/organisation/{organisation_id:int}/team/invite"): _S,
    ("POST", "/supplier/organisation/{organisation_id:int}/team/invite"): _S,
    ("POST", "/supplier/organisation/{organisation_id:int}/team/invitations/{invitation_id:int}/revoke"): _S,
    # Buyer portal
    ("GET", "/buyer"): _B, ("GET", "/buyer/organisations/{organisation_id:int}"): _B,
    ("GET", "/buyer/saved-searches"): _B, ("POST", "/buyer/saved-searches"): _B,
    ("POST", "/buyer/saved-searches/{saved_id:int}/delete"): _B,
    ("GET", "/buyer/competitions"): _B, ("GET", "/buyer/competitions/{competition_id:int}"): _B,
    ("GET", "/buyer/competitions/{competition_id:int}/bids/{bid_id:int}/documents/{document_id:int}"): _B,
    ("GET", "/buyer/funds"): FUND_MANAGER, ("GET", "/buyer/funds/dashboard.csv"): FUND_MANAGER,
    ("GET", "/buyer/funds/dashboard.json"): FUND_MANAGER, ("GET", "/buyer/funds/commitments"): FUND_MANAGER,
    ("POST", "/buyer/funds/commitments"): FUND_MANAGER, ("GET", "/buyer/funds/commitments/new"): FUND_MANAGER,
    ("GET", "/buyer/funds/commitments/{commitment_id:int}"): FUND_MANAGER,
    ("POST", "/buyer/funds/commitments/{commitment_id:int}/release"): FUND_MANAGER,
    ("POST", "/buyer/funds/commitments/{commitment_id:int}/lines/{allocation_id:int}/pay"): FUND_MANAGER,
    ("POST", "/buyer/funds/commitments/{commitment_id:int}/lines/{allocation_id:int}/refund"): FUND_MANAGER,
    ("GET", "/buyer/funds/allocations/{allocation_id:int}"): FUND_MANAGER,
    ("POST", "/buyer/funds/allocations/{allocation_id:int}/adjust"): FUND_MANAGER,
    # Authority
    ("GET", "/authority"): _A, ("GET", "/authority/applications"): _A,
    ("GET", "/authority/applications/{application_id:int}"): _A,
    ("POST", "/authority/applications/{application_id:int}/sections/{section_key:str}"): _A,
    ("POST", "/authority/applications/{application_id:int}/decision"): _A,
    ("POST", "/authority/applications/{application_id:int}/extend"): _A,
    ("GET", "/authority/suppliers"): _A, ("GET", "/authority/suppliers/{organisation_id:int}"): _A,
    ("POST", "/authority/admissions/{admission_id:int}/{event:str}"): AUTHORITY_ADMIN,
    ("GET", "/authority/refresh"): _A, ("POST", "/authority/refresh"): AUTHORITY_ADMIN,
    ("GET", "/authority/refresh/{request_id:int}"): _A,
    ("GET", "/authority/debarment"): _A, ("POST", "/authority/debarment"): AUTHORITY_ADMIN,
    ("POST", "/authority/debarment/{entry_id:int}/remove"): AUTHORITY_ADMIN,
    ("GET", "/authority/audit"): AUTHORITY_ADMIN, ("GET", "/authority/audit/export.csv"): AUTHORITY_ADMIN,
    ("GET", "/authority/dead-letters"): AUTHORITY_ADMIN,
    ("POST", "/authority/dead-letters/{message_id:int}/retry"): AUTHORITY_ADMIN,
    ("GET", "/authority/listings"): _A, ("GET", "/authority/listings/{listing_id:int}"): _A,
    ("GET", "/authority/listings/{listing_id:int}/versions/{version:int}"): _A,
    ("GET", "/authority/listings/{listing_id:int}/documents/{document_id:int}"): _A,
    ("POST", "/authority/listings/{listing_id:int}/unpublish"): AUTHORITY_ADMIN,
    ("GET", "/authority/api-keys"): AUTHORITY_ADMIN, ("POST", "/authority/api-keys"): AUTHORITY_ADMIN,
    ("POST", "/authority/api-keys/{key_id:int}/revoke"): AUTHORITY_ADMIN,
    ("GET", "/authority/api-keys/{key_id:int}"): AUTHORITY_ADMIN,
    ("POST", "/authority/api-keys/{key_id:int}/rate-limit"): AUTHORITY_ADMIN,
    # API consumers: anyone signs up; a consumer manages their own keys.
    ("GET", "/api-keys/register"): ANYONE, ("POST", "/api-keys/register"): ANYONE,
    ("GET", "/api-keys"): API_CONSUMER, ("POST", "/api-keys"): API_CONSUMER,
    ("POST", "/api-keys/{key_id:int}/rotate"): API_CONSUMER, ("POST", "/api-keys/{key_id:int}/revoke"): API_CONSUMER,
    ("GET", "/authority/funds"): AUTHORITY_ADMIN, ("POST", "/authority/funds"): AUTHORITY_ADMIN,
    ("GET", "/authority/funds/new"): AUTHORITY_ADMIN, ("GET", "/authority/funds/{fund_id:int}"): AUTHORITY_ADMIN,
    ("POST", "/authority/funds/{fund_id:int}/allocations"): AUTHORITY_ADMIN,
    ("GET", "/authority/funds/allocations/{allocation_id:int}"): AUTHORITY_ADMIN,
    ("POST", "/authority/funds/allocations/{allocation_id:int}/adjust"): AUTHORITY_ADMIN,
}
# Milestone payments: Stripe's webhook (its signature is the authentication), buyers' actions, suppliers' views.
EXPECTED.update({
    ("POST", "/webhooks/stripe"): ANYONE,
    ("GET", "/buyer/contracts"): BUYER, ("GET", "/buyer/contracts/{contract_id:int}"): BUYER,
    ("POST", "/buyer/contracts/{contract_id:int}/milestones/{milestone_id:int}/pay"): BUYER,
    ("POST", "/buyer/contracts/{contract_id:int}/payments/{payment_id:int}/refund"): BUYER,
    ("POST", "/buyer/contracts/{contract_id:int}/milestones/{milestone_id:int}/accept"): BUYER,
    ("POST", "/buyer/contracts/{contract_id:int}/milestones/{milestone_id:int}/reject"): BUYER,
    ("POST", "/buyer/contracts/{contract_id:int}/payments/{payment_id:int}/pay-in-test-mode"): BUYER,
    ("GET", "/supplier/contracts"): SUPPLIER, ("GET", "/supplier/contracts/{contract_id:int}"): SUPPLIER,
    ("POST", "/supplier/contracts/{contract_id:int}/milestones/{milestone_id:int}/deliver"): SUPPLIER,
})
# Password reset (rate limited with sign-in) and the footer pages.
EXPECTED.update({
    ("GET", "/forgot-password"): ANYONE, ("POST", "/forgot-password"): ANYONE,
    ("GET", "/reset-password"): ANYONE, ("POST", "/reset-password"): ANYONE,
    ("GET", "/accessibility"): ANYONE, ("GET", "/privacy"): ANYONE, ("GET", "/cookies"): ANYONE,
    ("GET", "/contact"): ANYONE, ("GET", "/help"): ANYONE,
    # Where every address no route has is answered (404), for every method.
    **{(method, "/page-not-found"): ANYONE for method in ("DELETE", "GET", "PATCH", "POST", "PUT", "TRACE")},
})
_COMPETITION_BUYER_ONLY = (
    ("POST", ""), ("GET", "/new"), ("GET", "/{competition_id:int}/edit"), ("POST", "/{competition_id:int}/edit"),
    ("POST", "/{competition_id:int}/publish"), ("POST", "/{competition_id:int}/cancel"),
    ("POST", "/{competition_id:int}/criteria/{key:str}"), ("GET", "/{competition_id:int}/clarifications"),
    ("GET", "/{competition_id:int}/shorter-period"), ("POST", "/{competition_id:int}/shorter-period"),
    ("POST", "/{competition_id:int}/clarifications/{clarification_id:int}"),
    ("POST", "/{competition_id:int}/evaluation/start"), ("GET", "/{competition_id:int}/moderation"),
    ("POST", "/{competition_id:int}/bids/{bid_id:int}/moderation/{key:str}"), ("GET", "/{competition_id:int}/ranking"),
    ("POST", "/{competition_id:int}/award"), ("POST", "/{competition_id:int}/award/departure"),
    ("GET", "/{competition_id:int}/letters"),
    ("POST", "/{competition_id:int}/standstill"), ("POST", "/{competition_id:int}/award-notice"),
    ("POST", "/{competition_id:int}/contract-notice"), ("POST", "/{competition_id:int}/standstill/pause"),
    ("POST", "/{competition_id:int}/standstill/resume"), ("GET", "/{competition_id:int}/confirm"),
    ("POST", "/{competition_id:int}/confirm"))
EXPECTED.update({(m, "/buyer/competitions" + p): BUYER for m, p in _COMPETITION_BUYER_ONLY})
EXPECTED.update({(m, "/buyer/competitions" + p): COMPETITION_EVALUATOR for m, p in (
    ("GET", "/{competition_id:int}/evaluation"), ("POST", "/{competition_id:int}/evaluation/declaration"),
    ("POST", "/{competition_id:int}/bids/{bid_id:int}/scores/{key:str}"))})

# The API's documentation (the OpenAPI document is Litestar's own route under /api), and its old address.
EXPECTED.update({("GET", path): ANYONE for path in (
    "/api", "/api/openapi.json", "/api/{path:str}", "/api/docs", "/api/guide", "/schema", "/schema/openapi.json")})
SCHEMA_PREFIX = "/no-unlisted-prefix"


def app_routes():
    app = create_app(Settings.from_env({"DPS_ENV": "test"}))
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for handler in route.route_handlers:
                for method in sorted(handler.http_methods - {"HEAD", "OPTIONS"}):
                    yield method, route.path


def test_every_route_has_an_entry():
    routes = set(app_routes())
    missing = sorted(r for r in routes if r not in EXPECTED and not r[1].startswith(SCHEMA_PREFIX))
    assert missing == [], "add these routes to EXPECTED with who may use them"
    stale = sorted(set(EXPECTED) - routes)
    assert stale == [], "these entries name routes the app no longer has"


def concrete(path: str) -> str:
    path = re.sub(r"\{[a-z_]+:int\}", "999999", path)
    path = re.sub(r"\{event:str\}", "suspend", path)
    path = re.sub(r"\{section_key:str\}", "insurance", path)
    path = re.sub(r"\{key:str\}", "quality-1", path)
    path = path.replace("{file_path:path}", "nhsuk-frontend.min.css").replace("{path:path}", "unknown")
    return re.sub(r"\{[a-z_]+:str\}", "unknown", path)


def refused(response, group: str) -> bool:
    if response.status_code in (401, 403):
        return True
    return response.status_code in (302, 303) and response.headers.get("location", "").startswith(
        ("/login?reason=required", "/login?reason=expired", "/verify-email/required"))


async def make_actors(db, passwords, clock):
    supplier = await make_supplier(db, clock)
    trust = await make_trust(db, clock)
    icb = trust  # a fund manager sits in a buyer organisation
    authority_org = await authority(db)
    made = {}
    for name, organisation, role in (
        ("supplier_admin", supplier, Role.SUPPLIER_ADMIN), ("supplier_user", supplier, Role.SUPPLIER_USER),
        ("buyer", trust, Role.BUYER), ("buyer_evaluator", trust, Role.EVALUATOR),
        ("fund_manager", icb, Role.FUND_MANAGER), ("authority_evaluator", authority_org, Role.EVALUATOR),
        ("authority_admin", authority_org, Role.AUTHORITY_ADMIN),
    ):
        made[name] = await make_user(db, passwords, clock, email=f"{name}@matrix.example",
                                     organisation=organisation, role=role)
    made["api_consumer"] = await make_api_consumer(db, passwords, clock, email="api_consumer@matrix.example")
    return made


async def test_each_user_gets_the_expected_answer_on_every_route(settings, db, passwords, clock, backend, tmp_path):
    if backend != "sqlite":
        pytest.skip("guards do not depend on the database; one backend is enough for the matrix")
    # Every actor signs in from the same test address: lift the sign-in rate limit for this sweep only.
    app = create_app(Settings.from_env({"DPS_ENV": "test", "DATABASE_URL": settings.database_url,
                                        "DPS_VAR_DIR": str(tmp_path), "LOGIN_RATE_LIMIT_PER_MINUTE": "100000"}),
                     clock=clock)
    actors = await make_actors(db, passwords, clock)
    # Signing out ends the actor's session: do it last.
    routes = sorted((r for r in set(app_routes()) if r in EXPECTED), key=lambda r: (r == ("POST", "/logout"), r))
    wrong = []
    for actor, groups in ACTORS.items():
        async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
            client.follow_redirects = False
            if actor != "anonymous":
                assert (await sign_in(client, actors[actor].email)).status_code == 303
            await client.get("/login")
            token = client.cookies.get("csrftoken") or ""
            for method, path in routes:
                group = EXPECTED[(method, path)]
                url = concrete(path)
                if method == "GET":
                    response = await client.get(url)
                else:
                    response = await client.post(url, data={"_csrf_token": token})
                allowed = group in groups
                if group == API_KEY:
                    ok = response.status_code == 401  # no key sent by anybody here
                elif allowed:
                    ok = not refused(response, group) and response.status_code < 500
                else:
                    ok = refused(response, group)
                if not ok:
                    wrong.append(f"{actor}: {method} {url} -> {response.status_code} (route for {group})")
    assert wrong == [], "\n".join(wrong)
