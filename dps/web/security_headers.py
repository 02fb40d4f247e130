"""Security headers on every response, and a fresh nonce per request for the one inline script the NHS.UK
page template needs (so the Content-Security-Policy never allows 'unsafe-inline')."""

from __future__ import annotations

import secrets
from typing import Any

from litestar.types import Message, Scope

NONCE_KEY = "dps_csp_nonce"


# The open API (/api/v1) answers JSON only: nothing in it may load or run anything, so it needs no nonce.
API_PREFIX = "/api/v1/"
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


# Encoded once: the hook runs for every response, so it appends ready-made header pairs.
_CSP = b"content-security-policy"
_API_CSP = (_CSP, API_CONTENT_SECURITY_POLICY.encode("latin-1"))
_PAGE_CSP_BEFORE_NONCE, _PAGE_CSP_AFTER_NONCE = content_security_policy("\0").encode("latin-1").split(b"\0")
_FIXED_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"x-frame-options", b"DENY"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
_HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


def security_headers_hook(hsts: bool) -> Any:
    """A before_send hook: it runs for every response the app sends, 404s and static files included. Its headers
    replace any of the same name a handler set."""
    fixed = (*_FIXED_HEADERS, _HSTS) if hsts else _FIXED_HEADERS
    ours = frozenset(name for name, _ in fixed) | {_CSP}

    async def add_headers(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        headers = message.get("headers")
        if not isinstance(headers, list):
            headers = message["headers"] = list(headers or ())
        if any(name.lower() in ours for name, _ in headers):
            headers[:] = [(name, value) for name, value in headers if name.lower() not in ours]
        headers.extend(fixed)
        if is_api_path(scope.get("path", "")):
            headers.append(_API_CSP)
        else:
            headers.append((_CSP, _PAGE_CSP_BEFORE_NONCE + nonce_for(scope).encode("latin-1") + _PAGE_CSP_AFTER_NONCE))

    return add_headers


def csp_nonce(context: Any) -> str:
    return nonce_for(context["request"].scope)
