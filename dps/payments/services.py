"""Milestone payments: raised by the buyer, created at Stripe through the outbox, reconciled by webhooks.

- `raise_milestone_payment` (buyer): a MilestonePayment row and an outbox message "stripe" in one transaction.
  Contracts and their milestones are read, and milestones moved on, through dps.contracts.services.
- `stripe_consumer` (outbox): makes sure the buyer organisation has a Stripe Customer, then creates the payment
  intent (or the refund). localstripe ignores Idempotency-Key, so the Stripe id is stored against our own key and
  looked up before creating again; a dead Stripe raises, and the outbox retries the message later.
- `handle_event` (webhook): stores the event id once; on payment_intent.succeeded moves the milestone to paid and
  the money from committed to spent (dps.funds.services.record_payment), on charge.refunded back again, all in
  the caller's transaction with the audit events. Every state change is one conditional UPDATE, so a replay,
  a concurrent duplicate or an out-of-order event changes nothing twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dps.audit.services import Actor, record
from dps.calendar import london_date
from dps.clock import SystemClock
from dps.contracts.models import Contract, ContractMilestone
from dps.contracts.rules import MilestoneEvent, MilestoneState, may_request_payment
from dps.contracts.services import contract_for_buyer, email_members, milestone_of_contract, move_milestone
from dps.db import changed_rows, make_engine, make_sessionmaker, table_of
from dps.errors import Conflict, NotFound, ValidationFailed
from dps.forms import whole_number
from dps.funds import services as funds
from dps.funds.models import Commitment, CommitmentSource
from dps.identity.models import Organisation, Role
from dps.identity.services import SignedInUser
from dps.mail import page_link
from dps.money import format_pence
from dps.outbox.models import OutboxMessage
from dps.outbox.services import enqueue
from dps.payments.models import MilestonePayment, PaymentState, StripeCustomer, StripeEvent
from dps.payments.rules import split_over_lines
from dps.payments.stripe_client import StripeClient
from dps.payments.webhooks import construct_event, signature_header

logger = logging.getLogger("dps.payments")

STRIPE_TOPIC = "stripe"
WEBHOOK_ACTOR = Actor.system("stripe-webhook")
WORKER_ACTOR = Actor.system("stripe-outbox")
PAYMENTS = table_of(MilestonePayment)


# --- reading ----------------------------------------------------------------------------------------------


async def milestones_with_payments(session: AsyncSession,
                                   contract_id: int) -> list[tuple[ContractMilestone, MilestonePayment | None]]:
    rows = await session.execute(
        sa.select(ContractMilestone, MilestonePayment)
        .outerjoin(MilestonePayment, col(MilestonePayment.milestone_id) == ContractMilestone.id)
        .where(col(ContractMilestone.contract_id) == contract_id)
        .order_by(col(ContractMilestone.sequence))
        .execution_options(populate_existing=True))
    return [(milestone, payment) for milestone, payment in rows]


# --- the buyer raises a payment ---------------------------------------------------------------------------


async def _commitment_of(session: AsyncSession, contract: Contract) -> int | None:
    if not contract.fund_lines:
        return None
    commitment_id = await session.scalar(sa.select(col(Commitment.id)).where(
        col(Commitment.source) == CommitmentSource.AWARD,
        col(Commitment.reference) == f"competition:{contract.competition_id}"))
    if commitment_id is None:
        raise Conflict("The fund commitment of this contract cannot be found")
    return int(commitment_id)


PAYMENTS_OFF = ("Payments cannot be made yet because this service is not connected to Stripe, the payment "
                "provider. Nothing has been raised. Contact the DPS service team to switch payments on.")


async def raise_milestone_payment(session: AsyncSession, user: SignedInUser, *, contract_id: int, milestone_id: int,
                                  now: datetime, stripe_configured: bool = True) -> MilestonePayment:
    """The buyer asks for a milestone to be paid: the payment and its outbox message, in one transaction. Refused at
    once, with nothing queued, when Stripe is not configured (`stripe_configured`: the settings have a secret key),
    rather than waiting for ever in the outbox."""
    if not stripe_configured:
        raise ValidationFailed(PAYMENTS_OFF, field="milestone_id")
    contract = await contract_for_buyer(session, user, contract_id)
    milestone = await milestone_of_contract(session, contract, milestone_id)
    if not may_request_payment(milestone.state):
        if milestone.state in (MilestoneState.PLANNED, MilestoneState.DELIVERED, MilestoneState.REJECTED):
            raise Conflict(f"The milestone \u201c{milestone.title}\u201d can be paid only once the supplier has "
                           "delivered it and you have accepted it")
        raise Conflict(f"The milestone \u201c{milestone.title}\u201d is already {milestone.state.replace('_', ' ')}")
    if milestone.amount_pence <= 0:
        raise ValidationFailed("A milestone of no value needs no payment", field="milestone_id")
    commitment_id = await _commitment_of(session, contract)
    fund_split = split_over_lines(milestone.amount_pence, contract.fund_lines)
    if commitment_id is not None:  # RULES.md 5: no payment from money that lapsed at 31 March (asked before Stripe)
        await funds.check_can_pay(session, commitment_id=commitment_id,
                                  allocation_ids=[int(line["allocation_id"]) for line in fund_split],
                                  on=london_date(now))
    if not await move_milestone(session, milestone.id or 0, MilestoneEvent.REQUEST_PAYMENT):
        raise Conflict("This milestone changed while the payment was being raised: look again")
    payment = MilestonePayment(
        milestone_id=milestone.id or 0, contract_id=contract.id or 0,
        buyer_organisation_id=contract.buyer_organisation_id,
        supplier_organisation_id=contract.supplier_organisation_id, amount_pence=milestone.amount_pence,
        state=PaymentState.REQUESTED, idempotency_key=f"milestone-{milestone.id}-payment",
        commitment_id=commitment_id, fund_split=fund_split,
        requested_by_user_id=user.id, requested_at=now, updated_at=now)
    session.add(payment)
    await session.flush()
    await record(session, actor=Actor(user.id, user.email), action="milestone_payment.raised",
                 entity_type="milestone_payment", entity_id=payment.id or 0, now=now,
                 after={"milestone_id": milestone.id, "contract_id": contract.id,
                        "amount_pence": payment.amount_pence, "fund_split": payment.fund_split})
    await enqueue(session, topic=STRIPE_TOPIC, dedupe_key=f"stripe:{payment.idempotency_key}",
                  payload={"action": "create_payment_intent", "payment_id": payment.id}, now=now)
    await session.commit()
    return payment


async def request_refund(session: AsyncSession, user: SignedInUser, *, contract_id: int, payment_id: int,
                         reason: str, now: datetime) -> MilestonePayment:
    """The buyer asks for a paid milestone to be refunded; the refund is created at Stripe through the outbox
    and the money moves back only when Stripe reports it (charge.refunded)."""
    reason = reason.strip()
    if not reason:
        raise ValidationFailed("Enter the reason for the refund", field="reason")
    contract = await contract_for_buyer(session, user, contract_id)
    payment = await session.scalar(sa.select(MilestonePayment).where(
        col(MilestonePayment.id) == payment_id, col(MilestonePayment.contract_id) == contract.id))
    if payment is None:
        raise NotFound("There is no such payment")
    changed = await changed_rows(session,
        sa.update(PAYMENTS).where(PAYMENTS.c.id == payment.id, PAYMENTS.c.state == PaymentState.PAID)
        .values(state=PaymentState.REFUND_REQUESTED, refund_reason=reason, updated_at=now))
    if changed != 1:
        raise Conflict("Only a paid milestone can be refunded")
    await record(session, actor=Actor(user.id, user.email), action="milestone_payment.refund_requested",
                 entity_type="milestone_payment", entity_id=payment.id or 0, now=now, after={"reason": reason})
    await enqueue(session, topic=STRIPE_TOPIC, dedupe_key=f"stripe:milestone-{payment.milestone_id}-refund",
                  payload={"action": "create_refund", "payment_id": payment.id}, now=now)
    await session.commit()
    return payment


# --- test mode: the buyer completes the payment from our own page -----------------------------------------

TEST_CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}  # Stripe's test card


async def pay_in_test_mode(session: AsyncSession, user: SignedInUser, *, contract_id: int, payment_id: int,
                           stripe: StripeClient, webhook_secret: str, now: datetime) -> str:
    """"Pay now (test mode)": what the trust's finance team would do at Stripe, done against a test Stripe (the
    local stand-in in development): pay the payment intent with Stripe's test card, then deliver Stripe's signed
    `payment_intent.succeeded` event through the same verification and handling as the webhook endpoint, so the
    payment ends paid even when Stripe's own webhook cannot reach us. Returns the event's outcome ("paid", or
    "already_applied" when Stripe's webhook got there first). The caller makes sure Stripe is in test mode."""
    contract = await contract_for_buyer(session, user, contract_id)
    payment = await session.scalar(sa.select(MilestonePayment).where(
        col(MilestonePayment.id) == payment_id, col(MilestonePayment.contract_id) == contract.id)
        .execution_options(populate_existing=True))
    if payment is None:
        raise NotFound("There is no such payment")
    intent_id = payment.stripe_payment_intent_id
    if payment.state == PaymentState.REQUESTED or not intent_id:
        raise Conflict("The payment is still being set up with Stripe: wait a few seconds, then try again")
    if payment.state not in (PaymentState.AWAITING_PAYMENT, PaymentState.FAILED):
        raise Conflict("Only a payment that is awaiting payment can be paid")
    await session.commit()  # hold no transaction (on SQLite, the write lock) while Stripe answers
    intent = await stripe.retrieve_payment_intent(intent_id)
    if intent.get("status") != "succeeded":
        card = await stripe.request("POST", "/v1/payment_methods", {"type": "card", "card": TEST_CARD},
                                    idempotency_key=f"milestone-{payment.milestone_id}-test-card-{payment.id}")
        await stripe.request("POST", f"/v1/payment_intents/{intent_id}", {"payment_method": card["id"]},
                             idempotency_key=f"milestone-{payment.milestone_id}-test-method-{payment.id}")
        intent = await stripe.confirm_payment_intent(intent_id,
                                                     idempotency_key=f"milestone-{payment.milestone_id}-test-pay")
    if intent.get("status") != "succeeded":
        raise Conflict(f"Stripe did not take the test payment (it says {intent.get('status')})")
    timestamp = int(now.timestamp())
    body = json.dumps({"id": f"evt_test_mode_{intent_id}", "object": "event", "type": "payment_intent.succeeded",
                       "created": timestamp, "livemode": False, "data": {"object": intent}}).encode()
    event = construct_event(body, signature_header(webhook_secret, timestamp, body), webhook_secret, now)
    await record(session, actor=Actor(user.id, user.email), action="milestone_payment.paid_in_test_mode",
                 entity_type="milestone_payment", entity_id=payment.id or 0, now=now,
                 after={"payment_intent": intent_id})
    outcome = await handle_event(session, event, now)
    await session.commit()
    return outcome


# --- the outbox consumer ----------------------------------------------------------------------------------


Sessionmaker = Callable[[], Any]


async def _ensure_customer(sessions: Sessionmaker, stripe: StripeClient, organisation_id: int,
                           now: datetime) -> str:
    async with sessions() as session:
        known = await session.scalar(sa.select(col(StripeCustomer.stripe_customer_id))
                                     .where(col(StripeCustomer.organisation_id) == organisation_id))
        organisation = await session.get(Organisation, organisation_id)
        await session.commit()
    if known:
        return str(known)
    if organisation is None:
        raise NotFound(f"organisation {organisation_id}")
    customer = await stripe.create_customer(
        name=organisation.name, metadata={"organisation_id": str(organisation_id),
                                          "ods_code": organisation.ods_code or ""},
        idempotency_key=f"organisation-{organisation_id}-customer")
    async with sessions() as session:
        try:
            session.add(StripeCustomer(organisation_id=organisation_id, stripe_customer_id=customer["id"],
                                       created_at=now))
            await session.commit()
        except IntegrityError:  # another worker stored one first: use theirs
            await session.rollback()
            known = await session.scalar(sa.select(col(StripeCustomer.stripe_customer_id))
                                         .where(col(StripeCustomer.organisation_id) == organisation_id))
            await session.commit()
            return str(known)
    return str(customer["id"])


async def create_payment_intent(sessions: Sessionmaker, stripe: StripeClient, payment_id: int,
                                now: datetime) -> None:
    async with sessions() as session:
        payment = await session.get(MilestonePayment, payment_id)
        await session.commit()
    if payment is None:
        raise NotFound(f"milestone payment {payment_id}")
    if payment.stripe_payment_intent_id:  # created by an earlier attempt: nothing to do
        return
    customer = await _ensure_customer(sessions, stripe, payment.buyer_organisation_id, now)
    # An earlier attempt may have created it and lost the answer: look it up before creating again.
    intent = await stripe.find_payment_intent(customer=customer, metadata_key="milestone_payment_id",
                                              metadata_value=str(payment.id)) or await stripe.create_payment_intent(
        amount=payment.amount_pence, currency=payment.currency, customer=customer,
        metadata={"milestone_payment_id": str(payment.id), "milestone_id": str(payment.milestone_id),
                  "contract_id": str(payment.contract_id)},
        idempotency_key=payment.idempotency_key)
    async with sessions() as session:
        await session.execute(
            sa.update(PAYMENTS).where(PAYMENTS.c.id == payment_id, PAYMENTS.c.stripe_payment_intent_id.is_(None))
            .values(stripe_payment_intent_id=intent["id"], updated_at=now))
        moved = await changed_rows(session,
            sa.update(PAYMENTS).where(PAYMENTS.c.id == payment_id, PAYMENTS.c.state == PaymentState.REQUESTED)
            .values(state=PaymentState.AWAITING_PAYMENT))
        if moved:
            await record(session, actor=WORKER_ACTOR, action="milestone_payment.created_at_stripe",
                         entity_type="milestone_payment", entity_id=payment_id, now=now,
                         after={"payment_intent": intent["id"]})
        await session.commit()


async def create_refund(sessions: Sessionmaker, stripe: StripeClient, payment_id: int, now: datetime) -> None:
    async with sessions() as session:
        payment = await session.get(MilestonePayment, payment_id)
        await session.commit()
    if payment is None:
        raise NotFound(f"milestone payment {payment_id}")
    if payment.stripe_refund_id or payment.state != PaymentState.REFUND_REQUESTED:
        return
    if not payment.stripe_payment_intent_id:
        raise Conflict(f"milestone payment {payment_id} has no payment intent to refund")
    refund = await stripe.create_refund(payment_intent=payment.stripe_payment_intent_id,
                                        metadata={"milestone_payment_id": str(payment_id)},
                                        idempotency_key=f"milestone-{payment.milestone_id}-refund")
    async with sessions() as session:
        await session.execute(
            sa.update(PAYMENTS).where(PAYMENTS.c.id == payment_id, PAYMENTS.c.stripe_refund_id.is_(None))
            .values(stripe_refund_id=refund["id"], updated_at=now))
        await session.commit()


def stripe_consumer(settings: Any, *, clock: Any = None,
                    client_factory: Callable[[], StripeClient] | None = None):  # an outbox consumer
    """The outbox consumer of topic "stripe". Any failure (Stripe down, 5xx after retries) raises: the outbox
    keeps the message and tries again later; the stored Stripe ids make the retry create nothing twice."""
    the_clock = clock or SystemClock()

    def default_client() -> StripeClient:
        if not settings.stripe_secret_key:
            raise RuntimeError("STRIPE_SECRET_KEY is not set")
        return StripeClient(api_base=settings.stripe_api_base, secret_key=settings.stripe_secret_key)

    make_client = client_factory or default_client
    actions: dict[str, Callable[..., Awaitable[None]]] = {
        "create_payment_intent": create_payment_intent, "create_refund": create_refund}

    async def apply(message: OutboxMessage) -> None:
        action = actions.get(str(message.payload.get("action")))
        if action is None:
            logger.warning("outbox stripe message %s has an unknown action: dropped", message.id)
            return
        engine = make_engine(settings.database_url)
        try:
            async with make_client() as stripe:
                await action(make_sessionmaker(engine), stripe, int(message.payload["payment_id"]), the_clock.now())
        finally:
            await engine.dispose()

    return apply


# --- webhooks: reconciliation -----------------------------------------------------------------------------


async def _payment_for(session: AsyncSession, intent_id: str | None, metadata: Any) -> MilestonePayment | None:
    """By the payment intent id, or (an event that arrives before the outbox stored the id) by our metadata."""
    payment = None
    if intent_id:
        payment = await session.scalar(sa.select(MilestonePayment)
                                       .where(col(MilestonePayment.stripe_payment_intent_id) == intent_id)
                                       .execution_options(populate_existing=True))
    payment_id = whole_number(str(metadata.get("milestone_payment_id", ""))) if isinstance(metadata, dict) else None
    if payment is None and payment_id is not None:
        payment = await session.scalar(sa.select(MilestonePayment)
                                       .where(col(MilestonePayment.id) == payment_id)
                                       .execution_options(populate_existing=True))
        if payment is not None and intent_id and payment.stripe_payment_intent_id not in (None, intent_id):
            return None  # another intent of ours: not this payment
    return payment


async def _move_milestone_with(session: AsyncSession, payment: MilestonePayment, event: MilestoneEvent) -> None:
    """The milestone follows its payment. The payment's own conditional UPDATE has already decided that this event
    happens once, so a milestone that does not move is out of step: say so, and keep the payment's outcome."""
    if not await move_milestone(session, payment.milestone_id, event):
        logger.error("milestone %s did not move on %s with payment %s", payment.milestone_id, event, payment.id)


async def _email_paid(session: AsyncSession, payment: MilestonePayment, now: datetime) -> None:
    """Tell both sides the milestone is paid, each with a link to its own page of the contract."""
    contract = await session.get(Contract, payment.contract_id)
    milestone = await session.get(ContractMilestone, payment.milestone_id)
    if contract is None or milestone is None:
        return
    what = f"\u201c{milestone.title}\u201d of {contract.title}, {format_pence(payment.amount_pence)}"
    for organisation_id, portal, opening in (
            (contract.buyer_organisation_id, "buyer", f"Stripe confirmed your payment of the milestone {what}."),
            (contract.supplier_organisation_id, "supplier", f"The buyer has paid the milestone {what}.")):
        await email_members(session, organisation_id, key=f"milestone-payment:{payment.id}:paid:{portal}",
                            roles=(Role.BUYER,) if portal == "buyer" else None,
                            subject=f"Milestone paid: {milestone.title} ({contract.title})",
                            body=f"{opening}\n\nSee the contract:\n"
                                 f"{page_link(f'/{portal}/contracts/{contract.id}#milestone-{milestone.id}')}\n",
                            now=now)


async def _mark_paid(session: AsyncSession, payment: MilestonePayment, intent_id: str | None, amount: int | None,
                     now: datetime) -> str:
    if amount is not None and amount != payment.amount_pence:
        logger.error("payment intent %s paid %s pence for payment %s of %s pence", intent_id, amount, payment.id,
                     payment.amount_pence)
        return "amount_mismatch"
    moved = await changed_rows(session,
        sa.update(PAYMENTS)
        .where(PAYMENTS.c.id == payment.id, PAYMENTS.c.state.in_(
            [PaymentState.REQUESTED, PaymentState.AWAITING_PAYMENT, PaymentState.FAILED]))
        .values(state=PaymentState.PAID, paid_at=now, updated_at=now, last_error=None,
                stripe_payment_intent_id=sa.func.coalesce(PAYMENTS.c.stripe_payment_intent_id, intent_id)))
    if moved != 1:
        return "already_applied"
    await record(session, actor=WEBHOOK_ACTOR, action="milestone_payment.paid", entity_type="milestone_payment",
                 entity_id=payment.id or 0, now=now,
                 after={"payment_intent": intent_id, "amount_pence": payment.amount_pence,
                        "milestone_id": payment.milestone_id})
    await _move_milestone_with(session, payment, MilestoneEvent.PAY)
    await _email_paid(session, payment, now)
    if payment.commitment_id is not None:
        for line in sorted(payment.fund_split, key=lambda item: int(item["allocation_id"])):
            await funds.record_payment(session, commitment_id=payment.commitment_id,
                                       allocation_id=int(line["allocation_id"]), pence=int(line["pence"]),
                                       actor=WEBHOOK_ACTOR, now=now, payable_on=london_date(payment.requested_at),
                                       reason=f"Milestone payment {payment.id} ({intent_id})")
    return "paid"


async def _mark_refunded(session: AsyncSession, payment: MilestonePayment, intent_id: str | None,
                         charged: int | None, now: datetime) -> str:
    if payment.state in (PaymentState.REQUESTED, PaymentState.AWAITING_PAYMENT, PaymentState.FAILED):
        # The refund arrived before the success it refunds (Stripe does not promise order): apply both, the
        # success only for the amount asked (a success refused as amount_mismatch stays refused here too).
        outcome = await _mark_paid(session, payment, intent_id, charged, now)
        if outcome != "paid":
            return outcome
    moved = await changed_rows(session,
        sa.update(PAYMENTS)
        .where(PAYMENTS.c.id == payment.id, PAYMENTS.c.state.in_([PaymentState.PAID, PaymentState.REFUND_REQUESTED]))
        .values(state=PaymentState.REFUNDED, refunded_at=now, updated_at=now))
    if moved != 1:
        return "already_applied"
    reason = payment.refund_reason or "Refunded at Stripe"
    await record(session, actor=WEBHOOK_ACTOR, action="milestone_payment.refunded", entity_type="milestone_payment",
                 entity_id=payment.id or 0, now=now, after={"payment_intent": intent_id, "reason": reason})
    await _move_milestone_with(session, payment, MilestoneEvent.REFUND)
    if payment.commitment_id is not None:
        for line in sorted(payment.fund_split, key=lambda item: int(item["allocation_id"])):
            await funds.record_refund(session, commitment_id=payment.commitment_id,
                                      allocation_id=int(line["allocation_id"]), pence=int(line["pence"]),
                                      reason=f"{reason} (milestone payment {payment.id})", actor=WEBHOOK_ACTOR,
                                      now=now)
    return "refunded"


async def _mark_failed(session: AsyncSession, payment: MilestonePayment, obj: dict[str, Any], now: datetime) -> str:
    error = obj.get("last_payment_error") or {}
    message = str(error.get("message") or "The payment failed") if isinstance(error, dict) else "The payment failed"
    moved = await changed_rows(session,
        sa.update(PAYMENTS)
        .where(PAYMENTS.c.id == payment.id,
               PAYMENTS.c.state.in_([PaymentState.REQUESTED, PaymentState.AWAITING_PAYMENT, PaymentState.FAILED]))
        .values(state=PaymentState.FAILED, last_error=message[:2000], updated_at=now))
    return "failed" if moved else "already_applied"


async def record_malformed_event(session: AsyncSession, payload: bytes, reason: str, now: datetime) -> None:
    """Keep a signed event we could not read, once (keyed by the payload's hash), for the people who look into
    payments; nothing else changes. Commits."""
    key = "malformed_" + hashlib.sha256(payload).hexdigest()[:64]
    if await session.get(StripeEvent, key) is None:
        session.add(StripeEvent(id=key, type="malformed", outcome="malformed", received_at=now,
                                payload={"reason": reason, "raw": payload[:20_000].decode("utf-8", "replace")
                                         .replace("\x00", "")}))
        try:
            await session.commit()
        except IntegrityError:  # the same payload delivered twice at once: the other delivery recorded it
            await session.rollback()


async def handle_event(session: AsyncSession, event: dict[str, Any], now: datetime) -> str:
    """Apply one verified Stripe event in the caller's transaction (which the caller commits). Returns the
    outcome: "duplicate" when this event id was stored before (nothing changes), "ignored" for types we do not
    act on, otherwise what happened."""
    if await session.get(StripeEvent, event["id"]) is not None:
        return "duplicate"
    event_type = event["type"]
    obj = event["data"]["object"]
    outcome = "ignored"
    payment: MilestonePayment | None = None
    if event_type in ("payment_intent.succeeded", "payment_intent.payment_failed"):
        payment = await _payment_for(session, obj.get("id"), obj.get("metadata"))
        if payment is None:
            outcome = "unknown_payment"
        elif event_type == "payment_intent.succeeded":
            outcome = await _mark_paid(session, payment, obj.get("id"), obj.get("amount"), now)
        else:
            outcome = await _mark_failed(session, payment, obj, now)
    elif event_type == "charge.refunded":
        payment = await _payment_for(session, obj.get("payment_intent"), obj.get("metadata"))
        if payment is None:
            outcome = "unknown_payment"
        elif obj.get("amount_refunded") is not None and obj["amount_refunded"] < payment.amount_pence:
            outcome = "partial_refund_not_supported"
        else:
            outcome = await _mark_refunded(session, payment, obj.get("payment_intent"), obj.get("amount"), now)
    session.add(StripeEvent(id=event["id"], type=event_type[:100], outcome=outcome,
                            milestone_payment_id=payment.id if payment is not None else None, received_at=now,
                            payload=event))
    await session.flush()
    return outcome
