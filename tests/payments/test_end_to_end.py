"""End to end against localstripe: a buyer raises a milestone payment, the outbox creates it at Stripe, the
payment succeeds at localstripe, localstripe's signed webhook reaches our app (served by uvicorn on a free port)
and the milestone is paid and the fund spent; a refund moves it back. Fault tests: Stripe unreachable (the outbox
keeps the request and it succeeds once Stripe is back, charged once), duplicate delivery."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from dps.outbox.models import OutboxMessage
from dps.outbox.worker import Consumer
from dps.payments import services
from dps.payments.models import MilestonePayment, StripeCustomer, StripeEvent
from dps.payments.stripe_client import StripeClient
from tests.helpers import count_rows
from tests.payments.support import (
    WEBHOOK_SECRET,
    balances,
    buyer_of,
    event,
    make_deal,
    milestone_state,
    row,
    signed,
)


async def no_sleep(_: float) -> None:
    return None


def stripe_only(settings: Any, clock: Any, api_base: str, **client_options: Any) -> dict[str, Consumer]:
    """The outbox consumers for draining Stripe requests alone, to the Stripe at `api_base`, without sleeping
    between retries (one retry unless `client_options` say otherwise)."""
    options = {"max_retries": 1, **client_options}

    def client() -> StripeClient:
        return StripeClient(api_base=api_base, secret_key="sk_test_local", sleep=no_sleep, **options)

    return {services.STRIPE_TOPIC: services.stripe_consumer(settings, clock=clock, client_factory=client)}


async def pay_at_localstripe(base: str, intent_id: str) -> dict[str, Any]:
    """What the buyer's finance team does with the card form: attach a card and confirm."""
    async with StripeClient(api_base=base, secret_key="sk_test_local", sleep=no_sleep) as stripe:
        card = await stripe.request("POST", "/v1/payment_methods", {
            "type": "card", "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"},
        }, idempotency_key=f"card-{intent_id}")
        await stripe.request("POST", f"/v1/payment_intents/{intent_id}", {"payment_method": card["id"]},
                             idempotency_key=f"attach-{intent_id}")
        return await stripe.confirm_payment_intent(intent_id, idempotency_key=f"confirm-{intent_id}")


async def intents_of(base: str, customer: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=base, auth=("sk_test_local", "")) as http:
        response = await http.get("/v1/payment_intents", params={"limit": 100})  # no customer filter there
        response.raise_for_status()
        return [intent for intent in response.json()["data"] if intent["customer"] == customer]


