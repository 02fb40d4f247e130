"""Payments that work on `make run`: the trust completes a payment with "Pay now (test mode)" against the local
Stripe stand-in, and the signed event marks it paid; the step exists only with a Stripe test key; with no Stripe
configured a payment is refused on the page, with nothing queued."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from dps.audit.models import AuditEvent
from dps.outbox.models import OutboxMessage
from dps.payments import services
from dps.payments.local_stripe import is_test_mode
from dps.payments.models import MilestonePayment, StripeEvent
from dps.settings import Settings
from tests.competitions.support import Browser
from tests.helpers import count_rows, scalar
from tests.payments.support import WEBHOOK_SECRET, balances, make_deal, milestone_state


def _settings(database_url: str, tmp_path: Path, smtp_port: int, **stripe: str) -> Settings:
    return Settings.from_env({"DPS_ENV": "test", "DATABASE_URL": database_url, "DPS_VAR_DIR": str(tmp_path),
                              "SMTP_URL": f"smtp://127.0.0.1:{smtp_port}", **stripe})


@pytest.fixture
def settings(request: Any, database_url: str, tmp_path: Path, smtp_port: int) -> Settings:
    """Stripe as the test's `stripe` marker says (its keyword arguments are the environment), or by default the
    local stand-in in test mode."""
    marker = request.node.get_closest_marker("stripe")
    if marker is not None:
        return _settings(database_url, tmp_path, smtp_port, **marker.kwargs)
    base = request.getfixturevalue("localstripe")
    return _settings(database_url, tmp_path, smtp_port, STRIPE_API_BASE=base, STRIPE_SECRET_KEY="sk_test_local",
                     STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET)


async def _raise(client: Any, browser: Browser, deal: Any) -> Any:
    buyer = await browser.be(deal.buyer.email)
    response = await buyer.post(f"/buyer/contracts/{deal.contract_id}/milestones/{deal.milestone_ids[0]}/pay",
                                data={"_csrf_token": client.cookies.get("csrftoken")})
    return buyer, response


async def test_pay_now_in_test_mode_completes_the_payment_at_the_local_stripe_and_it_ends_paid(
        client, db, passwords, clock, settings, drain_outbox):
    deal = await make_deal(db, passwords, clock)
    browser = Browser(client)
    page = f"/buyer/contracts/{deal.contract_id}"
    buyer, raised = await _raise(client, browser, deal)
    assert raised.status_code == 303
    shown = (await buyer.get(page)).text
    assert "Stripe is setting up this payment" in shown and "/pay-in-test-mode" not in shown

    consumers = {services.STRIPE_TOPIC: services.stripe_consumer(settings, clock=clock)}
    assert (await drain_outbox(consumers=consumers)).delivered == 1
    shown = (await buyer.get(page)).text
    assert "/pay-in-test-mode" in shown and "Payments are in test mode" in shown
    payment_id = await scalar(db, sa.select(MilestonePayment.id))
    paid = await buyer.post(f"{page}/payments/{payment_id}/pay-in-test-mode",
                            data={"_csrf_token": client.cookies.get("csrftoken")})
    assert paid.status_code == 303, paid.text[-600:]
    assert await scalar(db, sa.select(MilestonePayment.state)) == "paid"
    assert await milestone_state(db, deal.milestone_ids[0]) == "paid"
    assert await balances(db, deal) == [(5_000_000, 420_000, 180_000), (5_000_000, 280_000, 120_000)]
    assert await scalar(db, sa.select(StripeEvent.outcome)) == "paid"
    actions = set((await db.scalars(sa.select(AuditEvent.action).where(
        AuditEvent.entity_type == "milestone_payment"))).all())
    await db.commit()
    assert {"milestone_payment.paid_in_test_mode", "milestone_payment.paid"} <= actions
    assert 'data-state="paid"' in (await buyer.get(page)).text
    emails = [payload for payload in (await db.scalars(sa.select(OutboxMessage.payload).where(
        OutboxMessage.topic == "email"))).all() if str(payload.get("subject", "")).startswith("Milestone paid")]
    await db.commit()
    links = {payload["to"]: payload["body"] for payload in emails}
    assert f"/buyer/contracts/{deal.contract_id}#milestone-{deal.milestone_ids[0]}" in links[deal.buyer.email]
    assert f"/supplier/contracts/{deal.contract_id}#milestone-" in links[deal.supplier.email]

    again = await buyer.post(f"{page}/payments/{payment_id}/pay-in-test-mode",
                             data={"_csrf_token": client.cookies.get("csrftoken")})
    assert again.status_code == 409
    assert await count_rows(db, StripeEvent) == 1


@pytest.mark.stripe(STRIPE_SECRET_KEY="sk_live_real", STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
                    STRIPE_API_BASE="http://127.0.0.1:9")
async def test_with_a_live_key_there_is_no_pay_now_step(client, db, passwords, clock):
    deal = await make_deal(db, passwords, clock)
    browser = Browser(client)
    buyer, raised = await _raise(client, browser, deal)
    assert raised.status_code == 303
    await db.execute(sa.update(MilestonePayment).values(state="awaiting_payment", stripe_payment_intent_id="pi_x"))
    await db.commit()
    page = f"/buyer/contracts/{deal.contract_id}"
    assert "/pay-in-test-mode" not in (await buyer.get(page)).text
    payment_id = await scalar(db, sa.select(MilestonePayment.id))
    refused = await buyer.post(f"{page}/payments/{payment_id}/pay-in-test-mode",
                               data={"_csrf_token": client.cookies.get("csrftoken")})
    assert refused.status_code == 404
    assert await scalar(db, sa.select(MilestonePayment.state)) == "awaiting_payment"


def test_test_mode_needs_a_test_key_and_is_never_on_in_production():
    def mode(**env: str) -> bool:
        return is_test_mode(Settings.from_env({"SECRET_KEY": "x" * 40, "BID_SEALING_KEY": "A" * 43 + "=", **env}))
    assert mode(DPS_ENV="development", STRIPE_SECRET_KEY="sk_test_local")
    assert mode(DPS_ENV="test", STRIPE_SECRET_KEY="sk_test_local")
    assert not mode(DPS_ENV="production", OCDS_PREFIX="ocds-a1b2c3", STRIPE_SECRET_KEY="sk_test_local")
    assert not mode(DPS_ENV="development", STRIPE_SECRET_KEY="sk_live_x")
    assert not mode(DPS_ENV="development")


@pytest.mark.stripe()
async def test_without_stripe_raising_a_payment_is_refused_on_the_page_and_nothing_is_queued(
        client, db, passwords, clock):
    deal = await make_deal(db, passwords, clock)
    browser = Browser(client)
    buyer = await browser.be(deal.buyer.email)
    page = f"/buyer/contracts/{deal.contract_id}"
    assert "Payments are not available yet" in (await buyer.get(page)).text
    _, refused = await _raise(client, browser, deal)
    assert refused.status_code == 400
    assert "There is a problem" in refused.text
    assert "not connected to Stripe, the payment provider. Nothing has been raised" in refused.text
    assert await count_rows(db, MilestonePayment) == 0
    assert await scalar(db, sa.select(sa.func.count()).select_from(OutboxMessage)
                        .where(OutboxMessage.topic == "stripe")) == 0
    assert await milestone_state(db, deal.milestone_ids[0]) == "accepted"
