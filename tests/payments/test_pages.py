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
    assert await milestone_state(db, deal.milestone_ids[0]) == "planned"
    loser = await browser.be(deal.world.bidders[1].email)
    assert (await loser.get(f"/supplier/contracts/{deal.contract_id}")).status_code == 404
