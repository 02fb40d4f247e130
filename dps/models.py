"""Imports every table so SQLModel.metadata (and Alembic) sees the whole schema."""

from dps.agreements.models import Agreement, Category
from dps.audit.models import AuditChainHead, AuditEvent
from dps.identity.models import Membership, Organisation, User
from dps.outbox.models import OutboxMessage

__all__ = [
    "Agreement",
    "AuditChainHead",
    "AuditEvent",
    "Category",
    "Membership",
    "Organisation",
    "OutboxMessage",
    "User",
]
