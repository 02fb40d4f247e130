"""Compiled templates are shared by the environments of one process, and never outlive an edit of the source."""

from __future__ import annotations

from jinja2 import DictLoader, Environment

from dps.web.templating import CompiledTemplates


def _environment(sources: dict[str, str], compiled: CompiledTemplates) -> Environment:
    return Environment(loader=DictLoader(sources), bytecode_cache=compiled)


def test_a_second_environment_loads_the_template_compiled_by_the_first(monkeypatch) -> None:
    compiled = CompiledTemplates()
    sources = {"page.html": "Hello {{ name }}"}
    assert _environment(sources, compiled).get_template("page.html").render(name="Ann") == "Hello Ann"

    def never_compiled(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the template was compiled again")

    second = _environment(sources, compiled)
    monkeypatch.setattr(second, "compile", never_compiled)
    assert second.get_template("page.html").render(name="Bo") == "Hello Bo"


def test_an_edited_template_is_compiled_afresh() -> None:
    compiled = CompiledTemplates()
    sources = {"page.html": "Hello {{ name }}"}
    assert _environment(sources, compiled).get_template("page.html").render(name="Ann") == "Hello Ann"
    sources["page.html"] = "Goodbye {{ name }}"
    assert _environment(sources, compiled).get_template("page.html").render(name="Ann") == "Goodbye Ann"
