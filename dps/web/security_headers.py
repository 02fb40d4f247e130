"""Security headers on every response, and a fresh nonce per request for the one inline script the NHS.UK
page template needs (so the Content-Security-Policy never allows 'unsafe-inline')."""

from __future__ import annotations

import secrets
from typing import Any

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

NONCE_KEY = "dps_csp_nonce"


# The open API (/api/v1) answers JSON only: nothing in it may load or run anything, so it needs no nonce.
API_PREFIX = "/api/v1/"
API_PATH_PATTERN = "^" + API_PREFIX  # for Litestar's `exclude` options: what only pages need skips the API
API_CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'"


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIX)


def content_security_policy(nonce: str) -> str:
    return ("default-src 'self'; "
            f"script-src 'self' 'nonce-{nonce}'; "
            "style-src 'self'; "
            "img-src 'self' data:; "
            "font-src 'self' https://assets.nhs.uk; "  # the NHS.UK stylesheet's Frutiger web font
            "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")


def nonce_for(scope: Scope) -> str:
    """This request's CSP nonce, made on first use (a page render) and reused for the response header."""
    state = scope.setdefault("state", {})
    if NONCE_KEY not in state:
        state[NONCE_KEY] = secrets.token_urlsafe(18)
    return str(state[NONCE_KEY])


def security_headers_hook(hsts: bool) -> Any:
    """A before_send hook: it runs for every response the app sends, 404s and static files included."""

    async def add_headers(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        headers = MutableScopeHeaders.from_message(message)
        path = scope.get("path", "")
        headers["Content-Security-Policy"] = (API_CONTENT_SECURITY_POLICY if is_api_path(path)
                                              else content_security_policy(nonce_for(scope)))
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
        headers["X-Frame-Options"] = "DENY"
        headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        if hsts:
            headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"

    return add_headers


def csp_nonce(context: Any) -> str:
    return nonce_for(context["request"].scope)
