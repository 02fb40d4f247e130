"""Plain-text email bodies, from templates/emails/*.txt (no HTML escaping: these are not web pages)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from dps.settings import PROJECT_ROOT


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(PROJECT_ROOT / "templates" / "emails"),
        autoescape=False,  # plain text: an organisation called "Smith & Jones" must read as typed
        undefined=StrictUndefined,  # a missing value is a bug, not a blank in someone's inbox
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_email(template_name: str, **context: Any) -> str:
    return _environment().get_template(template_name).render(**context)
