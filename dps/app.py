"""The application factory: one Litestar app, wired from Settings and an injectable clock."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from litestar import Litestar, MediaType, Response, Router
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import CacheControlHeader
from litestar.middleware import DefineMiddleware
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.static_files import create_static_files_router
from litestar.stores.base import Store
from litestar.stores.file import FileStore
from litestar.stores.memory import MemoryStore
from litestar.template import TemplateConfig
from sqlalchemy.ext.asyncio import AsyncSession

from dps.audit.sealing import AuditSealer
from dps.clock import Clock, SystemClock
from dps.competitions.rules import shown_status
from dps.competitions.services.loading import close_due_competitions
from dps.crypto import SealingKey, install_sealing_key
from dps.identity.passwords import Passwords
from dps.outbox.worker import OutboxWorker
from dps.settings import PROJECT_ROOT, Settings
from dps.web.api_docs import ApiDocsPages, OldSchemaAddress
from dps.web.api_key_state import ApiKeyCache, ApiKeyUsage, key_generation
from dps.web.auth import CurrentUserMiddleware, current_user, public
from dps.web.csrf_cookie import CSRFCookieDrawnOnce
from dps.web.database import DATABASE_DEPENDENCIES, Database, database_of, engine_closed_on_shutdown
from dps.web.deps import DEPENDENCIES
from dps.web.edge import MarketplaceApp
from dps.web.errors import EXCEPTION_HANDLERS
from dps.web.input_guard import CheckedRequest, check_request_input
from dps.web.kept_pages import KEPT_PAGES_BYTES, KeptPages
from dps.web.pages import (
    PAGE_NOT_FOUND_PATH,
    PasswordResetPages,
    PublicPages,
    ServicePages,
    SignInPages,
    SignOutPages,
    UnknownAddresses,
)
from dps.web.rate_limits import ApiRateLimiter
from dps.web.received import RECEIVED_NOW
from dps.web.security_headers import csp_nonce
from dps.web.sessions import RotatingSessionConfig
from dps.web.templating import build_environment
from dps.wiring import (
    HEALTH_CHECKS,
    LIFESPANS,
    development_route_handlers,
    outbox_consumers,
    route_handlers,
    run_daily_jobs,
    subscribe_domain_listeners,
)

STATIC_DIR = PROJECT_ROOT / "static"


RATE_LIMIT_STORES = ("rate_limit", "onboarding_rate_limit")


# The NHS.UK frontend's CSS, JS and images and the app's own: every page asks for them, so a browser keeps them for an
# hour instead of asking again on each page (their addresses carry no version, so not for longer: a release shows
# within the hour).
STATIC_CACHING = CacheControlHeader(public=True, max_age=3600)


def _stores(settings: Settings) -> dict[str, Store]:
    """Sessions and rate-limit counters: shared through Redis when scaled out, else local to the process."""
    if settings.redis_url:
        from litestar.stores.redis import RedisStore  # imports the redis client, which only a scaled-out app uses

        root = RedisStore.with_client(url=settings.redis_url, namespace="dps")
        return {name: root.with_namespace(name) for name in ("sessions", *RATE_LIMIT_STORES)}
    limits: dict[str, Store] = {name: MemoryStore() for name in RATE_LIMIT_STORES}
    if settings.environment == "test":
        return {"sessions": MemoryStore(), **limits}
    # Embedded mode: sessions survive a restart of the one process.
    return {"sessions": FileStore(Path(settings.var_dir) / "sessions"), **limits}


@asynccontextmanager
async def in_process_outbox_worker(app: Litestar) -> AsyncIterator[None]:
    """The embedded default drains the outbox and seals the audit log inside the web process; compose runs
    `dps worker` instead."""
    settings: Settings = app.state.settings
    if settings.outbox_worker != "inprocess":
        yield
        return
    sessions = database_of(app).sessions
    worker = OutboxWorker.for_settings(sessions, outbox_consumers(settings), app.state.clock, settings)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(worker.run(stop)),
             asyncio.create_task(AuditSealer(sessions, app.state.clock).run(stop)),
             asyncio.create_task(run_periodically(
                 stop, lambda: run_daily_jobs(sessions, app.state.clock.now(), settings))),
             # Competitions also close on access; this closes (and tells the buyer about) those nobody opens.
             asyncio.create_task(run_periodically(
                 stop, lambda: close_due_competitions(sessions, app.state.clock.now()), every_seconds=60))]
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*tasks)


@asynccontextmanager
async def api_key_state(app: Litestar) -> AsyncIterator[None]:
    """On the way out: write the API keys' last uses still held in memory, and let go of Redis."""
    try:
        yield
    finally:
        try:
            async with database_of(app).sessions() as session:
                await app.state.api_key_usage.flush(session, app.state.clock.now())
        except Exception:  # stopping must not fail for a convenience
            logging.getLogger("dps.api").exception("could not write the API keys' last use on shutdown")
        await app.state.api_key_cache.close()


