"""A developer's first five minutes, in a real browser, as on `make run` (development: the local mailbox at
/dev/mail): from the guide to the API they follow "Get an API key", register with their organisation and purpose,
confirm their address through the local mailbox, sign in, create a key, go back to the guide, copy its curl example
(which shows how to send the key), run it against the served app with their key, and get the published innovation
back at their key's rate limit; their keys page then counts the request. Every page passes axe."""

from __future__ import annotations

import re
import shlex
from typing import Any

import httpx
import pytest

from dps.mail import saved_emails
from tests.browser.conftest import live_settings
from tests.browser.support import fill_in, follow, submit, visit
from tests.catalogue.support import WEARABLES, published_listing, signed_in_supplier
from tests.helpers import PASSWORD

EMAIL = "ria.reporter@newsroom.example"
LISTING_NAME = "Zio wearable ECG patch"  # tests.catalogue.support's listing: found by the guide's example search


@pytest.fixture
def live_server_settings(settings: Any) -> Any:
    return live_settings(settings, environment="development")


async def run_curl(example: str, secret: str) -> httpx.Response:
    """Run a copied `curl [-H header]... URL` example as a shell would, with DPS_API_KEY set to `secret`."""
    words = shlex.split(example.replace("\\\n", " ").replace("$DPS_API_KEY", secret))
    assert words[0] == "curl", example
    headers: dict[str, str] = {}
    url = None
    rest = iter(words[1:])
    for word in rest:
        if word == "-H":
            name, _, value = next(rest).partition(":")
            headers[name.strip()] = value.strip()
        else:
            url = word
    assert url is not None, example
    async with httpx.AsyncClient() as http:  # the served app runs on this event loop: never block it
        return await http.get(url, headers=headers)


async def test_a_new_api_consumer_gets_a_key_and_runs_the_guides_example(live_server, page, db, passwords, clock):
    # Something to find: a supplier publishes the listing the guide's example searches for.
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        await signed_in_supplier(http, db, passwords, clock, categories=(WEARABLES,))
        await published_listing(http, db)

        async def indexed() -> bool:
            return LISTING_NAME in (await http.get("/api/v1/innovations", params={"q": "wearable ecg"})).text

        await live_server.wait_for(indexed, message="the published listing never reached the search index")

    # The guide leads to "Get an API key".
    await visit(page, "/api/guide")
    await follow(page, "Get an API key")
    assert page.url.endswith("/api-keys/register")
    await fill_in(page, {"Full name": "Ria Reporter", "Email address": EMAIL, "Create a password": PASSWORD,
                         "Confirm your password": PASSWORD, "Organisation": "The Data Desk",
                         "What will you use the API for?": "Reporting on what the NHS buys, and from whom."})
    await submit(page, "Create account")
    assert "Check your email" in await page.locator("h1").inner_text()
    assert "sign in to get your API key" in await page.locator("main").inner_text()

    # The confirmation email, in the local mailbox.
    await live_server.wait_for(lambda: saved_emails(live_server.settings.mailbox_dir, to=EMAIL),
                               message="the confirmation email did not reach the local mailbox")
    await visit(page, f"/dev/mail?to={EMAIL}")
    await follow(page, "Confirm your email address")
    await follow(page, "/verify-email")  # the link in the email
    assert "Email address confirmed" in await page.locator("main").inner_text()
    await follow(page, "Sign in to get your API key")
    await fill_in(page, {"Email address": EMAIL, "Password": PASSWORD})
    await submit(page, "Sign in", exact=True)
    assert page.url.endswith("/api-keys")

    # A key, shown once.
    await fill_in(page, {"Name of the key": "Newsroom notebook"})
    await submit(page, "Create key")
    secret = (await page.locator("#new-api-key").inner_text()).strip()
    assert secret.startswith("dpsk_")

    # Back to the guide: its curl example sends the key, and answers with the innovation at the key's limit.
    await follow(page, "guide to the API")
    example = await page.locator("#curl-example").inner_text()
    assert "Authorization: Bearer $DPS_API_KEY" in example
    answer = await run_curl(example, secret)
    assert answer.status_code == 200, answer.text
    assert LISTING_NAME in [innovation["name"] for innovation in answer.json()["data"]]
    assert answer.headers["RateLimit-Limit"] == "600"  # a key's limit, not the anonymous one
    without_key = await run_curl(re.sub(r'-H "Authorization: [^"]*"', "", example), secret)  # as the guide says
    assert without_key.headers["RateLimit-Limit"] == str(live_server.settings.anonymous_api_rate_limit_per_minute)

    # The keys page counts the request and shows when the key was last used.
    await follow(page, "Your API keys")
    row = page.locator("tr", has_text="Newsroom notebook")
    assert (await row.locator("td").nth(4).text_content() or "").split() == ["Requests", "today", "1"]
    assert "Not used yet" not in await row.inner_text()
