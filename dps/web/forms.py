"""Small helpers for server-rendered forms: read a posted form, answer a refused command with its errors
(a dps.forms.FormErrors, which the layout renders as the NHS.UK error summary)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request
from litestar.response import Redirect
from sqlalchemy.ext.asyncio import AsyncSession

from dps.errors import ValidationFailed
from dps.forms import FormErrors


async def read_form(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The posted fields as plain strings (CSRF token removed); multi-valued fields keep their last value."""
    form = await request.form()
    return {key: str(value) for key, value in form.items() if key != "_csrf_token"}


async def run_form_command(request: Request[Any, Any, Any], db_session: AsyncSession,
                           command: Callable[[dict[str, str]], Awaitable[Any]], *,
                           on_error: Callable[[FormErrors, dict[str, str]], Awaitable[Any]], redirect: str,
                           default_field: str = "form") -> Any:
    """Post/redirect/get for one command: run it with the posted form and redirect (303); when it is refused,
    roll back and answer `on_error(errors, form)` so the page shows the message and keeps what was typed."""
    form = await read_form(request)
    try:
        await command(form)
    except ValidationFailed as error:
        await db_session.rollback()
        return await on_error(FormErrors.from_error(error, default_field), form)
    return Redirect(redirect, status_code=303)


def path_for(request: Request[Any, Any, Any], name: str, **params: Any) -> str:
    """The path of one of our named routes, e.g. `path_for(request, "supplier.listings.show", listing_id=3)`."""
    return request.app.route_reverse(name, **params)


def redirect_to(request: Request[Any, Any, Any], name: str, after: str = "", /, **params: Any) -> Redirect:
    """See other (303) to a named route; `after` is a query string or fragment to append ("?saved=1", "#notes")."""
    return Redirect(path_for(request, name, **params) + after, status_code=303)


def safe_next_path(raw: str | None, default: str) -> str:
    """Only follow local paths after sign-in: never an open redirect to another site."""
    if raw and raw.startswith("/") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return default
