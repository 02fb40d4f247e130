"""Mini-competitions: the requirement, who was invited, clarifications, sealed bids, evaluation, award, standstill
and the award notice data kept for publication (C9/C10). The contract an award makes is in dps.contracts."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from dps.db import utc_column


class Competition(SQLModel, table=True):
    __tablename__ = "competition"
    __table_args__ = (sa.Index("ix_competition_state_tender_deadline", "state", "tender_deadline"),)

    id: int | None = Field(default=None, primary_key=True)
    buyer_organisation_id: int = Field(foreign_key="organisation.id", index=True)
    category_id: int = Field(foreign_key="category.id", index=True)
    state: str = Field(max_length=20)
    title: str = Field(max_length=200)
    requirement: str = Field(default="", sa_type=sa.Text)
    estimated_value_pence: int = Field(sa_type=sa.BigInteger)
    contract_starts_on: date
    contract_ends_on: date
    clarification_deadline: datetime = Field(sa_column=utc_column())
    tender_deadline: datetime = Field(sa_column=utc_column())
    # Award criteria as published (C3): a list of dps.competitions.rules.Criterion.to_json() rows.
    criteria: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    # C7: how a tie on the total score is broken (dps.competitions.rules.TieBreak), published with the criteria.
    tie_break: str | None = Field(default=None, max_length=40)
    # Intended fund allocations set by the buyer: [{"allocation_id": int, "pence": int}, ...].
    fund_lines: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    created_by_user_id: int = Field(foreign_key="user_account.id")
    created_at: datetime = Field(sa_column=utc_column())
    updated_at: datetime = Field(sa_column=utc_column())
    published_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    published_by_user_id: int | None = Field(default=None, foreign_key="user_account.id")
    minimum_tender_days: int | None = Field(default=None)  # C2 as applied at publication
    closed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    evaluation_started_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    # The award decision (C7): the chosen bid, the reasons told to bidders, and why a lower-ranked bid was chosen.
    winning_bid_id: int | None = Field(default=None)
    award_reasons: str | None = Field(default=None, sa_type=sa.Text)
    override_reason: str | None = Field(default=None, sa_type=sa.Text)
    award_decided_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    award_decided_by_user_id: int | None = Field(default=None, foreign_key="user_account.id")
    # Standstill (C8), paused while a challenge is open.
    standstill_started_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    standstill_ends_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    standstill_paused_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    standstill_pause_reason: str | None = Field(default=None, sa_type=sa.Text)
    awarded_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    cancelled_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    cancel_reason: str | None = Field(default=None, sa_type=sa.Text)


class CompetitionEvaluator(SQLModel, table=True):
    """A buyer's evaluator chosen for a competition, and their conflict-of-interest declaration."""

    __tablename__ = "competition_evaluator"
    __table_args__ = (sa.UniqueConstraint("competition_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    competition_id: int = Field(foreign_key="competition.id", index=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    # None until declared; "none" (no conflict: may score) or "conflict" (stands aside).
    declaration: str | None = Field(default=None, max_length=20)
    declaration_note: str | None = Field(default=None, sa_type=sa.Text)
    declared_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class CompetitionInvitation(SQLModel, table=True):
    """C1: one row per supplier admitted to the category at the instant of publication, stored as it was."""

    __tablename__ = "competition_invitation"
    __table_args__ = (sa.UniqueConstraint("competition_id", "organisation_id"),)

    id: int | None = Field(default=None, primary_key=True)
    competition_id: int = Field(foreign_key="competition.id", index=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    admission_id: int = Field(foreign_key="admission.id")
    organisation_name: str = Field(max_length=200)  # the name at the time of the invitation
    invited_at: datetime = Field(sa_column=utc_column())


class ShorterPeriodAgreement(SQLModel, table=True):
    """C2, PCR 2015 reg 34(12): a supplier's agreement to a tender period shorter than the minimum, recorded by the
    buyer before publication with how it was given. It covers the tender deadline agreed and any later one."""

    __tablename__ = "shorter_period_agreement"
    __table_args__ = (sa.UniqueConstraint("competition_id", "organisation_id"),)

    id: int | None = Field(default=None, primary_key=True)
    competition_id: int = Field(foreign_key="competition.id", index=True)
    organisation_id: int = Field(foreign_key="organisation.id")
    agreed_deadline: datetime = Field(sa_column=utc_column())
    evidence: str = Field(sa_type=sa.Text)  # how and when the supplier agreed, e.g. "email from ..., 2 June"
    recorded_by_user_id: int = Field(foreign_key="user_account.id")
    recorded_at: datetime = Field(sa_column=utc_column())


class Clarification(SQLModel, table=True):
    """C6: a supplier's question; its answer is published to every invited supplier without naming the asker."""

    __tablename__ = "clarification"

    id: int | None = Field(default=None, primary_key=True)
    competition_id: int = Field(foreign_key="competition.id", index=True)
    asked_by_organisation_id: int | None = Field(default=None, foreign_key="organisation.id")
    asked_by_user_id: int | None = Field(default=None, foreign_key="user_account.id")
    question: str = Field(sa_type=sa.Text)
    asked_at: datetime = Field(sa_column=utc_column())
    # The question as published (the buyer may reword it so that it does not identify the asker).
    published_question: str | None = Field(default=None, sa_type=sa.Text)
    answer: str | None = Field(default=None, sa_type=sa.Text)
    answered_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    answered_by_user_id: int | None = Field(default=None, foreign_key="user_account.id")


class Bid(SQLModel, table=True):
    """A supplier's sealed bid (C5): one per invited supplier; revised in place until the deadline."""

    __tablename__ = "bid"
    __table_args__ = (sa.UniqueConstraint("competition_id", "organisation_id"),)

    id: int | None = Field(default=None, primary_key=True)
    competition_id: int = Field(foreign_key="competition.id", index=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    state: str = Field(max_length=20)
    answers: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)  # question key -> text
    price_pence: int | None = Field(default=None, sa_type=sa.BigInteger)  # total price excluding VAT
    vat_pence: int | None = Field(default=None, sa_type=sa.BigInteger)
    revision: int = Field(default=0)  # how many times it has been submitted
    # C5 in the audit trail: until the deadline each step of the bid is audited as an opaque "sealed_bid" event
    # under a random token of its own (no bidder, bid, competition or content, and nothing linking two steps); the
    # steps wait here and, at the close, are written to the audit trail under the bid with the digests that match
    # the sealed events.
    sealed_steps: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    created_by_user_id: int = Field(foreign_key="user_account.id")
    created_at: datetime = Field(sa_column=utc_column())
    updated_at: datetime = Field(sa_column=utc_column())
    submitted_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    submitted_by_user_id: int | None = Field(default=None, foreign_key="user_account.id")
    withdrawn_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    # A8/C1/C7: a bid taken out of evaluation and award, and why (the supplier suspended, removed or debarred; the
    # first-ranked bidder withdrew or failed a pre-contract check). An excluded bid is never ranked or awarded.
    excluded_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    exclusion_reason: str | None = Field(default=None, sa_type=sa.Text)


class EvaluatorScore(SQLModel, table=True):
    """One evaluator's own score of one answer, with the justification; other evaluators never see it."""

    __tablename__ = "evaluator_score"
    __table_args__ = (sa.UniqueConstraint("bid_id", "criterion_key", "evaluator_user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    competition_id: int = Field(foreign_key="competition.id", index=True)
    bid_id: int = Field(foreign_key="bid.id", index=True)
    criterion_key: str = Field(max_length=40)
    evaluator_user_id: int = Field(foreign_key="user_account.id")
    score: int
    justification: str = Field(sa_type=sa.Text)
    scored_at: datetime = Field(sa_column=utc_column())


class ModeratedScore(SQLModel, table=True):
    """The consensus score of one answer, set at moderation; it is the score the award is decided on."""

    __tablename__ = "moderated_score"
    __table_args__ = (sa.UniqueConstraint("bid_id", "criterion_key"),)

    id: int | None = Field(default=None, primary_key=True)
    competition_id: int = Field(foreign_key="competition.id", index=True)
    bid_id: int = Field(foreign_key="bid.id", index=True)
    criterion_key: str = Field(max_length=40)
    score: int
    rationale: str = Field(sa_type=sa.Text)
    moderated_by_user_id: int = Field(foreign_key="user_account.id")
    moderated_at: datetime = Field(sa_column=utc_column())


class OutcomeLetter(SQLModel, table=True):
    """C7: what each bidder is told: its scores, the winner's scores, the reasons."""

    __tablename__ = "outcome_letter"
    __table_args__ = (sa.UniqueConstraint("competition_id", "bid_id"),)

    id: int | None = Field(default=None, primary_key=True)
    competition_id: int = Field(foreign_key="competition.id", index=True)
    bid_id: int = Field(foreign_key="bid.id")
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    successful: bool
    rank: int
    # {"own": {...scores...}, "winner": {...}, "reasons": str, "override_reason": str|None, "standstill_ends_at": iso}
    content: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    body: str = Field(sa_type=sa.Text)
    created_at: datetime = Field(sa_column=utc_column())
    sent_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class AwardNotice(SQLModel, table=True):
    """The data the transparency issue publishes (C9/C10): kept from the start of standstill, completed when the
    contract is made. `published_at` stays empty until it is published."""

    __tablename__ = "award_notice"

    id: int | None = Field(default=None, primary_key=True)
    competition_id: int = Field(foreign_key="competition.id", unique=True)
    contract_id: int | None = Field(default=None, foreign_key="contract.id")
    regime: str = Field(max_length=40)
    buyer_organisation_id: int = Field(foreign_key="organisation.id")
    supplier_organisation_id: int = Field(foreign_key="organisation.id")
    category_id: int = Field(foreign_key="category.id")
    title: str = Field(max_length=200)
    description: str = Field(default="", sa_type=sa.Text)
    value_pence: int = Field(sa_type=sa.BigInteger)
    value_incl_vat_pence: int = Field(sa_type=sa.BigInteger)
    contracts_finder_required: bool  # C10: value including VAT >= £30,000
    bids_received: int
    award_decided_at: datetime = Field(sa_column=utc_column())
    # PA 2023: the contract award notice opens the standstill (s.51); PCR 2015: the award decision letters do.
    standstill_started_at: datetime = Field(sa_column=utc_column())
    standstill_ends_at: datetime = Field(sa_column=utc_column())
    contract_starts_on: date
    contract_ends_on: date
    contract_created_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    publish_by: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))  # C9: contract + 30 days
    published_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    created_at: datetime = Field(sa_column=utc_column())
