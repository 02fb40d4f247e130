"""Every page each role reaches from the home page, on the demo data (filled records) and on a new account (empty
forms): no "None" where a value is missing, and every form, submitted exactly as its page renders it (hidden fields
included), is never refused with a 403."""

from __future__ import annotations

import re
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import lxml.html

from dps.db import make_engine, make_sessionmaker
from dps.demo import DEMO_PASSWORD, DEMO_USERS
from dps.wiring import seed_demo_data
from tests.factories import make_user
from tests.helpers import PASSWORD, sign_in

MAX_PAGES = 160  # for one person
SAME_SHAPE = 2  # pages of one shape (/buyer/competitions/N/ranking) visited for one person
SKIPPED = re.compile(r"^/(assets|static|schema|api|logout)(/|$)|\.(csv|json|pdf|xml|zip|png|svg)$|/documents/")
NONE_WORD = re.compile(r"\bNone\b")
# A date or time as a machine writes it: 2026-03-31, 2026-03-31T12:00, 14:30 (people read "12pm on 31 March 2026").
MACHINE_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}:\d{2}\b(?!\s*[ap]m)")
MACHINE_DATES_ALLOWED = ("/authority/audit",)  # the audit log keeps exact times to the second
# A rule's code from RULES.md ("C1", "(C2: 10 days)", "A6"): people read plain words. DTAC's own section names
# ("C1 Clinical safety") are what suppliers know them by.
RULE_CODE = re.compile(r"\b[ACR]\d{1,2}\b(?! (Clinical|Data protection|Technical|Interoperability))")


@dataclass(frozen=True)
class FormSeen:
    page: str
    action: str


def _shape(path: str) -> str:
    return re.sub(r"\d+", "N", urlsplit(path).path)


def none_leaks(html: str) -> list[str]:
    """Where a missing value shows as the word "None": a field's value, a text box, or text a person reads."""
    document = lxml.html.document_fromstring(html)
    leaks = [f"field {field.get('name')}" for field in document.xpath("//input[@value='None']")]
    leaks += [f"text box {area.get('name')}" for area in document.xpath("//textarea")
              if (area.text or "").strip() == "None"]
    visible = document.xpath("//body//text()[not(ancestor::script) and not(ancestor::style)"
                             " and not(ancestor::textarea)]")
    leaks += [f"text {text.strip()!r}" for text in visible if NONE_WORD.search(text)]
    return leaks


def rule_codes(html: str, *, hints_allowed: bool) -> list[str]:
    """Rule codes in what a person reads; in the authority's pages a hint may keep one."""
    document = lxml.html.document_fromstring(html)
    query = ("//body//text()[not(ancestor::script) and not(ancestor::style) and not(ancestor::textarea)"
             " and not(ancestor::code)" + (" and not(ancestor::*[contains(@class, 'nhsuk-hint')])]"
                                           if hints_allowed else "]"))
    return [text.strip() for text in document.xpath(query) if RULE_CODE.search(text)]


def machine_dates(html: str) -> list[str]:
    """Dates and times in what a person reads that are written for machines (ISO dates, 24-hour times)."""
    document = lxml.html.document_fromstring(html)
    visible = document.xpath("//body//text()[not(ancestor::script) and not(ancestor::style)"
                             " and not(ancestor::textarea) and not(ancestor::code) and not(ancestor::pre)"
                             " and not(ancestor::kbd)]")
    return [text.strip() for text in visible if MACHINE_DATE.search(text)]


def test_none_leaks_are_found() -> None:
    assert none_leaks('<body><input name="a" value="None"></body>') == ["field a"]
    assert none_leaks('<body><textarea name="b">None</textarea></body>') == ["text box b"]
    assert none_leaks("<body><dd>Trading name</dd><dd>None</dd></body>") == ["text 'None'"]
    assert none_leaks("<body><p>Nonetheless</p><script>let None = 1</script><input value=''></body>") == []
    assert machine_dates("<body><p>Due 2026-03-31</p><p>at 14:30</p><p>12pm on 31 March 2026, 9:15am</p></body>") \
        == ["Due 2026-03-31", "at 14:30"]
    assert rule_codes("<body><p>Invited (C1)</p><p>C2: 10 days</p><p>C1 Clinical safety</p></body>",
                      hints_allowed=False) == ["Invited (C1)", "C2: 10 days"]
    hinted = '<body><div class="nhsuk-hint">Rule A4</div></body>'
    assert rule_codes(hinted, hints_allowed=True) == [] and rule_codes(hinted, hints_allowed=False) == ["Rule A4"]


