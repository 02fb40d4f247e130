"""Imports every table so SQLModel.metadata (and Alembic) sees the whole schema."""

from dps.admission.models import Admission, Application, RefreshRequest, RefreshResponse, SectionEvaluation
from dps.agreements.models import Agreement, Category
from dps.audit.models import AuditChainHead, AuditEvent
from dps.identity.models import Invitation, Membership, Organisation, User
from dps.outbox.models import OutboxMessage

__all__ = [
    "Admission",
    "Agreement",
    "Application",
    "Invitation",
    "RefreshRequest",
    "RefreshResponse",
    "SectionEvaluation",
    "AuditChainHead",
    "AuditEvent",
    "Category",
    "Membership",
    "Organisation",
    "OutboxMessage",
    "User",
]
