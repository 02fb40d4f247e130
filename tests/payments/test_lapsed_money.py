"""RULES.md 5, "whether unspent money lapses at 31 March (default: it lapses)", for milestone payments: a payment
raised after 31 March against a lapsing fund's allocation of the year before is refused before anything reaches
Stripe, with a clear message; one raised by 31 March is paid from that year's money when Stripe confirms it later."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from dps.outbox.models import OutboxMessage
from dps.payments.models import MilestonePayment
from tests.competitions.support import Browser
from tests.helpers import count_rows
from tests.payments.support import balances, event, make_deal, milestone_state, signed

AFTER_LAPSE = datetime(2026, 4, 2, 9, 0, tzinfo=UTC)  # the deal's allocations are 2025/26's


async def test_a_milestone_payment_from_a_lapsed_allocation_is_refused_before_stripe(client, db, passwords, clock):
    deal = await make_deal(db, passwords, clock, lapses=True)
    clock.set(AFTER_LAPSE)
    browser = Browser(client)
    page = f"/buyer/contracts/{deal.contract_id}"
    buyer = await browser.be(deal.buyer.email)
    refused = await buyer.post(f"{page}/milestones/{deal.milestone_ids[0]}/pay",
                               data={"_csrf_token": client.cookies.get("csrftoken")})
    assert refused.status_code == 400
    assert ("Fund rule: unspent money in Payments Test Fund lapses at 31 March, so Payments Test Fund 2025/26, NHS "
            "Nottingham and Nottinghamshire Integrated Care Board (QT1), revenue closed on 31 March 2026: a payment "
            "on 2 April 2026 cannot be made from it") in refused.text
    assert await milestone_state(db, deal.milestone_ids[0]) == "accepted"
    assert await count_rows(db, MilestonePayment) == 0
    stripe_messages = (await db.execute(sa.select(sa.func.count()).select_from(OutboxMessage)
                                        .where(OutboxMessage.topic == "stripe"))).scalar_one()
    await db.commit()
    assert stripe_messages == 0


async def test_a_payment_raised_by_31_march_is_paid_from_that_years_money_when_stripe_confirms_it_later(
        client, db, passwords, clock):
    deal = await make_deal(db, passwords, clock, lapses=True)
    browser = Browser(client)
    buyer = await browser.be(deal.buyer.email)
    raised = await buyer.post(f"/buyer/contracts/{deal.contract_id}/milestones/{deal.milestone_ids[0]}/pay",
                              data={"_csrf_token": client.cookies.get("csrftoken")})
    assert raised.status_code == 303
    payment_id = (await db.execute(sa.select(MilestonePayment.id))).scalar_one()
    await db.commit()

    clock.set(AFTER_LAPSE)
    body = event("payment_intent.succeeded", {"id": "pi_late", "amount": 300_000,
                                              "metadata": {"milestone_payment_id": str(payment_id)}}, "evt_late")
    payload, headers = signed(body, int(clock.now().timestamp()))
    response = await client.post("/webhooks/stripe", content=payload, headers=headers)
    assert response.status_code == 200 and response.json()["outcome"] == "paid"
    assert await balances(db, deal) == [(5_000_000, 420_000, 180_000), (5_000_000, 280_000, 120_000)]
