"""The buyer raises a milestone payment from the contract page; buyer and supplier see its state; nobody else
sees the contract at all."""

from __future__ import annotations

import sqlalchemy as sa

from dps.outbox.models import OutboxMessage
from dps.payments.models import MilestonePayment
from tests.competitions.support import Browser
from tests.factories import make_fund_manager
from tests.helpers import count_rows
from tests.payments.support import event, make_deal, milestone_state, row, signed


async def test_a_buyer_raises_a_payment_and_both_sides_see_its_state(client, db, passwords, clock):
    deal = await make_deal(db, passwords, clock)
    browser = Browser(client)
    page = f"/buyer/contracts/{deal.contract_id}"
    buyer = await browser.be(deal.buyer.email)
    listing = await buyer.get("/buyer/contracts")
    assert listing.status_code == 200 and "Virtual ward platform" in listing.text
    shown = await buyer.get(page)
    assert shown.status_code == 200 and "Raise the payment of" in shown.text and "£3,000.00" in shown.text

    first = deal.milestone_ids[0]
    token = client.cookies.get("csrftoken")
    response = await buyer.post(f"{page}/milestones/{first}/pay", data={"_csrf_token": token})
    assert response.status_code == 303, response.text[-400:]
    assert await milestone_state(db, first) == "payment_requested"
    assert await count_rows(db, MilestonePayment) == 1
    topic, payload = await row(db, sa.select(OutboxMessage.topic, OutboxMessage.payload)
                               .where(OutboxMessage.topic == "stripe"))
    assert payload["action"] == "create_payment_intent"
    assert 'data-state="requested"' in (await buyer.get(page)).text

    again = await buyer.post(f"{page}/milestones/{first}/pay", data={"_csrf_token": client.cookies.get("csrftoken")})
    assert again.status_code == 409
    assert await count_rows(db, MilestonePayment) == 1

    payment_id = (await row(db, sa.select(MilestonePayment.id)))[0]
    body = event("payment_intent.succeeded", {"id": "pi_page", "amount": 300_000,
                                              "metadata": {"milestone_payment_id": str(payment_id)}}, "evt_page")
    payload_bytes, headers = signed(body, int(clock.now().timestamp()))
    assert (await client.post("/webhooks/stripe", content=payload_bytes, headers=headers)).status_code == 200

    assert 'data-state="paid"' in (await buyer.get(page)).text
    await make_fund_manager(db, passwords, clock)
    dashboard = (await (await browser.be("finn@icb.example.nhs.uk")).get("/buyer/funds/dashboard.json")).json()
    spent = {r["allocation_id"]: (r["committed_pence"], r["spent_pence"]) for r in dashboard["rows"]}
    assert spent == {deal.allocation_ids[0]: (420_000, 180_000), deal.allocation_ids[1]: (280_000, 120_000)}
    supplier = await browser.be(deal.supplier.email)
    seen = await supplier.get(f"/supplier/contracts/{deal.contract_id}")
    assert seen.status_code == 200 and 'data-state="paid"' in seen.text and "Go-live" in seen.text
    assert "Virtual ward platform" in (await supplier.get("/supplier/contracts")).text

    refund = await (await browser.be(deal.buyer.email)).post(
        f"{page}/payments/{payment_id}/refund", data={"reason": " ", "_csrf_token": client.cookies.get("csrftoken")})
    assert refund.status_code == 400 and "Enter the reason for the refund" in refund.text
    refund = await client.post(f"{page}/payments/{payment_id}/refund",
                               data={"reason": "Not delivered", "_csrf_token": client.cookies.get("csrftoken")})
    assert refund.status_code == 303
    assert 'data-state="refund_requested"' in (await client.get(page)).text


