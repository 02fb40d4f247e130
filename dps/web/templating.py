"""The Jinja environment: our templates first, then the NHS.UK frontend macros."""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

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
from markupsafe import Markup

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


class RenderedOnce:
    """`rendered_once(template_name, **values)` in a template: that template's HTML for these values, rendered the
    first time they are asked for and kept after that (the least recently used dropped beyond `max_entries`). For
    fragments that depend on nothing but the values given and that NHS.UK macros draw on every page: the header (for
    each set of account items and navigation) and the footer, a fifth of a small page's render. The values must be
    JSON (they are the key). Under auto-reload nothing is kept, so an edited fragment shows at once."""

    def __init__(self, environment: Environment, max_entries: int = 1024) -> None:
        self.environment = environment
        self.max_entries = max_entries
        self._rendered: OrderedDict[tuple[str, str], Markup] = OrderedDict()

    def __call__(self, template_name: str, /, **values: Any) -> Markup:
        if self.environment.auto_reload:
            return Markup(self.environment.get_template(template_name).render(**values))
        key = (template_name, json.dumps(values, sort_keys=True))
        rendered = self._rendered.get(key)
        if rendered is None:
            rendered = Markup(self.environment.get_template(template_name).render(**values))
            self._rendered[key] = rendered
            if len(self._rendered) > self.max_entries:
                self._rendered.popitem(last=False)
        else:
            self._rendered.move_to_end(key)
        return rendered


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
    environment.globals["rendered_once"] = RenderedOnce(environment)
    return environment
