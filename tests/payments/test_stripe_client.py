"""The Stripe client: against localstripe for real, and against scripted transports for retries and errors."""

from __future__ import annotations

import random
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from dps.payments.stripe_client import (
    STRIPE_VERSION,
    StripeAuthenticationError,
    StripeCardError,
    StripeClient,
    StripeConnectionError,
    StripeInvalidRequestError,
    StripeRateLimitError,
    StripeServerError,
    encode_form,
)


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def scripted(responses: list[Any]) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    """A transport answering each request with the next item: an httpx.Response or an exception to raise."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        item = responses.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    return httpx.MockTransport(handler), seen


def client_with(transport: httpx.MockTransport, sleeps: Sleeps, **options: Any) -> StripeClient:
    return StripeClient(api_base="https://stripe.test", secret_key="sk_test_123", transport=transport,
                        sleep=sleeps, rng=random.Random(7), **options)


OK = {"id": "cus_1", "object": "customer"}


def test_nested_parameters_are_form_encoded_as_stripe_expects():
    assert encode_form({"amount": 500, "metadata": {"milestone": 3, "contract": "c-1"},
                        "items": [{"price": "p_1", "quantity": 2}], "confirm": True, "email": None}) == [
        ("amount", "500"), ("metadata[milestone]", "3"), ("metadata[contract]", "c-1"),
        ("items[0][price]", "p_1"), ("items[0][quantity]", "2"), ("confirm", "true")]


async def test_a_post_carries_the_key_version_idempotency_key_and_a_form_body():
    transport, seen = scripted([httpx.Response(200, json=OK)])
    async with client_with(transport, Sleeps()) as stripe:
        await stripe.create_customer(name="St Elsewhere", metadata={"organisation_id": "4"},
                                     idempotency_key="organisation-4-customer")
    request = seen[0]
    assert request.headers["Authorization"] == "Bearer sk_test_123"
    assert request.headers["Stripe-Version"] == STRIPE_VERSION
    assert request.headers["Idempotency-Key"] == "organisation-4-customer"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qsl(request.content.decode()) == [("name", "St Elsewhere"), ("metadata[organisation_id]", "4")]


async def test_a_post_without_an_idempotency_key_is_refused_before_it_leaves():
    transport, seen = scripted([])
    async with client_with(transport, Sleeps()) as stripe:
        with pytest.raises(ValueError):
            await stripe.request("POST", "/v1/customers", {"name": "x"})
    assert seen == []


async def test_429_and_5xx_are_retried_with_growing_jittered_backoff_and_the_same_idempotency_key():
    transport, seen = scripted([httpx.Response(429), httpx.Response(500), httpx.Response(503),
                                httpx.Response(200, json=OK)])
    sleeps = Sleeps()
    async with client_with(transport, sleeps, backoff_base=1.0, backoff_cap=30.0) as stripe:
        body = await stripe.create_customer(name="x", metadata={}, idempotency_key="k-1")
    assert body == OK
    assert len(seen) == 4
    assert {request.headers["Idempotency-Key"] for request in seen} == {"k-1"}
    assert len(sleeps.delays) == 3
    for attempt, delay in enumerate(sleeps.delays):
        assert 0 <= delay <= 2 ** attempt  # full jitter under a doubling ceiling
    assert len(set(sleeps.delays)) == 3  # jittered, not a fixed schedule


async def test_retry_after_is_respected():
    transport, _ = scripted([httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200, json=OK)])
    sleeps = Sleeps()
    async with client_with(transport, sleeps) as stripe:
        await stripe.retrieve_customer("cus_1")
    assert sleeps.delays == [7.0]


async def test_stripe_should_retry_overrides_the_status():
    transport, seen = scripted([httpx.Response(500, headers={"Stripe-Should-Retry": "false"},
                                               json={"error": {"message": "no"}})])
    sleeps = Sleeps()
    async with client_with(transport, sleeps) as stripe:
        with pytest.raises(StripeServerError):
            await stripe.retrieve_customer("cus_1")
    assert len(seen) == 1 and sleeps.delays == []

    transport, seen = scripted([httpx.Response(400, headers={"Stripe-Should-Retry": "true"}),
                                httpx.Response(200, json=OK)])
    async with client_with(transport, sleeps) as stripe:
        assert await stripe.retrieve_customer("cus_1") == OK
    assert len(seen) == 2


async def test_connection_errors_are_retried_then_raised_as_a_connection_error():
    transport, seen = scripted([httpx.ConnectError("refused")] * 4)
    sleeps = Sleeps()
    async with client_with(transport, sleeps, max_retries=3) as stripe:
        with pytest.raises(StripeConnectionError):
            await stripe.create_customer(name="x", metadata={}, idempotency_key="k")
    assert len(seen) == 4 and len(sleeps.delays) == 3


async def test_a_rate_limit_that_never_ends_raises_a_rate_limit_error():
    transport, seen = scripted([httpx.Response(429)] * 3)
    async with client_with(transport, Sleeps(), max_retries=2) as stripe:
        with pytest.raises(StripeRateLimitError) as raised:
            await stripe.retrieve_customer("cus_1")
    assert raised.value.status == 429 and len(seen) == 3


@pytest.mark.parametrize(("status", "body", "error"), [
    (402, {"error": {"type": "card_error", "code": "card_declined", "message": "Your card was declined."}},
     StripeCardError),
    (400, {"error": {"type": "invalid_request_error", "message": "Missing amount"}}, StripeInvalidRequestError),
    (404, {"error": {"type": "invalid_request_error", "message": "No such customer"}}, StripeInvalidRequestError),
    (401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key"}}, StripeAuthenticationError),
])
async def test_client_errors_are_typed_and_never_retried(status, body, error):
    transport, seen = scripted([httpx.Response(status, json=body)])
    sleeps = Sleeps()
    async with client_with(transport, sleeps) as stripe:
        with pytest.raises(error) as raised:
            await stripe.create_payment_intent(amount=100, currency="gbp", customer="cus_1", metadata={},
                                               idempotency_key="k")
    assert len(seen) == 1 and sleeps.delays == []
    assert raised.value.status == status
    assert str(raised.value) == body["error"]["message"]


# --- against localstripe ----------------------------------------------------------------------------------


async def test_customer_and_payment_intent_against_localstripe(localstripe):
    async with StripeClient(api_base=localstripe, secret_key="sk_test_local", sleep=Sleeps()) as stripe:
        customer = await stripe.create_customer(name="St Elsewhere NHS Foundation Trust",
                                                metadata={"organisation_id": "12"}, idempotency_key="org-12")
        assert customer["id"].startswith("cus_")
        assert (await stripe.retrieve_customer(customer["id"]))["metadata"] == {"organisation_id": "12"}

        intent = await stripe.create_payment_intent(amount=250_000, currency="gbp", customer=customer["id"],
                                                    metadata={"milestone_id": "5"}, idempotency_key="ms-5-pay")
        assert intent["status"] == "requires_payment_method"
        assert intent["amount"] == 250_000 and intent["metadata"] == {"milestone_id": "5"}

        card = await stripe.request("POST", "/v1/payment_methods", {
            "type": "card", "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"},
        }, idempotency_key="test-card")
        await stripe.request("POST", f"/v1/payment_intents/{intent['id']}", {"payment_method": card["id"]},
                             idempotency_key="test-attach")
        confirmed = await stripe.confirm_payment_intent(intent["id"], idempotency_key="test-confirm")
        assert confirmed["status"] == "succeeded"
        assert (await stripe.retrieve_payment_intent(intent["id"]))["status"] == "succeeded"

        refund = await stripe.create_refund(payment_intent=intent["id"], idempotency_key="ms-5-refund")
        assert refund["status"] == "succeeded" and refund["amount"] == 250_000


async def test_localstripe_validation_errors_are_typed(localstripe):
    async with StripeClient(api_base=localstripe, secret_key="sk_test_local", sleep=Sleeps()) as stripe:
        with pytest.raises(StripeInvalidRequestError) as raised:
            await stripe.retrieve_customer("cus_doesnotexist")
    assert raised.value.status == 404


async def test_an_unreachable_stripe_raises_a_connection_error(free_port):
    sleeps = Sleeps()
    async with StripeClient(api_base=f"http://127.0.0.1:{free_port}", secret_key="sk_test_x", sleep=sleeps,
                            max_retries=2) as stripe:
        with pytest.raises(StripeConnectionError):
            await stripe.retrieve_customer("cus_1")
    assert len(sleeps.delays) == 2
