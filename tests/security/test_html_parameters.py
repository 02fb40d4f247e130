"""Text a person wrote never reaches an NHS.UK macro's `html` parameter unescaped.

Read from the templates, so a new `"html":` is checked the day it is written: every value put into the HTML is a
literal, escaped (`| e`), formatted by one of our filters that returns plain dates, times or money, or a name listed
below as holding no user-written text (numbers, settings, our own macros).
"""

from __future__ import annotations

import re

from dps.settings import PROJECT_ROOT

SAFE_FILTERS = ("e", "escape", "london", "day", "moment", "pounds", "period_end", "london_date")
# Values that hold no user-written text: ids and revision numbers, a setting, our own status tag macro.
NO_USER_TEXT = {"c.id", "bid.revision", "ocid_prefix", "state_tag"}
KEYWORDS = {"if", "else", "not", "and", "or", "in", "is", "none", "None", "true", "false", "defined", "undefined"}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_NAME = re.compile(r"[A-Za-z_][\w.]*")


def html_expressions() -> list[tuple[str, str]]:
    """(template, expression) for every `"html": <expression>` in the templates. A name set with a
    `{% set name %}...{% endset %}` block is rendered markup, escaped as it was rendered: it stands as a literal."""
    found = []
    for template in (PROJECT_ROOT / "templates").rglob("*.html"):
        text = template.read_text()
        for block in re.findall(r"{%-?\s*set\s+(\w+)\s*-?%}", text):
            text = re.sub(rf'("html":\s*){block}\b', r'\1""', text)
        for match in re.finditer(r'"html":\s*', text):
            depth, position = 0, match.end()
            while position < len(text):
                char = text[position]
                string = _STRING.match(text, position)
                if string:
                    position = string.end()
                    continue
                if char in "({[":
                    depth += 1
                elif char in ")}]":
                    if depth == 0:
                        break
                    depth -= 1
                elif char == "," and depth == 0:
                    break
                position += 1
            found.append((str(template.relative_to(PROJECT_ROOT)), text[match.end():position]))
    return found


def unescaped_values(expression: str) -> list[str]:
    """The names whose value goes into the HTML without passing a safe filter."""
    code = _STRING.sub('""', expression)
    code = re.sub(r"\bif\b.*?\belse\b", " else ", code)  # a condition decides; it is not shown
    code = re.sub(r"\(([^()]*)\)\s*\|\s*(e|escape)\b", '""', code)  # a group escaped as a whole
    code = re.sub(r"\b(" + "|".join(sorted(NO_USER_TEXT)) + r")\([^()]*\)", '""', code)  # our macros' arguments
    problems = []
    for match in _NAME.finditer(code):
        name = match.group(0)
        before = code[:match.start()].rstrip()
        if name in KEYWORDS or name in NO_USER_TEXT or before.endswith("|"):
            continue
        after = code[match.end():]
        after = re.sub(r"^\([^()]*\)", "", after)  # a call's arguments
        filters = re.findall(r"^\s*\|\s*([A-Za-z_]+)", after)
        if filters and filters[0] in SAFE_FILTERS:
            continue
        problems.append(name)
    return problems


def test_every_value_in_an_html_parameter_is_escaped_or_known_safe():
    expressions = html_expressions()
    assert len(expressions) >= 5  # the reader finds them
    unsafe = [f"{template}: {name}" for template, expression in expressions
              for name in unescaped_values(expression)]
    assert unsafe == [], "escape these with | e before they go into html:\n" + "\n".join(unsafe)


def test_the_checker_finds_an_unescaped_value():
    assert unescaped_values('"Reason: " ~ application.extension_reason ~ "."') == ["application.extension_reason"]
    assert unescaped_values('"Reason: " ~ (application.extension_reason | e)') == []
    assert unescaped_values('("x" ~ (c.at | london("%d")) if c.at else "none")') == []
