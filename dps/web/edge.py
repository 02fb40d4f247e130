"""The app's edge: what every request meets first and every response carries last, around the whole of Litestar.

In: the time the request was received is read from the app's clock (dps.web.received), before routing, the session
store, the user's load or any lock can make it wait.

Out: one wrapper of `send` adds, to every response the app sends (404s, errors and static files included), when
its request was received, the security headers (dps.web.security_headers) and, on an /api/v1 answer, where its
caller stands against the rate limit (dps.web.api).

Both are in the app's own `__call__` rather than in a middleware and a before_send hook: a middleware is a layer
each request enters (and Litestar puts an exception layer inside any route that has one), and each hook a coroutine
for each message sent. The open API (/api/v1), which reads no session and takes no form, then has no middleware
at all: `register_open_api` registers it without the app's middlewares (the session, the signed-in user, CSRF),
which only pages need.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.exceptions import NotFoundException
from litestar.types import (
    ControllerRouterHandler,
    LifeSpanReceive,
    LifeSpanScope,
    LifeSpanSend,
    Message,
    Method,
    Receive,
    Scope,
    Send,
)

from dps.clock import Clock
from dps.web.api import rate_limit_headers
from dps.web.received import RECEIVED_AT, RECEIVED_NOW, received_at_header
from dps.web.security_headers import SecurityHeaders, is_api_path


class MarketplaceApp(Litestar):
    """Litestar, with the edge above. `clock` is the app's injectable clock (also `app.state.clock`, for everything
    else that reads it); `hsts` adds Strict-Transport-Security (served over HTTPS)."""

    def __init__(self, *, clock: Clock, hsts: bool, **config: Any) -> None:
        super().__init__(**config)
        self.state.clock = clock
        self._received_clock = clock  # the same clock, without the State lookup on every request
        self.security_headers = SecurityHeaders.served(hsts)

    async def __call__(self, scope: Scope | LifeSpanScope, receive: Receive | LifeSpanReceive,
                       send: Send | LifeSpanSend) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        received = self._received_clock.now()
        scope.setdefault("state", {})[RECEIVED_AT] = received
        RECEIVED_NOW.set(received)
        security = self.security_headers
        http_send: Send = send  # type: ignore[assignment]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                add_response_headers(message, scope, security)
            await http_send(message)

        await super().__call__(scope, receive, send_with_headers)

    def answer_unknown_addresses_at(self, fallback_path: str) -> None:
        """Route a request for an address no route has to the route at `fallback_path`, which answers 404 as a page
        does. Litestar would answer it 404 before any middleware, so the page would not know who is signed in (its
        header would offer "Sign in" to someone who is). A method the address's route does not take is still 405."""
        router = self.asgi_router
        routed = router.handle_routing

        def handle_routing(path: str, method: Method | None) -> Any:  # `routed` keeps the routes it found
            try:
                return routed(path=path, method=method)
            except NotFoundException:
                if method is None:  # a websocket
                    raise
                asgi_app, handler, _, params, template = routed(path=fallback_path, method=method)
                return asgi_app, handler, path, params, template

        router.handle_routing = handle_routing  # type: ignore[assignment]  # Litestar types it as its lru_cache

    def register_open_api(self, value: ControllerRouterHandler) -> None:
        """Register routes of the open API: API keys, never a browser's session, and no form. Litestar builds each
        route's middleware when the route is registered, from the app's list as it is then, so they are registered
        with that list empty. (Were Litestar ever to build them later, the API would have them too: slower, never
        less safe; and the pages always have them.)"""
        page_middleware, self.middleware = self.middleware, []
        try:
            self.register(value)
        finally:
            self.middleware = page_middleware


def add_response_headers(message: Any, scope: Scope, security: SecurityHeaders) -> None:
    """To an http.response.start message. Ours replace any header of the same name a handler set; Litestar encodes
    header names in lower case."""
    headers = message.get("headers")
    if not isinstance(headers, list):
        headers = message["headers"] = list(headers or ())
    for name, _ in headers:
        if name in security.names:
            headers[:] = [(name, value) for name, value in headers if name not in security.names]
            break
    state = scope["state"]
    headers.append(received_at_header(state[RECEIVED_AT]))
    if not is_api_path(scope["path"]):
        headers.extend(security.page_fixed)
        headers.append(security.page_csp(scope))
        return
    headers.extend(security.api)
    limits = rate_limit_headers(state)
    if limits:  # a 429 carries them already
        present = {name for name, _ in headers}
        headers.extend((encoded, value.encode("latin-1")) for name, value in limits.items()
                       if (encoded := name.lower().encode("latin-1")) not in present)
