"""Journey 2, in a real browser, on the `make run` default (development: the local mailbox, the embedded search, the
local Stripe stand-in): a buyer searches the catalogue and shortlists two innovations to compare, opens one, sees
whom to ask at the supplier and runs a competition in its category: creates and publishes the mini-competition; two
suppliers bid (one revises, one withdraws and resubmits); the tender deadline passes (the injected clock moves); two
evaluators declare and score, the buyer moderates and awards; the buyer publishes the contract award notice, which
is public at once and starts the standstill; the standstill ends; the contract exists; the supplier marks its first
milestone delivered, the buyer follows the emailed link from the local mailbox (/dev/mail, as on `make run`),
accepts it and pays it with "Pay now (test mode)" against localstripe, the local Stripe stand-in, and sees it paid;
the fund manager's dashboard shows the spend. Every page each person sees is checked with axe."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from playwright.async_api import Locator, Page

from catalogue.services import SEARCH_INDEX_TOPIC
from dps.competitions.models import Competition
from dps.mail import saved_emails
from dps.outbox.models import OutboxMessage
from dps.payments.models import MilestonePayment
from tests.browser.competition_support import ALLOCATION_POUNDS, FUND_NAME, LISTINGS, seed_journey
from tests.browser.conftest import live_settings
from tests.browser.support import check_accessibility, fill_in, follow, submit, visit
from tests.helpers import PASSWORD, scalar
from tests.payments.conftest import localstripe, localstripe_server  # noqa: F401 - fixtures used here
from tests.payments.support import WEBHOOK_SECRET

TITLE = "Remote monitoring for 120 virtual ward beds"
# Scores out of 5 for (Clinical outcomes, Net zero, Social value), per evaluator and then the consensus.
QUESTIONS = ("Clinical outcomes", "Net zero", "Social value")
SCORES = {"eva": {"Acme Health Ltd": (4, 5, 4), "Brightwell Medical Ltd": (3, 4, 3)},
          "evan": {"Acme Health Ltd": (5, 4, 4), "Brightwell Medical Ltd": (3, 3, 3)}}
SAFETY_CASE_NAME = "Hazard log and safety case"
SAFETY_CASE = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
CONSENSUS = {"Acme Health Ltd": (4, 5, 4), "Brightwell Medical Ltd": (3, 4, 3)}


@pytest.fixture
def live_server_settings(settings: Any, localstripe: str) -> Any:  # noqa: F811 - the fixture imported above
    # As on `make run`: development (the local mailbox at /dev/mail) with the local Stripe stand-in in test mode.
    return live_settings(settings, environment="development", stripe_api_base=localstripe,
                         stripe_secret_key="sk_test_local", stripe_webhook_secret=WEBHOOK_SECRET)


async def sign_in(page: Page, email: str) -> None:
    await visit(page, "/login")
    await fill_in(page, {"Email address": email, "Password": PASSWORD})
    await submit(page, "Sign in", exact=True)


async def click(page: Page, target: Locator) -> Page:
    """Click a button or link (a real form submission or link), wait for the next page and check it with axe."""
    async with page.expect_navigation():
        await target.click()
    await check_accessibility(page)
    return page


def form_under(page: Page, heading: str) -> Locator:
    """The form that follows the heading of one answer (evaluation and moderation pages have one per answer)."""
    return page.get_by_role("heading", name=heading, exact=True).locator("xpath=following-sibling::form[1]")


async def fill_by_name(page: Page, values: dict[str, str]) -> None:
    for name, value in values.items():
        await page.locator(f'[name="{name}"]').fill(value)


async def bid(page: Page, start: str, price: str, vat: str, button: str) -> None:
    await submit(page, start)
    await fill_by_name(page, {
        "answer-q1": "Our platform cut readmissions by a fifth across three trusts.",
        "answer-q2": "We run on renewable power and report our emissions every year.",
        "answer-q3": "We train local apprentices as remote monitoring technicians.",
        "price": price, "vat": vat})
    await submit(page, button, exact=True)


async def text_of(page: Page, selector: str = "main") -> str:
    return " ".join((await page.locator(selector).inner_text()).split())


async def heading_of(page: Page) -> str:
    return " ".join((await page.locator("h1").first.inner_text()).split())


async def status_of(page: Page) -> str:
    """The competition's status line (buyer) or competition and bid status line (supplier)."""
    return " ".join((await page.locator("main p", has_text="Status:").or_(
        page.locator("main p", has_text="Competition:")).inner_text()).split())


