"""Imports every table so SQLModel.metadata (and Alembic) sees the whole schema."""

from catalogue.models import ApiKey, CatalogueChange, Listing, ListingDocument, ListingVersion, SavedSearch
from dps.admission.models import Admission, Application, RefreshRequest, RefreshResponse, SectionEvaluation
from dps.agreements.models import Agreement, Category
from dps.audit.models import AuditChainHead, AuditEvent
from dps.funds.models import Allocation, Commitment, CommitmentLine, Fund, LedgerEntry
from dps.competitions.models import (
    AwardNotice,
    Bid,
    Clarification,
    Competition,
    CompetitionEvaluator,
    CompetitionInvitation,
    Contract,
    ContractMilestone,
    EvaluatorScore,
    ModeratedScore,
    OutcomeLetter,
    ShorterPeriodAgreement,
)
from dps.identity.models import Invitation, Membership, Organisation, SignInLockout, User
from dps.outbox.models import OutboxMessage
from dps.payments.models import MilestonePayment, StripeCustomer, StripeEvent

__all__ = [
    "Admission",
    "ApiKey",
    "CatalogueChange",
    "Listing",
    "ListingDocument",
    "ListingVersion",
    "SavedSearch",
    "Agreement",
    "Application",
    "Invitation",
    "RefreshRequest",
    "RefreshResponse",
    "SectionEvaluation",
    "AuditChainHead",
    "AuditEvent",
    "Allocation",
    "Commitment",
    "CommitmentLine",
    "Fund",
    "LedgerEntry",
    "AwardNotice",
    "Bid",
    "Clarification",
    "Competition",
    "CompetitionEvaluator",
    "CompetitionInvitation",
    "Contract",
    "ContractMilestone",
    "EvaluatorScore",
    "ModeratedScore",
    "OutcomeLetter",
    "ShorterPeriodAgreement",
    "Category",
    "Membership",
    "Organisation",
    "SignInLockout",
    "OutboxMessage",
    "User",
    "MilestonePayment",
    "StripeCustomer",
    "StripeEvent",
]
