"""The open data publication policy page: public, linked from the footer, the API guide and the contracts register,
and naming what the OCDS data registry lists (publisher, the OCID prefix in use, licence, update frequency, the bulk
files' address)."""

from __future__ import annotations

from dataclasses import replace

from litestar.testing import AsyncTestClient

from dps.app import create_app

PATH = "/open-data/publication-policy"


async def test_the_publication_policy_says_what_when_licence_errors_and_registry_fields(client, settings):
    page = await client.get(PATH)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    text = page.text
    assert "<h1>Open data publication policy</h1>" in text
    for heading in ("What we publish", "When we publish", "Licence", "Reporting an error", "OCDS data registry"):
        assert f">{heading}</h2>" in text, heading
    assert "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/" in text
    assert "Open Government Licence v3.0" in text and 'href="mailto:' in text
    assert f"{settings.base_url}/api/v1/ocds/bulk" in text and "bulk files daily" in text
    assert settings.ocid_prefix in text and "development prefix" in text
    for linking in ("/", "/api/guide", "/contracts-register"):
        assert f'href="{PATH}"' in (await client.get(linking)).text, linking


async def test_a_registered_prefix_is_shown_without_the_development_warning(settings):
    registered = replace(settings, ocid_prefix="ocds-a1b2c3")
    async with AsyncTestClient(app=create_app(registered)) as other:
        page = await other.get(PATH)
    assert "ocds-a1b2c3" in page.text and "development prefix" not in page.text
