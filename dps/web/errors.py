"""Turns errors into clear pages for people and JSON for API clients, with the right status code."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap

from dps.db import database_unavailable
from dps.errors import DomainError, ValidationFailed
from dps.forms import FormErrors, whole_number
from dps.web.api import api_exception_handler
from dps.web.auth import NEW_SUPPLIER_ORGANISATION_PATH, NoOrganisationYet

logger = logging.getLogger("dps.web")

TITLES = {
    400: "There is a problem with your request",
    401: "Sign in to continue",
    403: "You do not have permission to do this",
    404: "Page not found",
    405: "That action is not allowed here",
    409: "This cannot be done in the current state",
    413: "The file is too large",
    429: "Too many attempts",
    500: "Sorry, there is a problem with the service",
    503: "Sorry, the service is unavailable",
}


def wants_json(request: Request[Any, Any, Any]) -> bool:
    path = request.url.path
    return path.startswith(("/api/", "/webhooks/", "/schema")) or path == "/health"


def _respond(request: Request[Any, Any, Any], status: int, detail: str, *, field: str | None = None,
             headers: dict[str, str] | None = None) -> Response[Any]:
    """A JSON error under the JSON paths, else the error page; a refused field is listed in the NHS.UK error
    summary. `headers` (Retry-After on a 429, Allow on a 405) are kept."""
    if wants_json(request):
        return Response({"status_code": status, "detail": detail}, status_code=status, media_type=MediaType.JSON,
                        headers=headers)
    return Template(
        "error.html",
        context={"title": TITLES.get(status, "Sorry, there is a problem"), "detail": detail, "status": status,
                 "errors": FormErrors({field: detail}) if field else None},
        status_code=status,
        headers=headers,
    )


def _is_api(request: Request[Any, Any, Any]) -> bool:
    """Under /api/ every error is problem JSON, also those raised before any API router is reached (a path that
    matches no route, a method the route does not take)."""
    return request.url.path.startswith("/api/")


def handle_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if _is_api(request):
        return api_exception_handler(request, exc)
    if isinstance(exc, NotAuthorizedException) and not wants_json(request):
        had_session = request.cookies.get("session") not in (None, "null")
        reason = "expired" if had_session else "required"
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return Redirect(f"/login?reason={reason}&next={quote(target, safe='')}", status_code=303)
    if isinstance(exc, NoOrganisationYet) and not wants_json(request):
        return Redirect(NEW_SUPPLIER_ORGANISATION_PATH, status_code=303)
    detail = exc.detail
    if exc.status_code == 403 and "CSRF" in str(detail):
        detail = "Your form could not be checked as coming from this service. Go back, reload the page and try again."
    if exc.status_code == 404 and detail == HTTPStatus.NOT_FOUND.phrase:  # Litestar's own words: no route, no reason
        detail = ("If you typed the web address, check it is correct. If you pasted the web address, check you "
                  "copied the entire address.")
    if exc.status_code == 413:
        detail = ("What you sent is larger than this service accepts. Go back and choose a smaller file: the form says "
                  "how large a file may be.")
    headers = dict(exc.headers or {})
    if exc.status_code == 429:
        detail = "You have tried too many times. Wait a minute and try again."
        # Litestar's rate limit sends RateLimit-Reset (seconds to the window's end) but no Retry-After.
        reset = whole_number(headers.get("RateLimit-Reset"))
        headers.setdefault("Retry-After", str(reset) if reset else "60")
    return _respond(request, exc.status_code, str(detail), headers=headers or None)


def handle_domain_error(request: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    if _is_api(request):
        return api_exception_handler(request, exc)
    field = exc.field if isinstance(exc, ValidationFailed) else None
    return _respond(request, exc.status_code, str(exc), field=field)


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if _is_api(request):
        return api_exception_handler(request, exc)
    if database_unavailable(exc):
        logger.error("database unavailable on %s %s: %s", request.method, request.url.path, exc)
        return _respond(request, 503, "The service cannot reach its database. Try again in a minute.",
                        headers={"Retry-After": "30"})
    logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _respond(request, HTTP_500_INTERNAL_SERVER_ERROR, "Try again later.")


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    HTTPException: handle_http_exception,
    DomainError: handle_domain_error,
    Exception: handle_unexpected,
}
