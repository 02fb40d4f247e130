"""Fragments drawn by `rendered_once` (the NHS.UK header and footer): each distinct set of values is rendered once and
kept, values are still escaped, and under auto-reload an edited fragment shows at once."""

from __future__ import annotations

from jinja2 import DictLoader, Environment, select_autoescape

from dps.web.templating import RenderedOnce, build_environment

FRAGMENT = "<p>{{ count() }}: {{ name }}</p>"


def environment(auto_reload: bool = False) -> tuple[Environment, list[int]]:
    renders: list[int] = []

    def count() -> int:
        renders.append(1)
        return len(renders)

    env = Environment(loader=DictLoader({"fragment.html": FRAGMENT}), auto_reload=auto_reload,
                      autoescape=select_autoescape(default=True, default_for_string=True))
    env.globals["count"] = count
    return env, renders


def test_each_distinct_set_of_values_is_rendered_once():
    env, renders = environment()
    once = RenderedOnce(env)
    first = once("fragment.html", name="Ann")
    assert once("fragment.html", name="Ann") == first == "<p>1: Ann</p>"
    assert once("fragment.html", name="Bob") == "<p>2: Bob</p>"
    assert len(renders) == 2


def test_values_are_escaped_and_the_result_is_markup():
    env, _ = environment()
    html = RenderedOnce(env)("fragment.html", name="<script>alert(1)</script>")
    assert "&lt;script&gt;" in html and "<script>" not in html
    assert hasattr(html, "__html__")  # not escaped again where the page prints it


def test_the_least_recently_used_values_leave_first():
    env, renders = environment()
    once = RenderedOnce(env, max_entries=2)
    once("fragment.html", name="a")
    once("fragment.html", name="b")
    once("fragment.html", name="a")  # "a" is now the most recently used
    once("fragment.html", name="c")  # "b" leaves
    assert len(renders) == 3
    once("fragment.html", name="a")
    assert len(renders) == 3
    once("fragment.html", name="b")
    assert len(renders) == 4


def test_under_auto_reload_nothing_is_kept():
    env, renders = environment(auto_reload=True)
    once = RenderedOnce(env)
    once("fragment.html", name="Ann")
    once("fragment.html", name="Ann")
    assert len(renders) == 2


def test_the_app_draws_the_header_for_each_user_and_the_same_footer():
    env = build_environment(auto_reload=False)
    once = env.globals["rendered_once"]
    ann = once("partials/header.html", account_items=[{"text": "Ann Example", "icon": True},
                                                      {"href": "/logout", "text": "Sign out"}],
               nav=[{"href": "/catalogue", "text": "Catalogue"}])
    visitor = once("partials/header.html", account_items=[{"href": "/login", "text": "Sign in"}],
                   nav=[{"href": "/catalogue", "text": "Catalogue"}, {"href": "/api-keys/register",
                                                                       "text": "Get an API key"}])
    assert "Ann Example" in ann and "Sign out" in ann and "Sign in" not in ann
    assert "Ann Example" not in visitor and "Sign in" in visitor and "Get an API key" in visitor
    footer = once("partials/footer.html")
    assert "Accessibility statement" in footer and footer is once("partials/footer.html")
