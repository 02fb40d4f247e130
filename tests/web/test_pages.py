"""The public pages: NHS.UK layout, links to every part of the service, escaping, health and OpenAPI."""

from __future__ import annotations

import re

from tests.factories import make_user
from tests.helpers import csrf_token, sign_in


async def test_landing_page_uses_the_nhsuk_layout_and_links_every_part(client):
    response = await client.get("/")
    assert response.status_code == 200
    html = response.text
    assert 'class="nhsuk-skip-link"' in html and 'href="#maincontent"' in html
    assert 'class="nhsuk-header' in html and 'class="nhsuk-footer' in html
    assert '<link rel="stylesheet" href="/assets/nhsuk-frontend.min.css">' in html
    for target in ("/supplier", "/buyer", "/catalogue", "/api/docs"):
        assert f'href="{target}"' in html, target
    assert re.search(r"<h1[^>]*>Buy and supply health innovation</h1>", html)


async def test_the_built_nhsuk_assets_are_served(client):
    css = await client.get("/assets/nhsuk-frontend.min.css")
    assert css.status_code == 200
    assert ".nhsuk-header" in css.text
    assert (await client.get("/assets/images/favicon.svg")).status_code == 200
    app_js = await client.get("/static/app.js")
    assert app_js.status_code == 200
    for asset in (css, app_js):  # kept by the browser between pages, not asked for again on each
        assert set(asset.headers["cache-control"].split(", ")) == {"public", "max-age=3600"}


async def test_user_input_is_escaped_in_pages(client):
    response = await client.get('/login?next="><script>alert(1)</script>')
    assert response.status_code == 200
    assert "<script>alert(1)</script>" not in response.text
    assert "&lt;script&gt;" in response.text or "&#34;&gt;&lt;script&gt;" in response.text


async def test_the_catalogue_lists_both_agreements_and_their_categories(client):
    html = (await client.get("/catalogue")).text
    assert "Medical Technology Innovation DPS" in html
    assert "Digital Health Innovation Dynamic Market" in html
    for category in ("Virtual wards and remote monitoring", "AI diagnostics and decision support",
                     "Logistics: drones and delivery", "Digital mental health"):
        assert category in html


async def test_unknown_pages_get_a_clear_404(client):
    response = await client.get("/no-such-page")
    assert response.status_code == 404
    assert "Page not found" in response.text
    assert "If you typed the web address, check it is correct." in response.text
    assert "Sign in" in response.text


async def test_an_unknown_address_still_knows_who_is_signed_in(client, db, passwords, clock):
    user = await make_user(db, passwords, clock, full_name="Priya Shah")
    assert (await sign_in(client, user.email)).status_code == 303
    for path in ("/no-such-page", "/catalogue/innovations/1/no-such-part", "/buyer/nothing/here"):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert "Page not found" in response.text and "Priya Shah" in response.text and "Sign out" in response.text


async def test_any_method_to_an_unknown_address_is_not_found_and_a_known_one_keeps_its_methods(client):
    for method in ("POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"):
        response = await client.request(method, "/no-such-page")  # no CSRF token: nothing is done, so not refused
        assert response.status_code == 404, method
    assert (await client.request("DELETE", "/accessibility")).status_code == 405  # the page exists, not for DELETE
    refused = await client.post("/login", data={"email": "a@example.org", "password": "x"})  # a real form
    assert refused.status_code == 403  # still needs its CSRF token
    api = await client.get("/api/v1/no-such-thing")
    assert api.status_code == 404 and api.headers["content-type"].startswith("application/problem+json")
    assert "set-cookie" not in api.headers
    assert (await client.get("/static/no-such-file.css")).status_code == 404


async def test_openapi_schema_is_published_and_describes_the_api_only(client):
    response = await client.get("/api/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["info"]["title"] == "NHS Innovation DPS API"
    assert document["paths"] and all(path.startswith("/api/v1/") for path in document["paths"]), sorted(
        document["paths"])


async def test_the_api_reference_and_guide_are_served_by_the_app_under_its_own_policy(client):
    reference = await client.get("/api/docs")
    assert reference.status_code == 200
    assert 'src="/assets/swagger-ui/swagger-ui-bundle.js"' in reference.text
    assert "unsafe-inline" not in reference.headers["content-security-policy"]
    assert "cdn" not in reference.headers["content-security-policy"]
    guide = await client.get("/api/guide")
    assert guide.status_code == 200
    for heading in ("Without a key, and with one", "Your first request", "Paging", "changes feed", "Rate limits",
                    "OCDS bulk files", "Licence"):
        assert heading in guide.text
    assert (await client.get("/schema")).headers["location"] == "/api/docs"


async def test_forms_carry_a_csrf_token(client):
    token = await csrf_token(client)
    page = await client.get("/login")
    assert f'name="_csrf_token" value="{token}"' in page.text


async def test_every_page_is_sent_as_html(client):
    for path in ("/", "/login", "/catalogue"):
        response = await client.get(path)
        assert response.headers["content-type"].startswith("text/html"), path
    token = client.cookies.get("csrftoken")
    failed = await client.post("/login", data={"email": "", "password": "", "_csrf_token": token})
    assert failed.headers["content-type"].startswith("text/html")
