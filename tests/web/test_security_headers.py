"""Security headers on every response; the CSP allows no inline script except the one carrying this
response's nonce."""

from __future__ import annotations

import re
from datetime import datetime

from litestar import Response, get
from litestar.testing import AsyncTestClient

from dps.app import create_app
from dps.settings import Settings
from dps.web.auth import public


async def test_pages_carry_security_headers_and_a_nonce_only_csp(client):
    response = await client.get("/")
    csp = response.headers["content-security-policy"]
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
    scripts = re.findall(r"<script([^>]*)>", response.text)
    inline = [attrs for attrs in scripts if "src=" not in attrs]
    assert inline, "the NHS.UK template's inline script is expected"
    assert all(f'nonce="{nonce}"' in attrs for attrs in inline)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert "strict-transport-security" not in response.headers  # plain http in tests

    another = await client.get("/")
    assert re.search(r"'nonce-([^']+)'", another.headers["content-security-policy"]).group(1) != nonce


async def test_errors_json_and_assets_carry_the_headers_too(client, clock):
    for path in ("/no-such-page", "/health", "/assets/nhsuk-frontend.min.css", "/api/v1/no-such-thing",
                 "/api/v1/innovations?page=0"):
        response = await client.get(path)
        assert response.headers["x-content-type-options"] == "nosniff", path
        assert response.headers["x-frame-options"] == "DENY", path
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"], path
        assert datetime.fromisoformat(response.headers["x-received-at"]) == clock.now(), path


async def test_the_open_api_carries_the_headers_that_apply_to_json_only(client):
    """OWASP's REST Security Cheat Sheet: an API answer needs no referrer, permissions or opener policy, which
    only an HTML page can use; every response keeps nosniff and no framing."""
    page, answer = await client.get("/"), await client.get("/api/v1/innovations")
    assert answer.status_code == 200
    for only_for_pages in ("referrer-policy", "permissions-policy", "cross-origin-opener-policy"):
        assert only_for_pages in page.headers
        assert only_for_pages not in answer.headers
    assert answer.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert int(answer.headers["ratelimit-remaining"]) < int(answer.headers["ratelimit-limit"])


@get("/weakened", guards=[public], sync_to_thread=False)
def weakened() -> Response[str]:
    return Response("framed", headers={"X-Frame-Options": "ALLOWALL", "Content-Security-Policy": "default-src *"})


async def test_a_handler_cannot_weaken_a_security_header(app, client):
    app.register(weakened)
    response = await client.get("/weakened")
    assert response.headers.get_list("x-frame-options") == ["DENY"]
    assert len(response.headers.get_list("content-security-policy")) == 1
    assert "default-src *" not in response.headers["content-security-policy"]


async def test_hsts_and_secure_cookies_when_served_over_https(tmp_path, settings):
    https = Settings.from_env({"DPS_ENV": "test", "DATABASE_URL": settings.database_url, "DPS_VAR_DIR": str(tmp_path),
                               "BASE_URL": "https://dps.example.nhs.uk"})
    async with AsyncTestClient(app=create_app(https), base_url="https://testserver.local") as client:
        response = await client.get("/login")
    assert response.headers["strict-transport-security"].startswith("max-age=31536000")
    csrf_cookie = next(v for v in response.headers.get_list("set-cookie") if v.startswith("csrftoken="))
    assert "secure" in csrf_cookie.lower()



async def test_the_open_api_skips_what_only_pages_need(client, db, passwords, clock, monkeypatch):
    """/api/v1 answers JSON to API keys: it reads no session and loads no user (a browser's session cookie is
    ignored there), sets no cookie, and its CSP lets nothing load or run, so it carries no nonce."""
    from dps.web import auth
    from tests.factories import make_supplier_with_user
    from tests.helpers import sign_in

    loads: list[int] = []
    real_load = auth.load_signed_in_user

    async def counted_load(session, user_id):
        loads.append(user_id)
        return await real_load(session, user_id)

    monkeypatch.setattr(auth, "load_signed_in_user", counted_load)
    user = (await make_supplier_with_user(db, passwords, clock))[1]
    await sign_in(client, user.email)
    page = await client.get("/")
    assert "nonce-" in page.headers["content-security-policy"]
    assert loads, "a page loads the signed-in user"

    loads.clear()
    response = await client.get("/api/v1/innovations/1")
    assert response.status_code == 404
    assert loads == []
    assert response.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "set-cookie" not in response.headers
    for answer in (page, response):  # the time each was received, on pages and the API alike
        assert datetime.fromisoformat(answer.headers["x-received-at"]) == clock.now()
