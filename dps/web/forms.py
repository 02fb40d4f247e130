"""Small helpers for server-rendered forms: read a posted form, collect errors for the NHS.UK error summary."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from litestar import Request
from litestar.response import Redirect
from sqlalchemy.ext.asyncio import AsyncSession

from dps.errors import ValidationFailed


async def read_form(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The posted fields as plain strings (CSRF token removed); multi-valued fields keep their last value."""
    form = await request.form()
    return {key: str(value) for key, value in form.items() if key != "_csrf_token"}


@dataclass
class FormErrors:
    """Field -> message, in the order found; renders as the error summary plus one message per field."""

    messages: dict[str, str] = field(default_factory=dict)

    def add(self, field_name: str, message: str) -> None:
        self.messages.setdefault(field_name, message)

    def __bool__(self) -> bool:
        return bool(self.messages)

    def summary(self) -> list[dict[str, str]]:
        return [{"text": message, "href": f"#{name}"} for name, message in self.messages.items()]

    def get(self, field_name: str) -> dict[str, str] | None:
        message = self.messages.get(field_name)
        return {"text": message} if message else None


def errors_from(error: ValidationFailed, default_field: str = "form", prefix: str = "") -> FormErrors:
    """The error summary for one refused command: its message against its field (or the form's default)."""
    errors = FormErrors()
    errors.add(prefix + (error.field or default_field), str(error))
    return errors


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
        return await on_error(errors_from(error, default_field), form)
    return Redirect(redirect, status_code=303)


def safe_next_path(raw: str | None, default: str) -> str:
    """Only follow local paths after sign-in: never an open redirect to another site."""
    if raw and raw.startswith("/") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return default