@asynccontextmanager
async def long_lived_objects_frozen(app: Litestar) -> AsyncIterator[None]:
    """Last at start-up: what exists now (modules, routes, models, compiled templates, the warmed engine) lives as long
    as the process, so it is moved out of the garbage collector's sight. A full collection then scans only what
    requests made; one over everything took 100 to 160 ms, a pause in whichever request it fell on. Not in tests:
    they build many apps in one process, and a frozen app would never be collected."""
    if app.state.settings.environment != "test":
        gc.collect()
        gc.freeze()
    yield


async def run_periodically(stop: asyncio.Event, job: Any, every_seconds: float = 3600) -> None:
    """Run an idempotent housekeeping job now and then every `every_seconds` until stopped."""
    while not stop.is_set():
        try:
            await job()
        except Exception:  # housekeeping must not take the web process down; it is logged
            logging.getLogger("dps.jobs").exception("periodic job failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every_seconds)


async def html_templates_are_html(response: Response[Any]) -> Response[Any]:
    """A handler that may return a page or a redirect is typed `Any`, which Litestar would send as JSON:
    a rendered .html template is always sent as HTML."""
    if isinstance(response, Template) and (response.template_name or "").endswith(".html"):
        response.media_type = MediaType.HTML
    return response


def _path_of(handler: Any) -> str:
    """The path a router, controller or handler is mounted at (its first, for a handler with several)."""
    path = getattr(handler, "path", None)
    if isinstance(path, str):
        return path
    return next(iter(getattr(handler, "paths", {""})))


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> Litestar:
    settings = settings or Settings.from_env()
    clock = clock or SystemClock()
    subscribe_domain_listeners()
    install_sealing_key(SealingKey(settings.bid_sealing_key))

    database = Database.for_url(settings.database_url)
    templates = TemplateConfig(engine=JinjaTemplateEngine.from_environment(
        build_environment(auto_reload=settings.template_auto_reload)))
    templates.engine_instance.register_template_callable(
        "current_user", lambda context: current_user(context["request"])
    )
    templates.engine_instance.register_template_callable("csp_nonce", csp_nonce)
    # A global, not a context callable, so that macros imported without context can call it too. It judges by
    # the time the request being served was received, not by a clock captured here: a Jinja environment's globals
    # can outlive this app (an environment may serve more than one app in a process), so the last app built would
    # otherwise lend its clock to every other. The app's clock is for a render outside any request.
    templates.engine_instance.engine.globals["competition_status"] = lambda competition: shown_status(
        competition.state, tender_deadline=competition.tender_deadline,
        standstill_ends_at=competition.standstill_ends_at,
        standstill_paused=competition.standstill_paused_at is not None, now=RECEIVED_NOW.get() or clock.now())
    session_config = RotatingSessionConfig(
        secure=settings.secure_cookies, httponly=True, samesite="lax", max_age=8 * 60 * 60)
    csrf_config = CSRFConfig(secret=settings.secret_key, cookie_secure=settings.secure_cookies,
                             cookie_samesite="lax", exclude=["/webhooks/"])
    login_rate_limit = RateLimitConfig(
        rate_limit=("minute", settings.login_rate_limit_per_minute),
        check_throttle_handler=lambda request: request.method == "POST",
    )
    sign_in_router = Router(path="/", route_handlers=[SignInPages, PasswordResetPages],
                            middleware=[login_rate_limit.middleware])

    # The OpenAPI document describes the /api/v1 API only: the app leaves every route out of it (the pages, the
    # webhooks, /health) and the API's router puts its own back. The pages are registered on the app itself, not in
    # a router of their own: Litestar deep-copies a router when it is registered, every page handler with it.
    handlers = route_handlers()
    api = [handler for handler in handlers if _path_of(handler).startswith("/api/")]
    pages = [
        PublicPages,
        ServicePages,
        sign_in_router,
        SignOutPages,
        UnknownAddresses,
        ApiDocsPages,
        OldSchemaAddress,
        *(handler for handler in handlers if handler not in api),
        *(development_route_handlers() if settings.environment == "development" else []),
        create_static_files_router(path="/assets", directories=[STATIC_DIR / "assets"], guards=[public],
                                   include_in_schema=False, name="assets", cache_control=STATIC_CACHING),
        create_static_files_router(path="/static", directories=[STATIC_DIR / "app"], guards=[public],
                                   include_in_schema=False, name="static", cache_control=STATIC_CACHING),
    ]

    app = MarketplaceApp(
        clock=clock,
        hsts=settings.secure_cookies,
        route_handlers=pages,
        include_in_schema=False,
        dependencies={**DATABASE_DEPENDENCIES, **DEPENDENCIES},
        signature_namespace={"AsyncSession": AsyncSession},
        # What only pages need. The open API, registered below, has none of it.
        middleware=[session_config.middleware, CurrentUserMiddleware(),
                    DefineMiddleware(CSRFCookieDrawnOnce, config=csrf_config)],
        stores=_stores(settings),
        template_config=templates,
        openapi_config=OpenAPIConfig(
            title="NHS Innovation DPS API",
            version="1.0.0",
            description="The catalogue of innovations and public award data of the NHS Innovation DPS.",
            path="/api",
            openapi_router=Router(path="/api", route_handlers=[], guards=[public], include_in_schema=False),
            render_plugins=[JsonRenderPlugin()],
            components=Components(security_schemes={"BearerAuth": SecurityScheme(
                type="http", scheme="bearer",
                description="Your API key, sent as `Authorization: Bearer <key>`. Anyone may get keys at "
                            "/api-keys/register; the data is open without one, at a lower rate limit.")}),
        ),
        exception_handlers=EXCEPTION_HANDLERS,
        # Entered in order and left in reverse: the engine is closed last.
        lifespan=[engine_closed_on_shutdown, *LIFESPANS, in_process_outbox_worker, api_key_state,
                  long_lived_objects_frozen],
        after_request=html_templates_are_html,
        before_request=check_request_input,
        request_class=CheckedRequest,
        debug=False,
    )
    app.register_open_api(Router(path="/", include_in_schema=True, route_handlers=api))
    app.answer_unknown_addresses_at(PAGE_NOT_FOUND_PATH)
    app.state.settings = settings
    app.state.passwords = Passwords.for_environment(settings.environment)
    app.state.database = database
    app.state.api_rate_limiter = ApiRateLimiter(settings.redis_url)
    app.state.api_key_cache = ApiKeyCache(key_generation(settings.redis_url))
    app.state.api_key_usage = ApiKeyUsage(app.state.api_rate_limiter.storage)
    app.state.health_checks = HEALTH_CHECKS
    # A template edited under auto-reload must show at once, so nothing is kept then.
    app.state.kept_pages = KeptPages(0 if settings.template_auto_reload else KEPT_PAGES_BYTES)
    app.state.healthy_dependencies = {}  # dps.web.health.remembered_if_ok: until when a healthy answer is kept
    return app