def _links(base: str, document: Any) -> list[str]:
    found = []
    for href in document.xpath("//a/@href"):
        target = urljoin(base, href.split("#")[0])
        parts = urlsplit(target)
        if parts.netloc not in ("", "testserver.local") or not parts.path.startswith("/"):
            continue
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if not SKIPPED.search(parts.path):
            found.append(path)
    return found


def _post_forms(base: str, document: Any) -> list[tuple[str, Any]]:
    forms = []
    for form in document.forms:
        if (form.method or "GET").upper() == "POST":
            forms.append((urlsplit(urljoin(base, form.action or base)).path, form))
    return forms


async def _crawl(client: Any, start: list[str]) -> tuple[dict[str, list[str]], list[FormSeen]]:
    """The pages reachable from `start` (at most SAME_SHAPE of each shape): what leaks "None" on each, and the forms."""
    queue, seen, shapes = deque(start), set(start), Counter[str]()
    leaks: dict[str, list[str]] = {}
    forms: dict[str, FormSeen] = {}
    visited = 0
    while queue and visited < MAX_PAGES:
        path = queue.popleft()
        if shapes[_shape(path)] >= SAME_SHAPE:
            continue
        shapes[_shape(path)] += 1
        response = await client.get(path, follow_redirects=True)
        visited += 1
        assert response.status_code < 500, (path, response.text[-800:])
        if not response.headers.get("content-type", "").startswith("text/html") or response.status_code >= 400:
            continue
        found = none_leaks(response.text)
        if not path.startswith(MACHINE_DATES_ALLOWED):
            found += [f"machine date {text!r}" for text in machine_dates(response.text)]
        found += [f"rule code {text!r}" for text in rule_codes(response.text,
                                                                hints_allowed=path.startswith("/authority"))]
        if found:
            leaks[path] = found
        document = lxml.html.document_fromstring(response.text)
        for action, _ in _post_forms(path, document):
            forms.setdefault(_shape(action), FormSeen(path, action))
        for link in _links(path, document):
            if link not in seen:
                seen.add(link)
                queue.append(link)
    return leaks, list(forms.values())


async def _submit_as_rendered(client: Any, seen: FormSeen) -> tuple[int, str] | None:
    """Load the form's page again and submit the form as it is now rendered; None if the page no longer has it."""
    page = await client.get(seen.page, follow_redirects=True)
    if page.status_code != 200:
        return None
    for action, form in _post_forms(seen.page, lxml.html.document_fromstring(page.text)):
        if _shape(action) == _shape(seen.action):
            data: dict[str, list[str]] = {}
            for name, value in form.form_values():
                data.setdefault(name, []).append(value)
            response = await client.post(action, data=data)
            return response.status_code, response.text
    return None


async def _sign_in_as(client: Any, email: str | None, password: str) -> None:
    client.cookies.clear()
    if email is not None:
        assert (await sign_in(client, email, password)).status_code == 303, email


async def test_every_page_and_form_of_every_role(client, db, settings, passwords, clock):
    engine = make_engine(settings.database_url)
    try:
        await seed_demo_data(make_sessionmaker(engine), settings, only_if_empty=False)
    finally:
        await engine.dispose()
    newcomer = await make_user(db, passwords, clock, email="new.supplier@example.org")
    people: list[tuple[str | None, str]] = [(None, ""), (newcomer.email, PASSWORD)]
    people += [(email, DEMO_PASSWORD) for _, email, _, _ in DEMO_USERS]

    problems: list[str] = []
    for email, password in people:
        # Each person signs in and posts the sign-in and password forms from one test address: start each
        # person with a fresh sign-in rate limit (the limit itself is tested in tests/web/test_sign_in.py).
        await client.app.stores.get("rate_limit").delete_all()
        await _sign_in_as(client, email, password)
        start = ["/", "/supplier/listings/new"] if email and email.startswith("supplier.") else ["/"]
        leaks, forms = await _crawl(client, start)
        problems += [f"{email}: {path}: {', '.join(found)}" for path, found in leaks.items()]
        assert forms, email  # the crawl did reach some forms
        sign_out = [seen for seen in forms if seen.action == "/logout"]
        for seen in [seen for seen in forms if seen.action != "/logout"] + sign_out:
            if email is not None and (await client.get("/login")).status_code == 200:  # a form ended the session
                await _sign_in_as(client, email, password)
            submitted = await _submit_as_rendered(client, seen)
            if submitted is None:
                continue
            status, text = submitted
            if status == 403:
                problems.append(f"{email}: {seen.page}: the form to {seen.action} was refused (403)")
            elif status in (200, 400) and text.strip() and (found := none_leaks(text)):
                problems.append(f"{email}: {seen.action} answered with {', '.join(found)}")
            assert status < 500, (email, seen, text[-800:])
    assert not problems, "\n".join(problems)