async def eventually(check: Any, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        if await check():
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the condition did not hold in time")
        await asyncio.sleep(0.05)


@pytest.fixture
async def served_app(app: Any, free_port: int) -> Any:
    """The app on a real port (uvicorn in this event loop), so localstripe can deliver webhooks to it."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port, log_level="warning",
                                           lifespan="on"))
    task = asyncio.create_task(server.serve())
    await eventually(lambda: asyncio.sleep(0, result=server.started))
    yield f"http://127.0.0.1:{free_port}"
    server.should_exit = True
    await asyncio.wait_for(task, timeout=10)


async def test_a_milestone_is_paid_and_refunded_end_to_end_with_localstripe_webhooks(db, passwords, clock, settings,
                                                                                     localstripe, served_app,
                                                                                     drain_outbox):
    deal = await make_deal(db, passwords, clock)
    # localstripe signs with the real time, so our app's clock stands at the real time from here on.
    clock.set(datetime.now(UTC))
    async with httpx.AsyncClient(base_url=localstripe) as http:
        (await http.post("/_config/webhooks/dps", data={"url": f"{served_app}/webhooks/stripe",
                                                        "secret": WEBHOOK_SECRET})).raise_for_status()

    buyer = await buyer_of(db, deal)
    payment = await services.raise_milestone_payment(db, buyer, contract_id=deal.contract_id,
                                                     milestone_id=deal.milestone_ids[0], now=clock.now())
    report = await drain_outbox(consumers=stripe_only(settings, clock, localstripe))
    assert (report.delivered, report.failed) == (1, 0)
    state, intent_id = await row(db, sa.select(MilestonePayment.state, MilestonePayment.stripe_payment_intent_id)
                                 .where(MilestonePayment.id == payment.id))
    assert state == "awaiting_payment" and intent_id.startswith("pi_")
    customer = (await row(db, sa.select(StripeCustomer.stripe_customer_id)))[0]
    [intent] = await intents_of(localstripe, customer)
    assert intent["id"] == intent_id and intent["amount"] == 300_000 and intent["currency"] == "gbp"
    assert intent["metadata"]["milestone_payment_id"] == str(payment.id)

    confirmed = await pay_at_localstripe(localstripe, intent_id)
    assert confirmed["status"] == "succeeded"

    async def paid() -> bool:
        return await milestone_state(db, deal.milestone_ids[0]) == "paid"

    await eventually(paid)
    assert await balances(db, deal) == [(5_000_000, 420_000, 180_000), (5_000_000, 280_000, 120_000)]
    received = (await row(db, sa.select(sa.func.count()).select_from(StripeEvent)
                          .where(StripeEvent.type == "payment_intent.succeeded")))[0]
    assert received == 1

    # The refund: raised by the buyer, created at localstripe through the outbox. localstripe 1.15.10 sends no
    # charge.refunded event, so the test delivers Stripe's event, signed, for the refund that really exists.
    await services.request_refund(db, buyer, contract_id=deal.contract_id, payment_id=payment.id,
                                  reason="Milestone not delivered", now=clock.now())
    assert (await drain_outbox(consumers=stripe_only(settings, clock, localstripe))).delivered == 1
    refund_id = (await row(db, sa.select(MilestonePayment.stripe_refund_id)
                           .where(MilestonePayment.id == payment.id)))[0]
    assert refund_id.startswith("re_")
    charge = event("charge.refunded", {"id": "ch_x", "object": "charge", "payment_intent": intent_id,
                                       "amount": 300_000, "amount_refunded": 300_000, "refunded": True,
                                       "metadata": {}}, "evt_refund_1")
    payload, headers = signed(charge, int(clock.now().timestamp()))
    async with httpx.AsyncClient(base_url=served_app) as http:
        for _ in range(2):  # delivered twice: the second changes nothing
            response = await http.post("/webhooks/stripe", content=payload, headers=headers)
            assert response.status_code == 200
    assert await milestone_state(db, deal.milestone_ids[0]) == "refunded"
    assert await balances(db, deal) == [(5_000_000, 600_000, 0), (5_000_000, 400_000, 0)]


async def test_stripe_unreachable_keeps_the_request_and_it_succeeds_once_stripe_is_back_charged_once(db, passwords,
                                                                                                     clock, settings,
                                                                                                     localstripe,
                                                                                                     free_port,
                                                                                                     drain_outbox):
    deal = await make_deal(db, passwords, clock)
    buyer = await buyer_of(db, deal)
    payment = await services.raise_milestone_payment(db, buyer, contract_id=deal.contract_id,
                                                     milestone_id=deal.milestone_ids[1], now=clock.now())

    report = await drain_outbox(consumers=stripe_only(settings, clock, f"http://127.0.0.1:{free_port}"))
    assert (report.delivered, report.failed) == (0, 1)
    processed, attempts, error = await row(db, sa.select(OutboxMessage.processed_at, OutboxMessage.attempts,
                                                         OutboxMessage.last_error)
                                           .where(OutboxMessage.topic == "stripe"))
    assert processed is None and attempts == 1 and "StripeConnectionError" in error
    assert (await row(db, sa.select(MilestonePayment.state).where(MilestonePayment.id == payment.id)))[0] == \
        "requested"

    clock.advance(timedelta(minutes=1))
    for _ in range(2):  # Stripe is back; a second drain (a redelivery) creates nothing more
        await drain_outbox(consumers=stripe_only(settings, clock, localstripe))
        await db.execute(sa.update(OutboxMessage).values(processed_at=None, available_at=clock.now()))
        await db.commit()
    state, intent_id = await row(db, sa.select(MilestonePayment.state, MilestonePayment.stripe_payment_intent_id)
                                 .where(MilestonePayment.id == payment.id))
    assert state == "awaiting_payment"
    assert await count_rows(db, StripeCustomer) == 1
    customer = (await row(db, sa.select(StripeCustomer.stripe_customer_id)))[0]
    assert [intent["id"] for intent in await intents_of(localstripe, customer)] == [intent_id]


async def test_a_lost_answer_from_stripe_is_retried_without_a_second_payment_intent(db, passwords, clock, settings,
                                                                                    localstripe, drain_outbox):
    """Stripe created the payment intent but the answer never arrived: the retry finds it instead of making another."""
    deal = await make_deal(db, passwords, clock)
    buyer = await buyer_of(db, deal)
    payment = await services.raise_milestone_payment(db, buyer, contract_id=deal.contract_id,
                                                     milestone_id=deal.milestone_ids[2], now=clock.now())
    real = httpx.AsyncHTTPTransport()

    class LosesTheFirstCreateAnswer(httpx.AsyncBaseTransport):
        lost = False

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            response = await real.handle_async_request(request)
            if request.method == "POST" and request.url.path == "/v1/payment_intents" and not self.lost:
                self.lost = True
                await response.aread()
                raise httpx.ReadError("connection reset after the request was sent", request=request)
            return response

    transport = LosesTheFirstCreateAnswer()
    consumers = stripe_only(settings, clock, localstripe, max_retries=0, transport=transport)

    try:
        assert (await drain_outbox(consumers=consumers)).failed == 1
        clock.advance(timedelta(minutes=1))
        assert (await drain_outbox(consumers=consumers)).delivered == 1
    finally:
        await real.aclose()
    assert transport.lost
    intent_id = (await row(db, sa.select(MilestonePayment.stripe_payment_intent_id)
                           .where(MilestonePayment.id == payment.id)))[0]
    customer = (await row(db, sa.select(StripeCustomer.stripe_customer_id)))[0]
    assert [intent["id"] for intent in await intents_of(localstripe, customer)] == [intent_id]