async def test_competition_to_paid_milestone_in_the_browser(live_server, new_page, db, passwords, localstripe):  # noqa: F811
    clock = live_server.clock
    seeded = await seed_journey(db, passwords, clock)
    world = seeded.world
    acme, bright, _carewave = world.bidders
    await live_server.wait_for(lambda: search_index_up_to_date(db), message="the listings were not indexed")
    buyer = await new_page()

    # --- the buyer searches and shortlists two innovations to compare ---------------------------------------------
    await sign_in(buyer, world.buyer.email)
    await follow(buyer, "Search innovations")
    await fill_in(buyer, {"Search": "remote monitoring"})
    await submit(buyer, "Apply", exact=True)
    assert "3 innovations for “remote monitoring”" in await text_of(buyer)
    for name, _ in LISTINGS[:2]:
        await buyer.get_by_label(f"Compare {name}", exact=True).check()
    await submit(buyer, "Compare selected (up to 4)")
    comparison = await text_of(buyer, "table")
    assert LISTINGS[0][0] in comparison and LISTINGS[1][0] in comparison and LISTINGS[2][0] not in comparison
    assert acme.name in comparison and bright.name in comparison

    # --- opens one, sees whom to ask, and runs a competition in its category ----------------------------------
    await follow(buyer, LISTINGS[0][0], exact=True)
    assert (await heading_of(buyer)).startswith(LISTINGS[0][0])
    assert "Contact " in await text_of(buyer, "#supplier-contact")
    await follow(buyer, "Run a competition in this category")

    # --- creates the competition and publishes it --------------------------------------------------------------
    assert await buyer.get_by_label(world.category_name, exact=True).is_checked()  # the innovation's category
    await fill_in(buyer, {"Title": TITLE, "Requirement": "Remote monitoring of up to 120 patients at home, with "
                          "alerts to the virtual ward team.", "Estimated value, excluding VAT": "120,000"})
    await fill_by_name(buyer, {
        "contract_starts_on-day": "1", "contract_starts_on-month": "4", "contract_starts_on-year": "2026",
        "contract_ends_on-day": "31", "contract_ends_on-month": "3", "contract_ends_on-year": "2027",
        "clarification_deadline-day": "12", "clarification_deadline-month": "1",
        "clarification_deadline-year": "2026", "clarification_deadline-time": "12:00",
        "tender_deadline-day": "16", "tender_deadline-month": "1", "tender_deadline-year": "2026",
        "tender_deadline-time": "12:00",
        "price-weight": "40", "q1-title": "Clinical outcomes", "q1-question": "How will patient outcomes improve?",
        "q1-weight": "45", "q2-question": "How will you reduce carbon emissions?", "q2-weight": "10",
        "q3-question": "What social value will you add?", "q3-weight": "5", "fund-1-amount": "120,000"})
    # The fund line is chosen from the allocations open to the trust (its own ICB's), not typed as a number.
    await buyer.locator("#fund-1-allocation").select_option(
        label=f"{FUND_NAME} 2025/26 QT1 revenue: £{ALLOCATION_POUNDS:,}.00 remaining")
    for evaluator in world.evaluators:
        await buyer.get_by_label(f"{evaluator.full_name} ({evaluator.email})", exact=True).check()
    await submit(buyer, "Save the draft")
    assert await status_of(buyer) == "Status: Draft"
    competition_url = buyer.url
    await submit(buyer, "Publish and invite suppliers")
    assert await status_of(buyer) == "Status: Open for bids"
    assert "Suppliers invited 3 (every supplier admitted" in await text_of(buyer)
    invitation = await live_server.email_to(acme.email)
    assert invitation["Subject"] == f"Invitation to bid: {TITLE}"

    # --- two suppliers bid: Acme submits then revises; Brightwell submits, withdraws and resubmits --------------
    suppliers = {}
    for party in (acme, bright):
        page = suppliers[party.name] = await new_page()
        await sign_in(page, party.email)
        await follow(page, "Competition invitations")
        await follow(page, TITLE)
    await bid(suppliers[acme.name], "Prepare a bid", "90,000", "18,000", "Submit your bid")
    await bid(suppliers[acme.name], "Revise your bid", "85,000", "17,000", "Submit your revised bid")
    assert "(version 2)" in await text_of(suppliers[acme.name])
    # Acme attaches a PDF to its submitted bid, sealed with it: the bid is submitted again, as version 3.
    acme_page = suppliers[acme.name]
    await submit(acme_page, "Revise your bid")
    await fill_in(acme_page, {"Name of the document": SAFETY_CASE_NAME})
    await acme_page.locator("#attachment-file").set_input_files(
        files=[{"name": "safety-case.pdf", "mimeType": "application/pdf", "buffer": SAFETY_CASE}])
    await submit(acme_page, "Upload document")
    assert f"{SAFETY_CASE_NAME} (1 KB, PDF)" in await text_of(acme_page)
    await follow(acme_page, "Back to the competition")
    assert "(version 3)" in await text_of(acme_page)
    await bid(suppliers[bright.name], "Prepare a bid", "99,000", "19,800", "Submit your bid")
    await submit(suppliers[bright.name], "Withdraw your bid")
    assert await status_of(suppliers[bright.name]) == "Competition: Open for bids Your bid: Withdrawn"
    await bid(suppliers[bright.name], "Prepare a bid", "95,000", "19,000", "Submit your bid")
    assert await status_of(suppliers[bright.name]) == "Competition: Open for bids Your bid: Submitted"

    # --- the deadline passes (server time); the buyer opens the evaluation --------------------------------------
    clock.set(datetime(2026, 1, 19, 9, 0, tzinfo=UTC))
    await visit(buyer, competition_url)
    assert await status_of(buyer) == "Status: Closed for bids"
    assert "Bids received 2" in await text_of(buyer)
    await submit(buyer, "Start the evaluation")

    # --- each evaluator declares no conflict and scores every answer alone ------------------------------------
    for evaluator in world.evaluators:
        page = await new_page()
        await sign_in(page, evaluator.email)
        await follow(page, "Mini-competitions")
        await follow(page, TITLE)
        await follow(page, "Declare your interests and score the answers")
        await page.get_by_label("No, I have no conflict of interest with any bidder").check()
        await submit(page, "Make the declaration")
        assert await page.get_by_role("link", name=f"{SAFETY_CASE_NAME} from {acme.name}").count() == 1
        for bidder, scores in SCORES[evaluator.full_name].items():
            for question, score in zip(QUESTIONS, scores, strict=True):
                form = form_under(page, f"{bidder}: {question}")
                await form.get_by_label("Your score (0 to 5)").fill(str(score))
                await form.get_by_label("Justification").fill(f"{evaluator.full_name}: {question} scored {score}")
                await click(page, form.get_by_role("button", name="Save your score"))
    assert "eva: " not in await text_of(page)  # an evaluator sees only their own scores

    # --- the buyer moderates, ranks and decides the award --------------------------------------------------------
    await visit(buyer, competition_url)
    await follow(buyer, "Moderation: consensus score of each answer")
    for bidder, scores in CONSENSUS.items():
        for question, score in zip(QUESTIONS, scores, strict=True):
            form = form_under(buyer, f"{bidder}: {question}")
            await form.get_by_label("Consensus score (0 to 5)").fill(str(score))
            await form.get_by_label("Reason for the consensus score").fill("Agreed at the moderation meeting")
            await click(buyer, form.get_by_role("button", name="Set the consensus score"))
    await follow(buyer, "Every answer is moderated: see the totals and ranking")
    ranking = await text_of(buyer, "table")
    # Acme: price 40 x 85/85 = 40; 45 x 4/5 = 36; 10 x 5/5 = 10; 5 x 4/5 = 4 -> 90.00, ranked first.
    assert ranking.index(acme.name) < ranking.index(bright.name) and "90.00" in ranking
    await fill_in(buyer, {"Reasons for the decision (told to every bidder)":
                          "The highest total score on the published criteria."})
    await submit(buyer, "Confirm the award decision")
    assert "Not sent yet" in await text_of(buyer)
    await follow(buyer, "Back to the competition")

    # --- the contract award notice: published, public at once, and the standstill starts with it -----------------
    # Monday 19 January 2026 is day 1 of 8 working days: the standstill ends at midnight at the end of 28 January.
    assert "published now, it ends at midnight at the end of 28 January 2026" in await text_of(buyer)
    await submit(buyer, "Publish the contract award notice")
    assert await status_of(buyer) == "Status: Standstill"
    assert "ends at midnight at the end of 28 January 2026" in await text_of(buyer)
    await visit(suppliers[bright.name], suppliers[bright.name].url)
    assert "Your bid has not been successful" in await text_of(suppliers[bright.name])
    public = await new_page()
    await visit(public, "/contracts-register")
    assert TITLE in await text_of(public) and "Contract not made yet" in await text_of(public)
    await follow(public, TITLE)
    notice = await text_of(public)
    assert "Published on 19 January 2026" in notice and acme.name in notice and bright.name not in notice

    # --- the standstill ends; the buyer confirms the award and the contract exists ---------------------------------
    ends = await scalar(db, sa.select(Competition.standstill_ends_at))
    clock.set(ends + timedelta(minutes=1))
    await visit(buyer, competition_url)
    await submit(buyer, "Confirm the award")
    assert "Confirming commits £102,000.00" in await text_of(buyer)
    await submit(buyer, "Confirm the award and create the contract")
    assert await status_of(buyer) == "Status: Awarded"
    overview = await text_of(buyer)
    assert "Value £85,000.00 plus VAT £17,000.00" in overview
    assert "Mobilisation" in overview and "Fund commitment 1 allocation line(s)" in overview
    await visit(suppliers[acme.name], suppliers[acme.name].url)
    assert "Contract awarded to your organisation" in await text_of(suppliers[acme.name])

    # --- the supplier delivers the first milestone; the buyer follows the emailed link and accepts it ------------
    clock.set(datetime.now(UTC))  # localstripe signs its webhooks with the real time
    async with httpx.AsyncClient(base_url=localstripe) as http:
        (await http.post("/_config/webhooks/dps", data={"url": f"{live_server.url}/webhooks/stripe",
                                                        "secret": WEBHOOK_SECRET})).raise_for_status()
    acme_page = suppliers[acme.name]
    await visit(acme_page, "/supplier/contracts")
    await follow(acme_page, TITLE)
    await acme_page.get_by_label("What did you deliver?").first.fill("Platform live on two virtual wards")
    await submit(acme_page, "Mark Mobilisation delivered")
    assert "Delivered: waiting for the buyer to accept it" in await text_of(acme_page)

    await live_server.wait_for(lambda: [e for e in saved_emails(live_server.settings.mailbox_dir)
                                        if e.subject.startswith("Milestone delivered: Mobilisation")],
                               message="the email to the buyer did not reach the local mailbox")
    await visit(buyer, "/dev/mail")  # the local mailbox, as on `make run`
    await follow(buyer, "Milestone delivered: Mobilisation")
    await follow(buyer, "/buyer/contracts/")  # the link in the email: an absolute address of the served app
    mobilisation = buyer.locator(".nhsuk-card", has_text="1. Mobilisation")
    assert "Platform live on two virtual wards" in await mobilisation.inner_text()
    assert "£10,200.00" in await mobilisation.inner_text()
    await click(buyer, mobilisation.get_by_role("button", name="Accept Mobilisation", exact=True))
    assert "Accepted: ready to be paid" in await mobilisation.inner_text()

    # --- the buyer pays it: raised, created at the local Stripe, paid with "Pay now (test mode)" ------------------
    await click(buyer, mobilisation.get_by_role("button", name="Raise the payment of £10,200.00"))
    await live_server.wait_for(lambda: scalar(db, sa.select(MilestonePayment.stripe_payment_intent_id)),
                               timeout=30, message="the payment was not created at Stripe")
    await visit(buyer, buyer.url)
    assert "Status: Awaiting payment" in await mobilisation.inner_text()
    await click(buyer, mobilisation.get_by_role("button", name="Pay now (test mode)"))
    assert "Status: Paid" in await mobilisation.inner_text()
    assert await scalar(db, sa.select(MilestonePayment.paid_at)) is not None

    # --- the fund manager's dashboard shows the commitment and the spend ------------------------------------------
    finance = await new_page()
    await sign_in(finance, seeded.fund_manager.email)
    await follow(finance, "Fund budgets")
    # The dashboard opens on this financial year (the journey's clock has moved on): choose every year.
    await finance.locator("#year").select_option(label="All years")
    await submit(finance, "Show allocations")
    row = finance.locator(f'tr[data-allocation-id="{seeded.allocation_id}"]')
    cells = [" ".join(text.split()) for text in
             await row.locator("td > span:not(.nhsuk-table__heading)").all_inner_texts()]
    assert cells[0].startswith(FUND_NAME)
    assert cells[4:] == [f"£{ALLOCATION_POUNDS:,}.00", "£91,800.00", "£10,200.00", "£398,000.00"]


async def search_index_up_to_date(db: Any) -> bool:
    return not await scalar(db, sa.select(sa.func.count()).select_from(OutboxMessage).where(
        OutboxMessage.topic == SEARCH_INDEX_TOPIC, OutboxMessage.processed_at.is_(None)))

