"""The Jinja environment: our templates first, then the NHS.UK frontend macros."""

from __future__ import annotations

from jinja2 import (
    BytecodeCache,
    ChainableUndefined,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    select_autoescape,
)
from jinja2.bccache import Bucket

from dps.calendar import describe_period_end
from dps.dates import format_day, format_london, format_moment
from dps.money import format_pence
from dps.settings import PROJECT_ROOT


def _blank_if_none(value: object) -> object:
    """What `{{ value }}` prints: nothing for a missing value, never the word "None" in a page or a form field."""
    return "" if value is None else value


class CompiledTemplates(BytecodeCache):
    """Compiled templates kept for every environment of this process: an app built again in the same process (each
    test builds its own) loads each template's code instead of compiling the template again, which is most of a first
    render. Jinja checks each entry against the template's source, so an edited template is compiled afresh."""

    def __init__(self) -> None:
        self._compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        compiled = self._compiled.get(bucket.key)
        if compiled is not None:
            bucket.bytecode_from_string(compiled)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._compiled[bucket.key] = bucket.bytecode_to_string()


COMPILED_TEMPLATES = CompiledTemplates()


def build_environment(auto_reload: bool = True) -> Environment:
    environment = Environment(
        auto_reload=auto_reload,
        bytecode_cache=COMPILED_TEMPLATES,
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
