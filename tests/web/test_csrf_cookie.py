"""The CSRF cookie drawn once: the same Set-Cookie header Litestar draws, for any token and configuration, and a
page answered without the cookie still sets it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from litestar.config.csrf import CSRFConfig
from litestar.middleware.csrf import generate_csrf_token

from dps.web.csrf_cookie import CSRFCookieDrawnOnce, csrf_cookie_header


async def _app(scope, receive, send) -> None:  # never called
    raise AssertionError


@given(secure=st.booleans(), httponly=st.booleans(), samesite=st.sampled_from(["lax", "strict", "none"]),
       domain=st.sampled_from([None, "dps.example.nhs.uk"]), secret=st.text(min_size=1, max_size=40))
def test_the_header_is_the_one_litestar_draws(secure, httponly, samesite, domain, secret):
    config = CSRFConfig(secret="s" * 32, cookie_secure=secure, cookie_httponly=httponly, cookie_samesite=samesite,
                        cookie_domain=domain)
    middleware = CSRFCookieDrawnOnce(_app, config)
    token = generate_csrf_token(secret=secret)
    message = {"type": "http.response.start", "status": 200, "headers": []}
    middleware._set_cookie_if_needed(message, token)
    assert message["headers"] == [(b"set-cookie", csrf_cookie_header(config, token).encode("latin-1"))]


async def test_a_first_visit_gets_the_cookie_and_its_form_posts(client):
    page = await client.get("/login")
    assert page.status_code == 200
    assert client.cookies.get("csrftoken")
    assert "csrftoken=" in page.headers["set-cookie"] and "SameSite=lax" in page.headers["set-cookie"]
