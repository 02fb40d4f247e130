"""Security headers on every response, and a fresh nonce per request for the one inline script the NHS.UK
page template needs (so the Content-Security-Policy never allows 'unsafe-inline')."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from litestar.types import Scope

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


_CSP = b"content-security-policy"
_API_CSP = (_CSP, API_CONTENT_SECURITY_POLICY.encode("latin-1"))
_PAGE_CSP_BEFORE_NONCE, _PAGE_CSP_AFTER_NONCE = content_security_policy("\0").encode("latin-1").split(b"\0")
# What any response needs, JSON included (OWASP's REST Security Cheat Sheet): no MIME sniffing, no framing.
_EVERY_RESPONSE = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
)
# What only an HTML page can use: a JSON answer links nowhere, opens no window and uses no camera.
_PAGES_ONLY = (
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
_HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


@dataclass(frozen=True)
class SecurityHeaders:
    """The security headers, encoded once: the app's edge (dps.web.edge) appends them to every response it sends,
    404s and static files included."""

    api: tuple[tuple[bytes, bytes], ...]  # all of them, for an /api/v1 answer
    page_fixed: tuple[tuple[bytes, bytes], ...]  # all but the page's CSP, which carries the request's nonce
    names: frozenset[bytes]  # ours replace any of the same name a handler set

    @classmethod
    def served(cls, hsts: bool) -> SecurityHeaders:
        every = (*_EVERY_RESPONSE, _HSTS) if hsts else _EVERY_RESPONSE
        return cls(api=(*every, _API_CSP), page_fixed=(*every, *_PAGES_ONLY),
                   names=frozenset(name for name, _ in (*every, *_PAGES_ONLY, _API_CSP)))

    def page_csp(self, scope: Scope) -> tuple[bytes, bytes]:
        return _CSP, _PAGE_CSP_BEFORE_NONCE + nonce_for(scope).encode("latin-1") + _PAGE_CSP_AFTER_NONCE


def csp_nonce(context: Any) -> str:
    return nonce_for(context["request"].scope)
