"""The Jinja environment: our templates first, then the NHS.UK frontend macros."""

from __future__ import annotations

from jinja2 import ChainableUndefined, ChoiceLoader, Environment, FileSystemLoader, PackageLoader, select_autoescape

from dps.calendar import describe_period_end
from dps.dates import format_day, format_london, format_moment
from dps.money import format_pence
from dps.settings import PROJECT_ROOT


def _blank_if_none(value: object) -> object:
    """What `{{ value }}` prints: nothing for a missing value, never the word "None" in a page or a form field."""
    return "" if value is None else value


def build_environment(auto_reload: bool = True) -> Environment:
    environment = Environment(
        auto_reload=auto_reload,
        loader=ChoiceLoader([FileSystemLoader(PROJECT_ROOT / "templates"), PackageLoader("nhsuk_frontend_jinja")]),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=ChainableUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_blank_if_none,
    )
    environment.filters["pounds"] = format_pence
    # Dates and times are shown only through these (dps.dates): "31 March 2026", "12pm on 31 March 2026".
    environment.filters["london"] = format_london
    environment.filters["day"] = format_day
    environment.filters["moment"] = format_moment
    environment.filters["period_end"] = describe_period_end  # "midnight at the end of 6 January 2026"
    return environment
