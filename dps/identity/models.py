"""Users, organisations and the roles that join them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from dps.db import utc_column


class OrganisationKind(StrEnum):
    SUPPLIER = "supplier"
    BUYER = "buyer"
    AUTHORITY = "authority"
    # Whoever uses the public API with a key of their own: an ICB's developers, a researcher, a newsroom.
    API_CONSUMER = "api_consumer"


class Role(StrEnum):
    SUPPLIER_ADMIN = "supplier_admin"
    SUPPLIER_USER = "supplier_user"
    BUYER = "buyer"
    EVALUATOR = "evaluator"
    FUND_MANAGER = "fund_manager"
    AUTHORITY_ADMIN = "authority_admin"
    API_CONSUMER = "api_consumer"


# Which roles make sense in which kind of organisation. Evaluators sit in buyer organisations
# (competition evaluation) and in the DPS authority (admission evaluation).
ROLES_BY_KIND: dict[OrganisationKind, frozenset[Role]] = {
    OrganisationKind.SUPPLIER: frozenset({Role.SUPPLIER_ADMIN, Role.SUPPLIER_USER}),
    OrganisationKind.BUYER: frozenset({Role.BUYER, Role.EVALUATOR, Role.FUND_MANAGER}),
    OrganisationKind.AUTHORITY: frozenset({Role.EVALUATOR, Role.AUTHORITY_ADMIN}),
    OrganisationKind.API_CONSUMER: frozenset({Role.API_CONSUMER}),
}


class Organisation(SQLModel, table=True):
    __tablename__ = "organisation"

    id: int = Field(default=None, primary_key=True)
    kind: str = Field(max_length=20, index=True)
    name: str = Field(max_length=200)
    trading_name: str | None = Field(default=None, max_length=200)
    companies_house_number: str | None = Field(default=None, max_length=8, unique=True)
    ods_code: str | None = Field(default=None, max_length=10, unique=True)
    buyer_type: str | None = Field(default=None, max_length=20)
    # For ICBs and trusts: the NHS England region they sit in (its ODS code, e.g. Y56 for London).
    region_ods_code: str | None = Field(default=None, max_length=10)
    # For a trust: the ODS code of the integrated care board it belongs to (reference data, RULES.md 5: money
    # stays in its ICB). None when the trust is not in the reference data: it may then draw on national funds only.
    parent_icb_ods_code: str | None = Field(default=None, max_length=10)
    # Supplier profile, for the SME test (Procurement Act 2023 s.123). Money in pence.
    registered_address: str | None = Field(default=None, sa_type=sa.Text)
    headcount: int | None = Field(default=None)
    turnover_pence: int | None = Field(default=None, sa_type=sa.BigInteger)
    balance_sheet_pence: int | None = Field(default=None, sa_type=sa.BigInteger)
    created_at: datetime = Field(sa_column=utc_column())


class User(SQLModel, table=True):
    __tablename__ = "user_account"

    id: int = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True)
    full_name: str = Field(max_length=200)
    password_hash: str = Field(max_length=200)
    is_active: bool = Field(default=True)
    email_verified_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    created_at: datetime = Field(sa_column=utc_column())
    last_login_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    # Moved on by a password reset: a session signed in under an earlier epoch is no longer signed in.
    session_epoch: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class Membership(SQLModel, table=True):
    __tablename__ = "membership"
    __table_args__ = (sa.UniqueConstraint("user_id", "organisation_id", "role"),)

    id: int = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    role: str = Field(max_length=30)
    created_at: datetime = Field(sa_column=utc_column())


class Invitation(SQLModel, table=True):
    """A colleague invited by email to join an organisation with a role; accepted through a signed link."""

    __tablename__ = "invitation"

    id: int = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    email: str = Field(max_length=320)
    role: str = Field(max_length=30)
    invited_by_user_id: int = Field(foreign_key="user_account.id")
    created_at: datetime = Field(sa_column=utc_column())
    expires_at: datetime = Field(sa_column=utc_column())
    accepted_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    accepted_user_id: int | None = Field(default=None, foreign_key="user_account.id")


class SignInLockout(SQLModel, table=True):
    """Consecutive failed sign-ins for one email address (whether or not an account has it), and the lock they led
    to. The rules are dps.identity.rules.after_failure / after_success; every failure and lock is also audited."""

    __tablename__ = "sign_in_lockout"

    id: int = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True)  # as sign-in looks it up: trimmed, lower case
    failures: int = Field(default=0)
    locked_until: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    last_failure_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class PasswordReset(SQLModel, table=True):
    """One "reset your password" link: only a hash of its token is kept; it works once, until `expires_at`."""

    __tablename__ = "password_reset"

    id: int = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(sa_column=utc_column())
    expires_at: datetime = Field(sa_column=utc_column())
    used_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