async def test_other_organisations_get_404_for_the_contract(client, db, passwords, clock):
    deal = await make_deal(db, passwords, clock)
    browser = Browser(client)
    other_buyer = await browser.be(deal.world.other_buyer.email)
    assert (await other_buyer.get(f"/buyer/contracts/{deal.contract_id}")).status_code == 404
    response = await other_buyer.post(f"/buyer/contracts/{deal.contract_id}/milestones/{deal.milestone_ids[0]}/pay",
                                      data={"_csrf_token": client.cookies.get("csrftoken")})
    assert response.status_code == 404
    assert await milestone_state(db, deal.milestone_ids[0]) == "accepted"
    loser = await browser.be(deal.world.bidders[1].email)
    assert (await loser.get(f"/supplier/contracts/{deal.contract_id}")).status_code == 404


async def test_the_supplier_delivers_on_its_page_and_the_buyer_rejects_then_accepts_before_paying(
        client, db, passwords, clock):
    deal = await make_deal(db, passwords, clock, milestone_state="planned")
    browser = Browser(client)
    first = deal.milestone_ids[0]
    buyer_page, supplier_page = f"/buyer/contracts/{deal.contract_id}", f"/supplier/contracts/{deal.contract_id}"
    buyer_email, supplier_email = deal.buyer.email, deal.supplier.email

    buyer = await browser.be(buyer_email)
    shown = await buyer.get(buyer_page)
    assert "Raise the payment of" not in shown.text and "Not yet delivered" in shown.text
    early = await buyer.post(f"{buyer_page}/milestones/{first}/pay",
                             data={"_csrf_token": client.cookies.get("csrftoken")})
    assert early.status_code == 409 and "can be paid only once the supplier has delivered it" in early.text

    supplier = await browser.be(supplier_email)
    page = await supplier.get(supplier_page)
    assert page.status_code == 200 and "What did you deliver?" in page.text
    assert 'name="_csrf_token"' in page.text
    empty = await supplier.post(f"{supplier_page}/milestones/{first}/deliver",
                                data={"note": " ", "_csrf_token": client.cookies.get("csrftoken")})
    assert empty.status_code == 400 and "There is a problem" in empty.text
    assert f'href="#note-{first}"' in empty.text
    done = await supplier.post(f"{supplier_page}/milestones/{first}/deliver",
                               data={"note": "Live on ward 7", "_csrf_token": client.cookies.get("csrftoken")})
    assert done.status_code == 303
    assert await milestone_state(db, first) == "delivered"

    buyer = await browser.be(buyer_email)
    shown = await buyer.get(buyer_page)
    assert "Live on ward 7" in shown.text and "Accept Deployment" in shown.text
    blank = await buyer.post(f"{buyer_page}/milestones/{first}/reject",
                             data={"reason": "", "_csrf_token": client.cookies.get("csrftoken")})
    assert blank.status_code == 400 and f'href="#rejection-{first}"' in blank.text
    rejected = await buyer.post(f"{buyer_page}/milestones/{first}/reject",
                                data={"reason": "Ward 8 too, please", "_csrf_token": client.cookies.get("csrftoken")})
    assert rejected.status_code == 303 and await milestone_state(db, first) == "rejected"

    supplier = await browser.be(supplier_email)
    page = await supplier.get(supplier_page)
    assert "Ward 8 too, please" in page.text and "delivered again" in page.text
    assert (await supplier.post(f"{supplier_page}/milestones/{first}/deliver",
                                data={"note": "Wards 7 and 8", "_csrf_token": client.cookies.get("csrftoken")}
                                )).status_code == 303
    assert (await supplier.post(f"{supplier_page}/milestones/{first}/accept",
                                data={"_csrf_token": client.cookies.get("csrftoken")})).status_code in (403, 404, 405)

    buyer = await browser.be(buyer_email)
    accepted = await buyer.post(f"{buyer_page}/milestones/{first}/accept",
                                data={"_csrf_token": client.cookies.get("csrftoken")})
    assert accepted.status_code == 303 and await milestone_state(db, first) == "accepted"
    assert "Raise the payment of £3,000.00" in (await buyer.get(buyer_page)).text
    paid = await buyer.post(f"{buyer_page}/milestones/{first}/pay",
                            data={"_csrf_token": client.cookies.get("csrftoken")})
    assert paid.status_code == 303 and await milestone_state(db, first) == "payment_requested"
