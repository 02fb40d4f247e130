"""The API's documentation, served by the app itself: the reference (Swagger UI built from the npm package, under
the app's own CSP) and a short guide for a first-time consumer."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.response import Redirect, Template

from dps.web.auth import public


class ApiDocsPages(Controller):
    path = "/api"
    guards = [public]
    include_in_schema = False

    @get("/docs", name="api.docs")
    async def reference(self) -> Template:
        return Template("api/docs.html")

    @get("/guide", name="api.guide")
    async def guide(self, request: Request[Any, Any, Any]) -> Template:
        settings = request.app.state.settings
        return Template("api/guide.html", context={
            "base_url": settings.base_url, "anonymous_limit": settings.anonymous_api_rate_limit_per_minute})


class OldSchemaAddress(Controller):
    """The reference used to live at /schema: old links still arrive."""

    guards = [public]
    include_in_schema = False

    @get(["/schema", "/schema/openapi.json"], name="api.old_schema")
    async def moved(self, request: Request[Any, Any, Any]) -> Redirect:
        target = "/api/openapi.json" if request.url.path.endswith(".json") else "/api/docs"
        return Redirect(target, status_code=301)
