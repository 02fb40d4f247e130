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

    id: int = Field(default=None, primary_key=True)
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

    id: int = Field(default=None, primary_key=True)
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

    id: int = Field(default=None, primary_key=True)
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

    id: int = Field(default=None, primary_key=True)
    competition_id: int = Field(foreign_key="competition.id", index=True)
    organisation_id: int = Field(foreign_key="organisation.id")
    agreed_deadline: datetime = Field(sa_column=utc_column())
    evidence: str = Field(sa_type=sa.Text)  # how and when the supplier agreed, e.g. "email from ..., 2 June"
    recorded_by_user_id: int = Field(foreign_key="user_account.id")
    recorded_at: datetime = Field(sa_column=utc_column())


class Clarification(SQLModel, table=True):
    """C6: a supplier's question; its answer is published to every invited supplier without naming the asker."""

    __tablename__ = "clarification"

    id: int = Field(default=None, primary_key=True)
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
    """A supplier's sealed bid (C5): one per invited supplier; revised in place until the deadline.

    Until the bids are opened (at the close, dps.competitions.services.sealing.open_bids) the row says only that some
    bid exists and its state: who bid (organisation and users), its answers and price and the steps of its audit
    trail are in `sealed_content`, encrypted with the competition's data key (BidDataKey), and the bidder finds its
    own bid through `bidder_key`, a hash keyed by that data key. Opening fills the plain columns for evaluation and
    empties `sealed_content`."""

    __tablename__ = "bid"
    __table_args__ = (sa.UniqueConstraint("competition_id", "organisation_id"),
                      sa.UniqueConstraint("competition_id", "bidder_key"))

    id: int = Field(default=None, primary_key=True)
    competition_id: int = Field(foreign_key="competition.id", index=True)
    # HMAC of the bidder organisation under the competition's data key: one bid per supplier, found by the supplier.
    bidder_key: str = Field(max_length=64)
    # Before opening: the sealed BidContent (dps.crypto token, bound to this competition and bid). After: None.
    sealed_content: str | None = Field(default=None, sa_type=sa.Text)
    state: str = Field(max_length=20)
    revision: int = Field(default=0)  # how many times it has been submitted
    # The plain columns below stay empty until the bids are opened.
    organisation_id: int | None = Field(default=None, foreign_key="organisation.id", index=True)
    answers: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)  # question key -> text
    price_pence: int | None = Field(default=None, sa_type=sa.BigInteger)  # total price excluding VAT
    vat_pence: int | None = Field(default=None, sa_type=sa.BigInteger)
    created_by_user_id: int | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = Field(sa_column=utc_column())
    updated_at: datetime = Field(sa_column=utc_column())
    submitted_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    submitted_by_user_id: int | None = Field(default=None, foreign_key="user_account.id")
    withdrawn_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    # A8/C1/C7: a bid taken out of evaluation and award, and why (the supplier suspended, removed or debarred; the
    # first-ranked bidder withdrew or failed a pre-contract check). An excluded bid is never ranked or awarded.
    excluded_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    exclusion_reason: str | None = Field(default=None, sa_type=sa.Text)


class BidAttachment(SQLModel, table=True):
    """A PDF attached to a bid, sealed like the rest of the bid (C5).

    `sealed_file` is the document encrypted with the competition's data key (dps.crypto.DataKey.seal_bytes), bound to
    this attachment of this bid. Until the bids are opened, what the document is called, its size and hash are in
    the bid's sealed content (BidContent.attachments) and the plain columns here are empty; the opening fills them.
    The file itself stays sealed at rest for ever and is opened, one download at a time, for the supplier that
    attached it, and from the opening for the buyer and the evaluators (services/bid_attachments.py)."""

    __tablename__ = "bid_attachment"

    id: int = Field(default=None, primary_key=True)
    bid_id: int = Field(foreign_key="bid.id", index=True)
    sealed_file: bytes = Field(sa_type=sa.LargeBinary)
    # The plain columns below stay empty until the bids are opened.
    name: str | None = Field(default=None, max_length=150)
    filename: str | None = Field(default=None, max_length=100)
    size_bytes: int | None = Field(default=None)
    sha256: str | None = Field(default=None, max_length=64)


class BidDataKey(SQLModel, table=True):
    """A competition's data key for its bids, wrapped (encrypted) by the sealing key that lives outside the database
    (setting BID_SEALING_KEY): made with the first bid; `opened_at` records the one step that opened the bids."""

    __tablename__ = "bid_data_key"

    competition_id: int = Field(foreign_key="competition.id", primary_key=True,
                                sa_column_kwargs={"autoincrement": False})
    sealing_key_id: str = Field(max_length=16)  # which sealing key wrapped it (dps.crypto.SealingKey.key_id)
    wrapped_key: str = Field(sa_type=sa.Text)
    opened_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class EvaluatorScore(SQLModel, table=True):
    """One evaluator's own score of one answer, with the justification; other evaluators never see it."""

    __tablename__ = "evaluator_score"
    __table_args__ = (sa.UniqueConstraint("bid_id", "criterion_key", "evaluator_user_id"),)

    id: int = Field(default=None, primary_key=True)
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

    id: int = Field(default=None, primary_key=True)
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

    id: int = Field(default=None, primary_key=True)
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
    """The award notices of one competition (C8-C10) and the data they publish.

    - `published_at`: the contract award notice, which makes the award public (the OCDS award release, the public
      notice page and, from £30,000 including VAT, the contracts register). PA 2023 (s.50): published by the buyer
      before the standstill, which it starts. PCR 2015 (reg 50): published when the contract is made.
    - `contract_notice_published_at`: the notice due within 30 days of the contract (C9, by `publish_by`): PCR 2015,
      the contract award notice (the same moment as `published_at`); PA 2023, the contract details notice (s.53).
      Published automatically as the contract is made, unless the buyer must still give something for it.

    Values: `value_pence` excludes VAT; `value_incl_vat_pence` is what the buyer pays under the winning bid (its
    price plus the VAT it states). The Contracts Finder threshold (C10) is applied to the stored VAT-inclusive
    value; no VAT rate is assumed.
    """

    __tablename__ = "award_notice"

    id: int = Field(default=None, primary_key=True)
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
    contract_notice_published_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    # PA 2023 s.52: the key performance indicators a contract over £5m publishes in its contract details notice.
    kpis: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    created_at: datetime = Field(sa_column=utc_column())
