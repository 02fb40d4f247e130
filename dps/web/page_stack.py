"""What only pages need, in one middleware the open API passes by: the session, the signed-in user and CSRF.

The open API (/api/v1) is for API keys, never for a browser: it reads no session, has no user and takes no form.
Each of these middlewares could skip it by its own `exclude` pattern, but each would still be a layer that every
API request enters and matches a pattern in. Composed here, an API request pays one prefix check for all of them,
and a page request runs them in the same order as before: session, user, then CSRF next to the handler.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from litestar.types import ASGIApp, Receive, Scope, Send

from dps.web.security_headers import is_api_path

MiddlewareFactory = Callable[[ASGIApp], ASGIApp]


def pages_only(middlewares: Sequence[MiddlewareFactory]) -> MiddlewareFactory:
    """A middleware (for Litestar's `middleware=`) that runs `middlewares`, outermost first, around every route
    but the open API's."""

    def build(app: ASGIApp) -> ASGIApp:
        page_app = app
        for middleware in reversed(middlewares):
            page_app = middleware(page_app)

        async def by_path(scope: Scope, receive: Receive, send: Send) -> None:
            if is_api_path(scope["path"]):
                await app(scope, receive, send)
            else:
                await page_app(scope, receive, send)

        return by_path

    return build
