"""Every email carries a working link to the page it is about. Each email the service sends on the way through an
application (received, the authority told it arrived, admitted, rejected), a competition (invitation, bid receipt,
clarification asked and answered, evaluation, outcome letter, contract) and a contract (milestone delivered,
accepted, rejected, paid) is delivered over SMTP as a person receives it, and every link in it is followed by the
person it was sent to, signed in: each opens its page (200), never a 404 or a 403."""

from __future__ import annotations

import re
from email.message import EmailMessage
from typing import Any

import sqlalchemy as sa

from dps.competitions.models import Clarification
from dps.competitions.services import drafting
from dps.contracts import services as contracts
from dps.contracts.models import Contract, ContractMilestone
from dps.payments import services as payments
from tests.admission.support import answer_everything, decide, evaluate_all, start_application, submit
from tests.competitions.support import Browser
from tests.factories import (
    category_id,
    make_authority_user,
    make_competition_world,
    make_published_competition,
    make_supplier_with_user,
    signed_in,
)
from tests.helpers import scalar, sign_in
from tests.payments.support import event
from tests.transparency.support import awarded_competition

LINK = re.compile(r"https?://[^\s<>\"']+")


async def follow_every_link(client: Any, settings: Any, messages: list[EmailMessage]) -> list[str]:
    """Follow each link of each email as its recipient; return the subjects followed. Fails on an email without a
    link to the service, or on a link that does not open its page for the person it was sent to."""
    browser = Browser(client)
    subjects = []
    for message in messages:
        body, to, subject = message.get_content(), str(message["To"]), " ".join(str(message["Subject"]).split())
        links = [link.rstrip(".,)") for link in LINK.findall(body)]
        ours = [link for link in links if link.startswith(settings.base_url + "/")]
        assert ours, f"no link to the service in {subject!r} to {to}:\n{body}"
        assert ours == links, f"a link elsewhere in {subject!r}: {links}"
        for link in ours:
            path = link.removeprefix(settings.base_url).split("#", 1)[0]
            response = await browser.get(to, path)
            assert response.status_code == 200, f"{subject!r} to {to}: {path} gave {response.status_code}"
        subjects.append(subject)
    return subjects


def assert_sent(subjects: list[str], *starts: str) -> None:
    for start in starts:
        assert any(subject.startswith(start) for subject in subjects), f"no email {start!r} in {subjects}"


async def test_application_emails_link_to_the_application(client, db, passwords, clock, settings, smtp_server,
                                                          drain_outbox):
    eve = await make_authority_user(db, passwords, clock)
    virtual_wards = await category_id(db, "virtual-wards")
    applications = []
    for name, email, number in (("Acme Health Ltd", "ann@acme.example", "12345678"),
                                ("Brightwell Medical Ltd", "bo@brightwell.example", "87654321")):
        _, supplier = await make_supplier_with_user(db, passwords, clock, name=name, email=email, number=number)
        client.cookies.clear()
        await sign_in(client, supplier.email)
        application_id = await start_application(client, virtual_wards)
        await answer_everything(client, application_id)
        assert (await submit(client, application_id)).status_code == 303
        applications.append(application_id)
    client.cookies.clear()
    await sign_in(client, eve.email)
    for application_id, decision in zip(applications, ("admit", "reject"), strict=True):
        await evaluate_all(client, application_id, outcome="pass" if decision == "admit" else "fail")
        response = await decide(client, application_id, decision, reasons="" if decision == "admit" else
                                "The insurance cover is below the category's minimum.")
        assert response.status_code == 303, response.text[-2000:]
    client.cookies.clear()

    await drain_outbox()
    subjects = await follow_every_link(client, settings, smtp_server.messages)
    assert_sent(subjects, "Application received:", "New application:", "Admitted:", "Application outcome:")
    assert len(subjects) == 6  # received x2, the authority told x2, admitted, rejected
    assert sum(1 for message in smtp_server.messages if message["To"] == eve.email) == 2


async def test_competition_and_contract_emails_link_to_their_pages(client, db, passwords, clock, settings,
                                                                   smtp_server, drain_outbox):
    world = await make_competition_world(db, passwords, clock)
    # A clarification on one competition: asked by a supplier (the buyer is told), answered to every invited one.
    asked_on = await make_published_competition(db, clock, world=world)
    asker = await signed_in(db, world.bidders[0].user)
    await drafting.ask_question(db, asker, asked_on, "Is training for ward staff included?", clock.now())
    clarification_id = await scalar(db, sa.select(Clarification.id).where(Clarification.competition_id == asked_on))
    buyer = await signed_in(db, world.buyer.user)
    await drafting.answer_question(db, buyer, asked_on, clarification_id, published_question="Is training included?",
                                   answer="Yes, for up to 40 staff.", now=clock.now())
    # Another run to its end: bids (sealed receipts), evaluation, outcome letters, standstill, contract.
    _, competition_id = await awarded_competition(db, passwords, clock, world=world)
    contract = await scalar(db, sa.select(Contract).where(Contract.competition_id == competition_id))
    contract_id = contract.id
    first, second = list((await db.scalars(sa.select(ContractMilestone.id).where(
        ContractMilestone.contract_id == contract_id).order_by(ContractMilestone.sequence))).all())[:2]
    await db.commit()
    db.expunge_all()  # the services load the milestones afresh as they move
    # The supplier delivers two milestones; the buyer accepts one and pays it, and rejects the other.
    supplier = await signed_in(db, world.bidders[0].user)
    for milestone_id in (first, second):
        await contracts.deliver_milestone(db, supplier, contract_id=contract_id, milestone_id=milestone_id,
                                          note="Delivered as planned", now=clock.now())
        db.expunge_all()
    buyer = await signed_in(db, world.buyer.user)
    await contracts.accept_milestone(db, buyer, contract_id=contract_id, milestone_id=first, now=clock.now())
    await contracts.reject_milestone(db, buyer, contract_id=contract_id, milestone_id=second,
                                     reason="The training sessions have not happened yet", now=clock.now())
    db.expunge_all()
    payment = await payments.raise_milestone_payment(db, buyer, contract_id=contract_id, milestone_id=first,
                                                     now=clock.now())
    paid = event("payment_intent.succeeded", {"id": "pi_links", "amount": payment.amount_pence,
                                              "metadata": {"milestone_payment_id": str(payment.id)}}, "evt_links")
    assert await payments.handle_event(db, paid, clock.now()) == "paid"
    await db.commit()

    await drain_outbox()
    subjects = await follow_every_link(client, settings, smtp_server.messages)
    assert_sent(subjects, "Invitation to bid:", "Bid received:", "New clarification question:",
                "Clarification published:", "Evaluation open:", "Outcome:", "Contract awarded:",
                "Milestone delivered:", "Milestone accepted:", "Milestone not accepted:", "Milestone paid:")
