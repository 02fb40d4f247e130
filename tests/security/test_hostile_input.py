"""Bad input gets a clear 4xx, never a 500: every route of the app, as the role it is for, with hostile values.

The routes come from the app's own route table and the form fields from every `name` in the templates, so a new
route or a new field is covered without touching this test. For each route the user it is for sends:
- each int path parameter as an id beyond 32 bits, beyond 64 bits, and as a Unicode digit;
- every query parameter and every form field at once as an oversized int, a Unicode digit, a NUL byte, a line
  break and an over-long string.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from litestar.testing import AsyncTestClient

from dps.api_keys.services import create_api_key
from dps.app import create_app
from dps.audit.services import Actor
from dps.identity.models import Role
from dps.settings import PROJECT_ROOT, Settings
from tests.factories import (
    make_api_consumer,
    make_authority_user,
    make_bid,
    make_competition_world,
    make_fund,
    make_fund_manager,
    make_published_competition,
)
from tests.helpers import sign_in
from tests.security.test_authorisation_matrix import (
    ANYONE,
    API_CONSUMER,
    API_KEY,
    AUTHORITY,
    AUTHORITY_ADMIN,
    BUYER,
    BUYER_PORTAL,
    COMPETITION_EVALUATOR,
    EXPECTED,
    FUND_MANAGER,
    SIGNED_IN,
    SUPPLIER,
    VERIFIED,
    app_routes,
)

HOSTILE_VALUES = {
    "int beyond 64 bits": "99999999999999999999999",
    "int beyond 32 bits": "2147483648",
    "Unicode digit": "²",
    "NUL byte": "name\x00with a NUL",
    "line break": "line one\r\nBcc: someone@example.com",
    "over-long string": "x" * 200_001,
}
HOSTILE_IDS = {"id beyond 32 bits": "2147483648", "id beyond 64 bits": "99999999999999999999999",
               "Unicode digit id": "%C2%B2"}
# Query parameters any page or API route reads; handlers read more, by name, from the templates' fields below.
QUERY_NAMES = ("page", "since", "cursor", "limit", "q", "category", "fund", "sort", "year", "status", "from",
               "to", "organisation", "next", "reason", "token", "saved", "financial_year", "icb", "order")


def field_names() -> list[str]:
    """Every form field name written in a template (`name="x"` or a macro's `"name": "x"`)."""
    names: set[str] = set()
    for template in (PROJECT_ROOT / "templates").rglob("*.html"):
        text = template.read_text()
        names.update(re.findall(r'name="([A-Za-z0-9_\-]+)"', text))
        names.update(re.findall(r'"name": "([A-Za-z0-9_\-]+)"', text))
    names.discard("_csrf_token")
    return sorted(names)


def concrete(path: str, ids: dict[str, int], override: tuple[str, str] | None = None) -> str:
    def value(match: re.Match[str]) -> str:
        name, kind = match.group(1), match.group(2)
        if override and override[0] == name:
            return override[1]
        if kind == "int":
            return str(ids.get(name, 1))
        return {"section_key": "insurance", "key": "quality-1", "event": "suspend", "file_path": "x.css",
                "path": "unknown", "ocid": "ocds-dpsnhs-1", "innovation_id": "1"}.get(name, "unknown")
    return re.sub(r"\{([a-z_]+):([a-z]+)\}", value, path)


async def build_world(db: Any, passwords: Any, clock: Any) -> tuple[dict[str, Any], dict[str, int], str]:
    world = await make_competition_world(db, passwords, clock)
    competition_id = await make_published_competition(db, clock, world=world)
    bid_id = await make_bid(db, clock, party=world.bidders[0], competition_id=competition_id, price_pence=10_000)
    fund = await make_fund(db, clock)
    fund_manager = await make_fund_manager(db, passwords, clock)
    admin = await make_authority_user(db, passwords, clock, email="admin@authority.example",
                                      role=Role.AUTHORITY_ADMIN)
    _, secret = await create_api_key(db, name="Hostile", actor=Actor(user_id=admin.id, label="test"),
                                     now=clock.now(), rate_limit_per_minute=1_000_000)
    consumer = await make_api_consumer(db, passwords, clock, email="consumer@hostile.example")
    users = {ANYONE: None, API_CONSUMER: consumer, SIGNED_IN: world.bidders[0].user, VERIFIED: world.bidders[0].user,
             SUPPLIER: world.bidders[0].user, BUYER_PORTAL: world.buyer.user, BUYER: world.buyer.user,
             COMPETITION_EVALUATOR: world.evaluators[0], FUND_MANAGER: fund_manager, AUTHORITY: admin,
             AUTHORITY_ADMIN: admin, API_KEY: None}
    ids = {"competition_id": competition_id, "bid_id": bid_id, "fund_id": fund.id or 1,
           "organisation_id": world.bidders[0].organisation.id or 1, "category_id": world.category_id}
    return users, ids, secret


@pytest.mark.xdist_group("hostile_input")
async def test_no_route_answers_hostile_input_with_a_server_error(settings, db, passwords, clock, tmp_path):
    app_settings = Settings.from_env({"DPS_ENV": "test", "DATABASE_URL": settings.database_url,
                                      "DPS_VAR_DIR": str(tmp_path), "LOGIN_RATE_LIMIT_PER_MINUTE": "100000"})
    users, ids, secret = await build_world(db, passwords, clock)
    fields = field_names()
    routes = sorted(r for r in set(app_routes()) if r in EXPECTED and r != ("POST", "/logout")
                    and not r[1].startswith(("/assets", "/static")))
    by_user: dict[int | None, list[tuple[str, str]]] = {}
    for method, path in routes:
        user = users[EXPECTED[(method, path)]]
        by_user.setdefault(user.id if user else None, []).append((method, path))
    emails = {user.id: user.email for user in users.values() if user is not None}
    server_errors: list[str] = []
    for user_id, user_routes in by_user.items():
        # An app for each person: each test client runs it on an event loop of its own, and a database
        # connection belongs to the loop that opened it.
        app = create_app(app_settings, clock=clock)
        async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
            client.follow_redirects = False
            client.headers["Authorization"] = f"Bearer {secret}"
            if user_id is not None:
                assert (await sign_in(client, emails[user_id])).status_code == 303
            await client.get("/login")
            token = client.cookies.get("csrftoken") or ""
            for method, path in user_routes:
                for param in re.findall(r"\{([a-z_]+):int\}", path):
                    for label, hostile in HOSTILE_IDS.items():
                        url = concrete(path, ids, (param, hostile))
                        response = await (client.get(url) if method == "GET"
                                          else client.post(url, data={"_csrf_token": token}))
                        if response.status_code >= 500:
                            server_errors.append(f"{method} {url} ({label}) -> {response.status_code}")
                url = concrete(path, ids)
                for label, hostile in HOSTILE_VALUES.items():
                    if method == "GET":
                        query = "&".join(f"{name}={quote(hostile[:2000])}" for name in QUERY_NAMES)
                        response = await client.get(f"{url}?{query}")
                    else:
                        response = await client.post(url, data={"_csrf_token": token,
                                                                **{name: hostile for name in fields}})
                    if response.status_code >= 500:
                        server_errors.append(f"{method} {url} ({label}) -> {response.status_code}")
    assert server_errors == [], "\n".join(server_errors)


def test_the_field_list_is_read_from_the_templates() -> None:
    names = field_names()
    assert {"title", "requirement", "email"} <= set(names)
    assert Path(PROJECT_ROOT / "templates").is_dir()
