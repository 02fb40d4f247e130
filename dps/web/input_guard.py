"""Input every route can trust, checked in one place before a handler runs.

- Int path parameters are ids: one outside 1..MAX_ID names nothing, so the answer is 404 (a larger one would make
  PostgreSQL or SQLite raise instead of finding no row).
- No text reaches a handler with a NUL character (PostgreSQL refuses to store it), in the query string or a form.
- A form field is at most MAX_FIELD_CHARS long, and a one-line field (an `input` in our templates) holds no line
  break (it would be stored, then break every email header that carries it) and is at most ONE_LINE_MAX_CHARS.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from litestar import Request
from litestar.datastructures import FormMultiDict, UploadFile

from dps.errors import NotFound, ValidationFailed
from dps.forms import MAX_ID
from dps.settings import PROJECT_ROOT

MAX_FIELD_CHARS = 100_000  # a 5,000-word bid answer fits with room to spare
ONE_LINE_MAX_CHARS = 500
_MACRO_CALL = re.compile(r"\b(input|textarea|characterCount|radios|checkboxes|select|dateInput|fileUpload)\(\s*\{")
_MACRO_FIELD = re.compile(r'"name":\s*"([A-Za-z0-9_\-]+)"')
_HTML_FIELD = re.compile(r'<(input|textarea)\b[^>]*?\bname="([A-Za-z0-9_\-]+)"[^>]*>', re.DOTALL)
_HTML_TYPE = re.compile(r'\btype="([a-z]+)"')
_TEXT_INPUT_TYPES = {"text", "email", "search", "tel", "url", "password", "number", "hidden"}


class UnacceptableInput(ValidationFailed):
    """A posted value no form of ours can produce: shown as a 400 page with the NHS.UK error summary."""


@cache
def one_line_fields() -> frozenset[str]:
    """The names of the one-line fields in our templates: rendered with the NHS.UK `input` macro or as an
    `<input>`, and never as a textarea or character count anywhere else."""
    one_line: set[str] = set()
    multi_line: set[str] = set()
    for template in (PROJECT_ROOT / "templates").rglob("*.html"):
        text = template.read_text()
        calls = [(match.start(), match.group(1)) for match in _MACRO_CALL.finditer(text)]
        for match in _MACRO_FIELD.finditer(text):
            macro = next((name for start, name in reversed(calls) if start < match.start()), "")
            (one_line if macro == "input" else multi_line if macro in ("textarea", "characterCount") else set()).add(
                match.group(1))
        for match in _HTML_FIELD.finditer(text):
            kind = _HTML_TYPE.search(match.group(0))
            if match.group(1) == "textarea":
                multi_line.add(match.group(2))
            elif kind is None or kind.group(1) in _TEXT_INPUT_TYPES:
                one_line.add(match.group(2))
    return frozenset(one_line - multi_line)


def check_text(name: str, value: str) -> None:
    """Refuse a value no field of ours accepts (see the module's docstring)."""
    label = name.replace("_", " ").replace("-", " ").strip().capitalize() or "A field"
    if "\x00" in value:
        raise UnacceptableInput(f"{label} contains a character that is not allowed (a null character)", field=name)
    if len(value) > MAX_FIELD_CHARS:
        raise UnacceptableInput(f"{label} must be {MAX_FIELD_CHARS:,} characters or fewer", field=name)
    if name in one_line_fields():
        if "\n" in value or "\r" in value:
            raise UnacceptableInput(f"{label} must be on one line", field=name)
        if len(value) > ONE_LINE_MAX_CHARS:
            raise UnacceptableInput(f"{label} must be {ONE_LINE_MAX_CHARS} characters or fewer", field=name)


class CheckedRequest(Request[Any, Any, Any]):
    """The app's request: its form holds only values that passed `check_text` (files are checked by content
    where they are used)."""

    async def form(self) -> FormMultiDict:
        form = await super().form()
        for name, value in form.multi_items():
            check_text(name, name)
            if not isinstance(value, UploadFile):
                check_text(name, str(value))
        return form


async def check_request_input(request: Request[Any, Any, Any]) -> None:
    """Before any handler: bound int path parameters, and refuse NUL characters in the query string. Async
    although it never waits: Litestar runs a synchronous hook in a worker thread, a hop on every request."""
    for value in request.path_params.values():
        if isinstance(value, int) and not 1 <= value <= MAX_ID:
            raise NotFound("Page not found")
    query = request.scope.get("query_string", b"")
    if b"\x00" not in query and b"%00" not in query:  # how a NUL can reach a decoded name or value
        return
    for name, value in request.query_params.multi_items():
        if "\x00" in name or "\x00" in value:
            raise UnacceptableInput("The address contains a character that is not allowed (a null character)",
                                    field=name)
