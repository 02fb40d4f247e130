"""What every JSON API under /api shares: problem JSON errors (RFC 9457), the API-key guard with its per-key
rate limit, the OpenAPI helpers for error responses, and strict query-parameter checking.

The catalogue's search API and the open contracting data API both use it, so a consumer meets one set of rules.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.handlers import BaseRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.plugins.problem_details import ProblemDetailsException
from litestar.types import ExceptionHandlersMap

from dps.api_keys import services as api_key_services
from dps.api_keys.rules import usage_day
from dps.db import database_unavailable
from dps.errors import DomainError
from dps.web.api_key_state import ApiKeyCache, ApiKeyUsage, CachedKey
from dps.web.auth import GUARD_MARK
from dps.web.database import database_of
from dps.web.rate_limits import RateLimitState

logger = logging.getLogger("dps.api")

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPES = "/api/v1/problems/"
RATE_LIMIT_STATE = "dps_api_rate_limit"


# --- problem JSON -----------------------------------------------------------------------------------------


class ApiProblem(ProblemDetailsException):
    """An error answered as problem JSON (Litestar's RFC 9457 problem details): `type` is a URI under
    /api/v1/problems/ named by `kind`, `instance` the path asked for, and `invalid_params` (the query parameters at
    fault, each with its reason) is added when a `parameter` is named or `invalid_params` given."""

    def __init__(self, status_code: int, title: str, detail: str, kind: str, *, parameter: str | None = None,
                 headers: dict[str, str] | None = None,
                 invalid_params: list[dict[str, str]] | None = None) -> None:
        if parameter and invalid_params is None:
            invalid_params = [{"name": parameter, "reason": detail}]
        super().__init__(detail=detail, status_code=status_code, headers=headers, type_=PROBLEM_TYPES + kind,
                         title=title, extra={"invalid_params": invalid_params} if invalid_params else None)
        self.kind, self.parameter = kind, parameter

    def to_response(self, request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
        if self.instance is None:
            self.instance = request.url.path
        return super().to_response(request)


def bad_parameter(name: str, detail: str) -> ApiProblem:
    return ApiProblem(400, "Invalid query parameter", f"{name}: {detail}", "invalid-parameter", parameter=name)


def as_problem(request: Request[Any, Any, Any], exc: Exception) -> ApiProblem:
    """Any exception raised under /api, as the problem it is answered with (an unexpected one is logged)."""
    if isinstance(exc, ApiProblem):
        return exc
    if isinstance(exc, ValidationException):
        extra = exc.extra if isinstance(exc.extra, list) else []
        parameters = [{"name": str(item.get("key")), "reason": str(item.get("message"))}
                      for item in extra if isinstance(item, dict) and item.get("key")]
        detail = "; ".join(f"{p['name']}: {p['reason']}" for p in parameters) or str(exc.detail)
        return ApiProblem(400, "Invalid query parameter", detail, "invalid-parameter", invalid_params=parameters)
    if isinstance(exc, NotFoundException):
        return ApiProblem(404, "Not found", str(exc.detail), "not-found")
    if isinstance(exc, HTTPException):
        return ApiProblem(exc.status_code, "Request refused", str(exc.detail), "http-error", headers=exc.headers)
    if isinstance(exc, DomainError):
        return ApiProblem(exc.status_code, "Request refused", str(exc),
                          "not-found" if exc.status_code == 404 else "refused")
    if database_unavailable(exc):
        logger.error("database unavailable on %s %s: %s", request.method, request.url.path, exc)
        return ApiProblem(503, "Service unavailable", "The service cannot reach its database. Try again in a minute.",
                          "unavailable", headers={"Retry-After": "30"})
    logger.exception("unhandled API error on %s %s", request.method, request.url.path, exc_info=exc)
    return ApiProblem(500, "Internal error", "Something went wrong on our side. Try again later.", "internal-error")


def api_exception_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    return as_problem(request, exc).to_response(request)


API_EXCEPTION_HANDLERS: ExceptionHandlersMap = {Exception: api_exception_handler,
                                                       HTTPException: api_exception_handler,
                                                       DomainError: api_exception_handler}


# --- API keys: the guard and the per-key rate limit ------------------------------------------------------


def _unauthorised(detail: str) -> ApiProblem:
    return ApiProblem(401, "Unauthorised", detail, "unauthorised",
                      headers={"WWW-Authenticate": 'Bearer realm="NHS Innovation DPS API"'})


async def _known_key(connection: ASGIConnection[Any, Any, Any, Any], secret: str, now: datetime) -> CachedKey | None:
    """The key, from this app's cache while the key generation stands still (dps.web.api_key_state), else from the
    database; None if it is unknown or revoked."""
    cache: ApiKeyCache = connection.app.state.api_key_cache
    key_hash = api_key_services.hash_api_key(secret)
    found = await cache.lookup(key_hash, now)
    if found.key is not None:
        return found.key

    async def read() -> CachedKey | None:
        # A read: on SQLite it must not take the write lock (every writing transaction begins IMMEDIATE), or
        # requests whose key is read at the same moment queue behind each other in SQLite's busy wait.
        async with database_of(connection.app).reading_sessions() as session:
            key = await api_key_services.active_api_key(session, secret)
        return CachedKey(key.id or 0, key.rate_limit_per_minute, now) if key is not None else None

    return await cache.read_once(key_hash, found.generation, read)


async def _record_use(connection: ASGIConnection[Any, Any, Any, Any], key_id: int, now: datetime) -> None:
    """Count the request towards the key's day and note its last use; write the last uses now and then."""
    usage: ApiKeyUsage = connection.app.state.api_key_usage
    await usage.record(key_id, usage_day(now), now)
    if usage.flush_due(now):
        try:
            async with database_of(connection.app).sessions() as session:
                await usage.flush(session, now)
        except Exception:  # the last use is a convenience: never refuse a request for it
            logger.exception("could not write the API keys' last use")


async def keys_changed(state: Any) -> None:
    """Call after committing a key's revocation, rotation or new rate limit: every app process drops its cached keys
    before the next request, so the change holds at once everywhere."""
    await state.api_key_cache.keys_changed()


def _bearer_secret(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The key sent as `Authorization: Bearer <key>`; None when no Authorization header is sent at all."""
    header = connection.headers.get("authorization")
    if header is None:
        return None
    scheme, _sep, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise _unauthorised("Send your API key as: Authorization: Bearer <key>")
    return secret.strip()


async def _count_request(connection: ASGIConnection[Any, Any, Any, Any], who: str, per_minute: int,
                         refusal: str) -> None:
    state = await connection.app.state.api_rate_limiter.hit(who, per_minute, connection.app.state.clock.now())
    connection.scope["state"][RATE_LIMIT_STATE] = state
    if not state.allowed:
        raise ApiProblem(429, "Too many requests", f"{refusal}; try again in {state.reset_seconds} seconds",
                         "rate-limited", headers=state.headers())


async def _key_of(connection: ASGIConnection[Any, Any, Any, Any], secret: str) -> CachedKey:
    now = connection.app.state.clock.now()
    key = await _known_key(connection, secret, now)
    if key is None:
        raise _unauthorised("The API key is not recognised or has been revoked")
    connection.scope["api_key_id"] = key.key_id  # type: ignore[typeddict-unknown-key]
    await _record_use(connection, key.key_id, now)
    return key


async def _api_key_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    secret = _bearer_secret(connection)
    if secret is None:
        raise _unauthorised("Send your API key as: Authorization: Bearer <key>")
    key = await _key_of(connection, secret)
    await _count_request(connection, f"key:{key.key_id}", key.rate_limit_per_minute,
                         f"This key may make {key.rate_limit_per_minute} requests a minute")


async def _open_data_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Open data is for everyone: without a key, a lower limit per client address; a key raises it. A key that is
    sent must be a good one (401 otherwise), so a consumer finds out at once that theirs was revoked."""
    secret = _bearer_secret(connection)
    if secret is not None:
        key = await _key_of(connection, secret)
        await _count_request(connection, f"key:{key.key_id}", key.rate_limit_per_minute,
                             f"This key may make {key.rate_limit_per_minute} requests a minute")
        return
    limit = connection.app.state.settings.anonymous_api_rate_limit_per_minute
    address = connection.client.host if connection.client else "unknown"
    await _count_request(connection, f"address:{address}", limit,
                         f"Without an API key, {limit} requests a minute are answered for each address; "
                         "a key raises the limit")


def rate_limit_headers(scope_state: Mapping[str, Any]) -> dict[str, str] | None:
    """Where the caller of an API answer stands (RateLimit-Limit, -Remaining, -Reset and -Policy), once a guard has
    counted the request: every API answer, errors included, says it (dps.web.edge adds them)."""
    state: RateLimitState | None = scope_state.get(RATE_LIMIT_STATE)
    return state.headers() if state is not None else None


setattr(_api_key_guard, GUARD_MARK, "API key (Authorization: Bearer)")
setattr(_open_data_guard, GUARD_MARK, "open data: anyone, a key raises the rate limit")
api_key_required = _api_key_guard
open_data = _open_data_guard


# --- the OpenAPI document's error responses ----------------------------------------------------------


class Problem(msgspec.Struct):
    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    invalid_params: list[dict[str, str]] | None = None


def problem_spec(status: int, description: str, kind: str, detail: str,
                 instance: str = "/api/v1/innovations") -> ResponseSpec:
    """An error response in the OpenAPI document: problem JSON (RFC 9457) with one example."""
    return ResponseSpec(data_container=Problem, description=description, media_type=PROBLEM_JSON,
                        generate_examples=False,
                        examples=[Example(summary=description, value={
                            "type": PROBLEM_TYPES + kind, "title": description, "status": status, "detail": detail,
                            "instance": instance})])


COMMON_RESPONSES: dict[int, ResponseSpec] = {
    401: problem_spec(401, "Unauthorised", "unauthorised", "The API key is not recognised or has been revoked"),
    429: problem_spec(429, "Too many requests", "rate-limited",
                       "This key may make 600 requests a minute; try again in 12 seconds"),
}


# --- query parameters --------------------------------------------------------------------------------------


def reject_unknown_parameters(request: Request[Any, Any, Any], allowed: frozenset[str]) -> None:
    for name in request.query_params:
        if name not in allowed:
            raise bad_parameter(name, f"unknown parameter; use {', '.join(sorted(allowed))}" if allowed
                                else "unknown parameter; this operation takes no query parameters")


def checked_values(name: str, values: list[str] | None, *, allowed: frozenset[str] | None = None,
                   pattern: re.Pattern[str] | None = None, normalise: Any = None) -> tuple[str, ...]:
    cleaned: list[str] = []
    for raw in values or []:
        value = normalise(raw.strip()) if normalise else raw.strip()
        if (allowed is not None and value not in allowed) or (pattern is not None and not pattern.match(value)):
            expected = ", ".join(sorted(allowed)) if allowed is not None else "a value like " + (
                "QMF" if name == "icb" else "virtual-wards")
            raise bad_parameter(name, f"{raw!r} is not a valid value; expected {expected}")
        if value not in cleaned:
            cleaned.append(value)
    return tuple(cleaned)
