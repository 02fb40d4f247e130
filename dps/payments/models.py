"""Stripe customers of buyer organisations, milestone payments, and the Stripe events we have received."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from dps.db import utc_column


class PaymentState(StrEnum):
    REQUESTED = "requested"  # raised by the buyer; the outbox has not yet created it at Stripe
    AWAITING_PAYMENT = "awaiting_payment"  # the payment intent exists at Stripe
    FAILED = "failed"  # Stripe reported a failed attempt; it can still succeed later
    PAID = "paid"
    REFUND_REQUESTED = "refund_requested"
    REFUNDED = "refunded"


class StripeCustomer(SQLModel, table=True):
    """A buyer organisation's Stripe Customer, created on first need."""

    __tablename__ = "stripe_customer"

    id: int = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", unique=True)
    stripe_customer_id: str = Field(max_length=100, unique=True)
    created_at: datetime = Field(sa_column=utc_column())


class MilestonePayment(SQLModel, table=True):
    """One payment of one contract milestone. `idempotency_key` is derived from our own entity and is sent with
    every POST that creates it at Stripe; the Stripe ids are stored against it once known."""

    __tablename__ = "milestone_payment"

    id: int = Field(default=None, primary_key=True)
    milestone_id: int = Field(foreign_key="contract_milestone.id", unique=True)
    contract_id: int = Field(foreign_key="contract.id", index=True)
    buyer_organisation_id: int = Field(foreign_key="organisation.id", index=True)
    supplier_organisation_id: int = Field(foreign_key="organisation.id", index=True)
    amount_pence: int = Field(sa_type=sa.BigInteger)
    currency: str = Field(default="gbp", max_length=3)
    state: str = Field(max_length=20, index=True)
    idempotency_key: str = Field(max_length=120, unique=True)
    stripe_payment_intent_id: str | None = Field(default=None, max_length=100, unique=True)
    stripe_refund_id: str | None = Field(default=None, max_length=100)
    # The fund commitment this payment draws on, and how the amount is split over its lines:
    # [{"allocation_id": int, "pence": int}, ...] (empty when the contract is not fund-backed).
    commitment_id: int | None = Field(default=None, foreign_key="fund_commitment.id")
    fund_split: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    refund_reason: str = Field(default="", sa_type=sa.Text)
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    requested_by_user_id: int = Field(foreign_key="user_account.id")
    requested_at: datetime = Field(sa_column=utc_column())
    updated_at: datetime = Field(sa_column=utc_column())
    paid_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    refunded_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class StripeEvent(SQLModel, table=True):
    """Each Stripe event id once: a replayed delivery finds its row and changes nothing."""

    __tablename__ = "stripe_event"

    id: str = Field(primary_key=True, max_length=100)
    type: str = Field(max_length=100)
    outcome: str = Field(max_length=40)
    milestone_payment_id: int | None = Field(default=None, foreign_key="milestone_payment.id")
    received_at: datetime = Field(sa_column=utc_column())
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
