"""Journey 1 in a real browser, on the `make run` default (development: the local mailbox at /dev/mail and
var/mail/, the embedded search): a new SME registers, confirms its email address by following the link in the email
it finds in the local mailbox, sets up its organisation (shown as an SME), applies to a category through the
selection questionnaire and signs out; an evaluator signs in and admits it; the supplier signs back in, creates and
publishes a listing, and the catalogue search finds it once the outbox has updated the search index. Every page on
the way passes axe.

The same journey runs twice: with the mouse, and with the keyboard only (Tab, Shift+Tab, typing, Space, Enter and the
arrow keys, with a visible focus indicator on every control reached)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from playwright.async_api import expect

from dps.admission.models import Admission
from dps.admission.questionnaire import sections_asked
from dps.agreements.models import Category
from dps.identity.models import Organisation
from dps.mail import saved_emails
from tests.admission.support import VALID_ANSWERS
from tests.browser.conftest import live_settings
from tests.browser.support import Driver, KeyboardDriver, MouseDriver
from tests.factories import make_authority_user
from tests.helpers import PASSWORD, scalar

EMAIL = "ann@brightwater.example"
EVALUATOR = "eve@authority.example"
SUPPLIER_PASSWORD = "a-long-supplier-passphrase"
LISTING_NAME = "Brightwater home heart monitor"
ORGANISATION = {
    "legal_name": "Brightwater Diagnostics Ltd",
    "companies_house_number": "SC123456",
    "registered_address": "1 Harbour Street\nLeith\nEH6 6QH",
    "headcount": "42",
    "turnover": "1,250,000",
    "balance_sheet_total": "800000.50",
}


def listing_form(category_id: int) -> dict[str, Any]:
    return {
        "name": LISTING_NAME,
        "summary": "A chest patch that records the heart at home for 14 days to find atrial fibrillation early.",
        "description": "Worn at home.\n\n* Finds **AF** early\n* Fewer clinic visits",
        "category_id": str(category_id),
        "care_settings": ["home"],
        "clinical_areas": "cardiology, stroke prevention",
        "pricing_model": "on-request",
        "dtac__applies": "no",
        "dspt__applies": "no",
        "cyber_essentials__level": "none",
        "medical_device__device_class": "not_a_device",
        "nice__esf_tier": "not_applicable",
        "nice__mtfm": "no",
        "supply_chain__carbon_reduction_plan": "pass",
        "supply_chain__modern_slavery": "yes",
        "supply_chain__net_zero": "yes",
    }


@pytest.fixture
def live_server_settings(settings: Any) -> Any:
    # As on `make run`: development, so every email is saved to the local mailbox (var/mail/, read at /dev/mail).
    return live_settings(settings, environment="development")


async def heading(page: Any) -> str:
    return (await page.locator("h1").first.inner_text()).strip()


async def sign_in(user: Driver, email: str, password: str) -> None:
    await user.follow("Sign in", exact=True)
    await user.fill_form({"email": email, "password": password})
    await user.press("Sign in", exact=True)


async def sign_out(user: Driver) -> None:
    await user.follow("Sign out", exact=True)
    await user.press("Sign out", exact=True)
    await expect(user.link("Sign in", exact=True)).to_be_visible()


async def register_and_confirm(supplier: Driver, live_server: Any) -> None:
    await supplier.open("/")
    await supplier.follow("Register as a supplier")
    await supplier.fill_form({"full_name": "Ann Founder", "email": EMAIL, "password": SUPPLIER_PASSWORD,
                              "password_confirmation": SUPPLIER_PASSWORD})
    await supplier.press("Create account")
    assert await heading(supplier.page) == "Check your email"
    await expect(supplier.page.get_by_text(EMAIL)).to_be_visible()

    # The confirmation email, read where a developer on `make run` reads it: the local mailbox.
    subject = "Confirm your email address for the NHS Innovation DPS"
    saved = await live_server.wait_for(lambda: saved_emails(live_server.settings.mailbox_dir, to=EMAIL),
                                       message="the confirmation email did not reach the local mailbox")
    assert [email.subject for email in saved] == [subject]
    assert f"{live_server.url}/verify-email?token=" in saved[0].body  # the .eml file under var/mail/
    await supplier.open(f"/dev/mail?to={EMAIL}")
    await supplier.follow(subject, exact=True)
    await supplier.follow(f"{live_server.url}/verify-email")  # the link in the email, as the mailbox shows it
    await expect(supplier.page.get_by_role("heading", name="Email address confirmed")).to_be_visible()
    await supplier.follow("Sign in to set up your organisation")
    await supplier.fill_form({"email": EMAIL, "password": SUPPLIER_PASSWORD})
    await supplier.press("Sign in", exact=True)


async def create_organisation(supplier: Driver) -> None:
    assert await heading(supplier.page) == "Tell us about your organisation"
    await supplier.fill_form(ORGANISATION)
    await supplier.press("Continue")
    await expect(supplier.page.get_by_text("Your organisation is an SME").first).to_be_visible()
    await supplier.press("Create organisation")
    assert await heading(supplier.page) == ORGANISATION["legal_name"]
    await expect(supplier.page.get_by_text("An SME: 42 staff is fewer than 250").first).to_be_visible()


async def apply_to_category(supplier: Driver, category: Category) -> None:
    await supplier.follow("Supplier portal", exact=True)
    await supplier.press("Apply to a category")
    await supplier.choose(supplier.option("category_id", str(category.id)))
    await supplier.press("Start application")
    assert await heading(supplier.page) == f"Application to join {category.name}"
    for section in sections_asked(category.selection_sections):  # only what the category asks
        await supplier.follow(section.title, exact=True)
        await supplier.fill_form(VALID_ANSWERS[section.key])
        await supplier.press("Save and continue")
        await expect(supplier.page.locator(f"#status-{section.key}")).to_have_text("Completed")
    await supplier.press("Check your answers and submit")
    await expect(supplier.page.get_by_text("£2,500,000.00")).to_be_visible()
    await supplier.press("Submit application")
    await expect(supplier.page.get_by_text("The authority must decide by")).to_be_visible()


async def admit(evaluator_user: Driver, category: Category) -> None:
    await evaluator_user.open("/")
    await sign_in(evaluator_user, EVALUATOR, PASSWORD)
    await evaluator_user.follow("DPS authority", exact=True)
    await evaluator_user.follow("Evaluation queue")
    await expect(evaluator_user.page.get_by_role("cell", name=category.name)).to_be_visible()
    await evaluator_user.follow(ORGANISATION["legal_name"])
    page = evaluator_user.page
    for section in sections_asked(category.selection_sections):
        save = evaluator_user.button(f"Save evaluation of {section.title}", exact=True)
        form = page.locator("form").filter(has=save)
        await evaluator_user.choose(evaluator_user.option("outcome", "pass", scope=form))
        await evaluator_user.activate(save)
        await expect(page.locator(f"#section-{section.key} .nhsuk-tag")).to_have_text("Pass")
    await evaluator_user.choose(evaluator_user.option("decision", "admit"))
    await evaluator_user.press("Record decision")
    await expect(page.get_by_text("Admitted").first).to_be_visible()
    await sign_out(evaluator_user)


async def list_and_publish(supplier: Driver, category: Category) -> None:
    await sign_in(supplier, EMAIL, SUPPLIER_PASSWORD)
    await supplier.follow("Supplier portal", exact=True)
    await expect(supplier.page.get_by_text("Categories you are admitted to")).to_be_visible()
    await supplier.follow("Your innovation listings")
    await supplier.press("Create a listing")
    await supplier.fill_form(listing_form(category.id or 0))
    await supplier.press("Save", exact=True)
    assert (await heading(supplier.page)).startswith(LISTING_NAME)
    await supplier.press("Publish", exact=True)
    await expect(supplier.page.get_by_text("Published").first).to_be_visible()


async def find_in_search(searcher: Driver, live_server: Any) -> None:
    async def indexed() -> bool:  # the outbox carries the listing to the search index
        async with httpx.AsyncClient(base_url=live_server.url) as http:
            return LISTING_NAME in (await http.get("/catalogue/search", params={"q": "heart monitor"})).text

    await live_server.wait_for(indexed, message="the published listing never reached the search index")
    await searcher.open("/")
    await searcher.follow("Catalogue", exact=True)
    await searcher.follow("Browse every innovation")
    await searcher.type(searcher.field("q"), "heart monitor")
    await searcher.press("Apply", exact=True)
    result = searcher.link(LISTING_NAME)
    await expect(result).to_be_visible()
    await expect(searcher.page.get_by_text("Brightwater Diagnostics Ltd").first).to_be_visible()
    await searcher.activate(result)
    assert (await heading(searcher.page)).startswith(LISTING_NAME)


async def run_journey(driver: Callable[[Any], Driver], live_server: Any, new_page: Any, db: Any, passwords: Any,
                      clock: Any) -> None:
    await make_authority_user(db, passwords, clock, email=EVALUATOR)
    category = await scalar(db, sa.select(Category).where(Category.slug == "virtual-wards"))
    supplier = driver(await new_page())

    await register_and_confirm(supplier, live_server)
    await create_organisation(supplier)
    organisation = await scalar(db, sa.select(Organisation).where(Organisation.companies_house_number == "SC123456"))
    assert organisation.headcount == 42
    await apply_to_category(supplier, category)
    await sign_out(supplier)

    await admit(driver(await new_page()), category)
    state = await scalar(db, sa.select(Admission.state).where(Admission.organisation_id == organisation.id))
    assert state == "active"

    await list_and_publish(supplier, category)
    await find_in_search(driver(await new_page()), live_server)


async def test_a_new_sme_registers_is_admitted_and_its_listing_is_found(live_server, new_page, db, passwords, clock):
    await run_journey(MouseDriver, live_server, new_page, db, passwords, clock)


# Keyboard operability belongs to the pages, not to the database: the mouse journey covers both backends, this one
# runs on SQLite only (a full journey costs about a minute of CPU in the browser and the app). It sees the very pages,
# in the very states, that the mouse journey checks with axe, so it does not check them again.
@pytest.mark.parametrize("migrated_database", ["sqlite"], indirect=True)
async def test_the_same_journey_with_the_keyboard_only(live_server, new_page, db, passwords, clock):
    await run_journey(lambda page: KeyboardDriver(page, axe=False), live_server, new_page, db, passwords, clock)
