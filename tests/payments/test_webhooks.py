"""Webhook signatures (pure) and POST /webhooks/stripe reconciling milestones and funds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from dps.audit.models import AuditEvent
from dps.funds.models import LedgerEntry
from dps.payments import services
from dps.payments.models import MilestonePayment, StripeEvent
from dps.payments.rules import split_over_lines
from dps.payments.webhooks import (
    MalformedEvent,
    SignatureError,
    compute_signature,
    construct_event,
    signature_header,
    verify,
)
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

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
T = int(NOW.timestamp())


# --- pure: signatures and the split -----------------------------------------------------------------------


def test_a_correct_signature_verifies_and_any_change_does_not():
    payload = b'{"id":"evt_1","type":"x","data":{"object":{}}}'
    verify(payload, signature_header("whsec_a", T, payload), "whsec_a", NOW)
    for header in [signature_header("whsec_b", T, payload), signature_header("whsec_a", T + 1, payload).replace(
            f"t={T + 1}", f"t={T}"), f"t={T},v1=", f"v1={compute_signature('whsec_a', T, payload)}", "", None]:
        with pytest.raises(SignatureError):
            verify(payload, header, "whsec_a", NOW)
    with pytest.raises(SignatureError):
        verify(payload + b" ", signature_header("whsec_a", T, payload), "whsec_a", NOW)


def test_any_one_of_several_v1_signatures_is_enough():
    payload = b"{}"
    good = compute_signature("whsec_new", T, payload)
    verify(payload, f"t={T},v1={'0' * 64},v0=abc,v1={good}", "whsec_new", NOW)


@pytest.mark.parametrize(("offset", "ok"), [(0, True), (300, True), (-300, True), (301, False), (-301, False)])
def test_the_timestamp_must_be_within_300_seconds_of_the_clock(offset, ok):
    payload = b"{}"
    header = signature_header("s", T - offset, payload)
    if ok:
        verify(payload, header, "s", NOW)
    else:
        with pytest.raises(SignatureError):
            verify(payload, header, "s", NOW)


@pytest.mark.parametrize("payload", [b"not json", b"[1,2]", b'{"id": "evt_1"}', b'{"id":"e","type":"t","data":{}}'])
def test_malformed_events_are_refused_even_when_signed(payload):
    with pytest.raises(MalformedEvent):
        construct_event(payload, signature_header("s", T, payload), "s", NOW)


@pytest.mark.parametrize(("amount", "lines", "expected"), [
    (300_000, [(1, 600_000), (2, 400_000)], [(1, 180_000), (2, 120_000)]),
    (100, [(1, 1), (2, 1), (3, 1)], [(1, 34), (2, 33), (3, 33)]),
    (5, [(1, 1_000_000)], [(1, 5)]),
    (500, [], []),
])
def test_a_milestone_is_split_over_the_fund_lines_in_proportion_and_sums_exactly(amount, lines, expected):
    split = split_over_lines(amount, [{"allocation_id": a, "pence": p} for a, p in lines])
    assert [(line["allocation_id"], line["pence"]) for line in split] == expected
    assert sum(line["pence"] for line in split) == (amount if lines else 0)


# --- the endpoint -----------------------------------------------------------------------------------------


async def raised(db, clock, deal, index=0):
    buyer = await buyer_of(db, deal)
    payment = await services.raise_milestone_payment(db, buyer, contract_id=deal.contract_id,
                                                     milestone_id=deal.milestone_ids[index], now=clock.now())
    return payment.id


def succeeded(payment_id, amount, event_id="evt_paid", intent="pi_test_1"):
    return event("payment_intent.succeeded", {"id": intent, "object": "payment_intent", "amount": amount,
                                              "status": "succeeded",
                                              "metadata": {"milestone_payment_id": str(payment_id)}}, event_id)


def refunded(payment_id, amount, event_id="evt_refunded", intent="pi_test_1"):
    return event("charge.refunded", {"id": "ch_1", "object": "charge", "payment_intent": intent, "amount": amount,
                                     "amount_refunded": amount, "refunded": True,
                                     "metadata": {"milestone_payment_id": str(payment_id)}}, event_id)


async def post(client, body, timestamp=T, secret=WEBHOOK_SECRET):
    payload, headers = signed(body, timestamp, secret)
    return await client.post("/webhooks/stripe", content=payload, headers=headers)


async def footprint(db, deal):
    return (await balances(db, deal), await count_rows(db, LedgerEntry), await count_rows(db, AuditEvent),
            await count_rows(db, StripeEvent))


async def test_a_success_event_pays_the_milestone_and_moves_committed_to_spent_once(client, db, passwords, clock):
    deal = await make_deal(db, passwords, clock)
    payment_id = await raised(db, clock, deal)
    assert await balances(db, deal) == [(5_000_000, 600_000, 0), (5_000_000, 400_000, 0)]

    response = await post(client, succeeded(payment_id, 300_000))
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "paid"
    assert await milestone_state(db, deal.milestone_ids[0]) == "paid"
    assert (await row(db, sa.select(MilestonePayment.state, MilestonePayment.stripe_payment_intent_id)
                      .where(MilestonePayment.id == payment_id))) == ("paid", "pi_test_1")
    assert await balances(db, deal) == [(5_000_000, 420_000, 180_000), (5_000_000, 280_000, 120_000)]
    actions = (await db.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id))).all()
    await db.commit()
    assert "milestone_payment.paid" in actions and actions.count("commitment.paid") == 2

    before = await footprint(db, deal)
    replay = await post(client, succeeded(payment_id, 300_000))
    assert replay.status_code == 200 and replay.json()["outcome"] == "duplicate"
    again = await post(client, succeeded(payment_id, 300_000, event_id="evt_paid_resent"))
    assert again.status_code == 200 and again.json()["outcome"] == "already_applied"
    after = await footprint(db, deal)
    assert after[:3] == before[:3] and after[3] == before[3] + 1


async def test_a_refund_event_moves_the_money_back(client, db, passwords, clock):
    deal = await make_deal(db, passwords, clock)
    payment_id = await raised(db, clock, deal, index=1)
    await post(client, succeeded(payment_id, 500_000))
    assert await balances(db, deal) == [(5_000_000, 300_000, 300_000), (5_000_000, 200_000, 200_000)]
    response = await post(client, refunded(payment_id, 500_000))
    assert response.status_code == 200 and response.json()["outcome"] == "refunded"
    assert await milestone_state(db, deal.milestone_ids[1]) == "refunded"
    assert await balances(db, deal) == [(5_000_000, 600_000, 0), (5_000_000, 400_000, 0)]
    replay = await post(client, refunded(payment_id, 500_000))
    assert replay.json()["outcome"] == "duplicate"
    assert await balances(db, deal) == [(5_000_000, 600_000, 0), (5_000_000, 400_000, 0)]


async def test_out_of_order_a_refund_before_its_success_ends_refunded_and_the_late_success_changes_nothing(
        client, db, passwords, clock):
    deal = await make_deal(db, passwords, clock)
    payment_id = await raised(db, clock, deal)
    first = await post(client, refunded(payment_id, 300_000))
    assert first.json()["outcome"] == "refunded"
    assert await milestone_state(db, deal.milestone_ids[0]) == "refunded"
    assert await balances(db, deal) == [(5_000_000, 600_000, 0), (5_000_000, 400_000, 0)]
    before = await footprint(db, deal)
    late = await post(client, succeeded(payment_id, 300_000))
    assert late.status_code == 200 and late.json()["outcome"] == "already_applied"
    assert (await footprint(db, deal))[:3] == before[:3]
    assert await milestone_state(db, deal.milestone_ids[0]) == "refunded"


@pytest.mark.parametrize("case", ["bad_signature", "wrong_secret", "stale", "future", "malformed", "no_header"])
async def test_refused_deliveries_get_400_and_change_nothing(client, db, passwords, clock, case):
    deal = await make_deal(db, passwords, clock)
    payment_id = await raised(db, clock, deal)
    before = await footprint(db, deal)
    body = succeeded(payment_id, 300_000)
    if case == "bad_signature":
        payload, headers = signed(body, T)
        response = await client.post("/webhooks/stripe", content=payload.replace(b"300000", b"300001"),
                                     headers=headers)
    elif case == "wrong_secret":
        response = await post(client, body, secret="whsec_someone_else")
    elif case == "stale":
        response = await post(client, body, timestamp=T - 301)
    elif case == "future":
        response = await post(client, body, timestamp=T + 301)
    elif case == "malformed":
        response = await post(client, b'{"id": "evt_x", "type": "payment_intent.succeeded", ')
    else:
        payload, _ = signed(body, T)
        response = await client.post("/webhooks/stripe", content=payload,
                                     headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    after = await footprint(db, deal)
    if case == "malformed":  # signed by Stripe but unreadable: kept on record, nothing else changes
        assert after[:3] == before[:3] and after[3] == before[3] + 1
    else:
        assert after == before
    assert await milestone_state(db, deal.milestone_ids[0]) == "payment_requested"


def _nested(depth: int) -> bytes:
    return b'{"id": "evt_deep", "type": "payment_intent.succeeded", "data": {"object": {"metadata": ' + (
        b'{"a": ' * depth) + b"1" + (b"}" * depth) + b"}}}"


@pytest.mark.parametrize("case", ["long_id", "text_amount", "object_id", "object_intent", "deep", "nul"])
async def test_signed_but_malformed_events_get_400_are_recorded_and_change_nothing_else(client, db, passwords,
                                                                                         clock, case):
    deal = await make_deal(db, passwords, clock)
    payment_id = await raised(db, clock, deal)
    before = await footprint(db, deal)
    body = succeeded(payment_id, 300_000)
    if case == "long_id":
        body["id"] = "evt_" + "x" * 5000
    elif case == "text_amount":
        body["data"]["object"]["amount"] = "300000"
    elif case == "object_id":
        body["id"] = {"$gt": ""}
    elif case == "object_intent":
        body["data"]["object"]["id"] = {"nested": "pi_1"}
    elif case == "nul":
        body["data"]["object"]["id"] = "pi_\u0000x"
    response = await post(client, _nested(5000) if case == "deep" else body)
    assert response.status_code == 400, response.text
    after = await footprint(db, deal)
    assert after[:3] == before[:3] and after[3] == before[3] + 1
    assert await scalar_outcomes(db) == ["malformed"]
    again = await post(client, _nested(5000) if case == "deep" else body)
    assert again.status_code == 400 and (await footprint(db, deal))[3] == after[3]  # recorded once
    assert await milestone_state(db, deal.milestone_ids[0]) == "payment_requested"


async def scalar_outcomes(db) -> list[str]:
    return list((await db.execute(sa.select(StripeEvent.outcome))).scalars())


async def test_a_refund_for_a_success_refused_for_its_amount_is_refused_too(client, db, passwords, clock):
    deal = await make_deal(db, passwords, clock)
    payment_id = await raised(db, clock, deal)
    assert (await post(client, succeeded(payment_id, 299_999))).json()["outcome"] == "amount_mismatch"
    refund = event("charge.refunded", {"id": "ch_1", "object": "charge", "payment_intent": None, "amount": 299_999,
                                       "amount_refunded": 299_999,
                                       "metadata": {"milestone_payment_id": str(payment_id)}}, "evt_refund_wrong")
    response = await post(client, refund)
    assert response.status_code == 200 and response.json()["outcome"] != "refunded"
    assert await milestone_state(db, deal.milestone_ids[0]) == "payment_requested"
    assert await balances(db, deal) == [(5_000_000, 600_000, 0), (5_000_000, 400_000, 0)]


async def test_unknown_event_types_get_200_and_change_nothing(client, db, passwords, clock):
    deal = await make_deal(db, passwords, clock)
    await raised(db, clock, deal)
    before = await footprint(db, deal)
    response = await post(client, event("customer.created", {"id": "cus_1", "object": "customer"}, "evt_c"))
    assert response.status_code == 200 and response.json()["outcome"] == "ignored"
    after = await footprint(db, deal)
    assert after[:3] == before[:3]


async def test_a_success_for_a_payment_we_do_not_know_changes_nothing(client, db, passwords, clock):
    deal = await make_deal(db, passwords, clock)
    before = await footprint(db, deal)
    response = await post(client, event("payment_intent.succeeded", {"id": "pi_other", "amount": 5, "metadata": {}}))
    assert response.status_code == 200 and response.json()["outcome"] == "unknown_payment"
    assert (await footprint(db, deal))[:3] == before[:3]


async def test_a_success_for_the_wrong_amount_is_not_applied(client, db, passwords, clock):
    deal = await make_deal(db, passwords, clock)
    payment_id = await raised(db, clock, deal)
    response = await post(client, succeeded(payment_id, 299_999))
    assert response.json()["outcome"] == "amount_mismatch"
    assert await milestone_state(db, deal.milestone_ids[0]) == "payment_requested"
    assert await balances(db, deal) == [(5_000_000, 600_000, 0), (5_000_000, 400_000, 0)]


async def test_concurrent_duplicate_deliveries_pay_once(client, db, passwords, clock):
    import asyncio

    deal = await make_deal(db, passwords, clock)
    payment_id = await raised(db, clock, deal)
    responses = await asyncio.gather(*[post(client, succeeded(payment_id, 300_000, event_id=event_id))
                                       for event_id in ("evt_a", "evt_a", "evt_b", "evt_b")])
    assert [r.status_code for r in responses] == [200] * 4
    assert sorted(r.json()["outcome"] for r in responses).count("paid") == 1
    assert await balances(db, deal) == [(5_000_000, 420_000, 180_000), (5_000_000, 280_000, 120_000)]
    assert await count_rows(db, StripeEvent) == 2
