"""On a phone (375 px wide) no page of the journeys scrolls sideways, for anyone: wide tables (ranking, funds,
contracts, the register) are the NHS.UK responsive table, each row stacked with its column headings
(tests/web/test_responsive_tables.py checks the markup); the comparison scrolls inside its own box. Every page
visited passes axe."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import pytest

from dps.db import make_engine, make_sessionmaker
from dps.demo import DEMO_PASSWORD
from dps.wiring import seed_demo_data
from tests.browser.support import check_accessibility, fill_in, submit, visit

PHONE = {"width": 375, "height": 812}
PEOPLE = (None, "supplier.admin@heartflow.example", "buyer@gstt.example.nhs.uk",
          "fund.manager@nelondon.example.nhs.uk", "admin@dps-authority.example.nhs.uk")
MAX_PAGES = 30  # for one person
SKIPPED = re.compile(r"^/(assets|static|schema|api|logout|login|register|health)(/|$)|\.(csv|json|pdf)$|/documents/")

OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


def _shape(path: str) -> str:
    return re.sub(r"\d+", "N", urlsplit(path).path)


async def test_no_page_scrolls_sideways_on_a_phone(live_server, new_page, backend):
    if backend != "sqlite":
        pytest.skip("the pages are the same markup on either database")
    engine = make_engine(live_server.settings.database_url)
    try:
        await seed_demo_data(make_sessionmaker(engine), live_server.settings, only_if_empty=False)
    finally:
        await engine.dispose()

    too_wide: list[str] = []
    for email in PEOPLE:
        page = await new_page(viewport=PHONE)
        if email is not None:
            await visit(page, "/login")
            await fill_in(page, {"Email address": email, "Password": DEMO_PASSWORD})
            await submit(page, "Sign in")
        queue, seen, shapes, visited = ["/"], {"/"}, set(), 0
        while queue and visited < MAX_PAGES:
            path = queue.pop(0)
            if _shape(path) in shapes:
                continue
            shapes.add(_shape(path))
            response = await page.goto(path)
            if response is None or response.status != 200 or "text/html" not in response.headers.get(
                    "content-type", ""):
                continue
            await check_accessibility(page)
            visited += 1
            if (extra := await page.evaluate(OVERFLOW)) > 0:
                too_wide.append(f"{email or 'signed out'}: {path} is {extra}px too wide")
            for href in await page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))"):
                target = urlsplit(urljoin(path, href.split("#")[0]))
                local = target.path + (f"?{target.query}" if target.query else "")
                if target.scheme in ("", "http") and target.netloc in ("", urlsplit(live_server.url).netloc) \
                        and not SKIPPED.search(target.path) and local not in seen:  # not mailto: links
                    seen.add(local)
                    queue.append(local)
        assert visited >= 3, email
    assert not too_wide, "\n".join(too_wide)
