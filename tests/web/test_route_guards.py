"""Every route declares who may use it; a new route without a guard fails here."""

from __future__ import annotations

from litestar import Litestar
from litestar.routes import HTTPRoute

from dps.app import create_app
from dps.settings import Settings
from dps.web.auth import access_rule_of


def all_route_handlers(app: Litestar):
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for handler in route.route_handlers:
                yield route.path, handler


def test_every_route_has_an_explicit_access_rule(tmp_path):
    app = create_app(Settings.from_env({"DPS_ENV": "test", "DPS_VAR_DIR": str(tmp_path)}))
    handlers = list(all_route_handlers(app))
    assert len(handlers) >= 10, "the route table looks empty"
    unguarded = [f"{sorted(handler.http_methods)} {path}" for path, handler in handlers if not access_rule_of(handler)]
    assert unguarded == []


def test_portals_are_guarded_by_role_not_left_public(tmp_path):
    app = create_app(Settings.from_env({"DPS_ENV": "test", "DPS_VAR_DIR": str(tmp_path)}))
    rules = {path: access_rule_of(handler) for path, handler in all_route_handlers(app)}
    assert rules["/supplier"] == ["supplier roles: supplier_admin, supplier_user"]
    assert rules["/buyer"] == ["buyer roles: buyer, evaluator, fund_manager"]
    assert rules["/authority"] == ["authority roles: evaluator, authority_admin"]
    assert rules["/api-keys"] == ["api_consumer roles: api_consumer", "a user whose email address is confirmed"]
