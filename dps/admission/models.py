"""Applications to DPS categories, their evaluation, and the admissions (category memberships) they lead to."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from dps.db import utc_column


class Application(SQLModel, table=True):
    """A supplier's request to participate in one category: questionnaire answers and the legal clock."""

    __tablename__ = "application"
    __table_args__ = (sa.Index("ix_application_state_due", "state", "due_at"),)

    id: int = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    category_id: int = Field(foreign_key="category.id", index=True)
    state: str = Field(max_length=30)
    # Section key -> that section's answers; saved section by section as a draft.
    answers: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    created_by_user_id: int = Field(foreign_key="user_account.id")
    created_at: datetime = Field(sa_column=utc_column())
    updated_at: datetime = Field(sa_column=utc_column())
    submitted_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    due_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    # A4: the clock extended to 15 working days, with who and why.
    extended_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    extended_by_user_id: int | None = Field(default=None, foreign_key="user_account.id")
    extension_reason: str | None = Field(default=None, sa_type=sa.Text)
    evaluator_user_id: int | None = Field(default=None, foreign_key="user_account.id")
    decided_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    decided_by_user_id: int | None = Field(default=None, foreign_key="user_account.id")
    decision_reasons: str | None = Field(default=None, sa_type=sa.Text)


class SectionEvaluation(SQLModel, table=True):
    __tablename__ = "section_evaluation"
    __table_args__ = (sa.UniqueConstraint("application_id", "section"),)

    id: int = Field(default=None, primary_key=True)
    application_id: int = Field(foreign_key="application.id", index=True)
    section: str = Field(max_length=60)
    outcome: str = Field(max_length=10)  # pass | fail
    comment: str = Field(default="", sa_type=sa.Text)
    evaluator_user_id: int = Field(foreign_key="user_account.id")
    evaluated_at: datetime = Field(sa_column=utc_column())


class Admission(SQLModel, table=True):
    """A supplier admitted to a category: active, suspended or removed. One row per (supplier, category)."""

    __tablename__ = "admission"
    __table_args__ = (sa.UniqueConstraint("organisation_id", "category_id"),)

    id: int = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    category_id: int = Field(foreign_key="category.id", index=True)
    application_id: int = Field(foreign_key="application.id")
    state: str = Field(max_length=20, index=True)
    admitted_at: datetime = Field(sa_column=utc_column())
    state_changed_at: datetime = Field(sa_column=utc_column())
    state_reason: str | None = Field(default=None, sa_type=sa.Text)


class RefreshRequest(SQLModel, table=True):
    """A6: the authority asks every admitted supplier of a category to refresh its declaration."""

    __tablename__ = "refresh_request"

    id: int = Field(default=None, primary_key=True)
    category_id: int = Field(foreign_key="category.id", index=True)
    message: str = Field(default="", sa_type=sa.Text)
    requested_by_user_id: int = Field(foreign_key="user_account.id")
    requested_at: datetime = Field(sa_column=utc_column())
    due_at: datetime = Field(sa_column=utc_column())


class RefreshResponse(SQLModel, table=True):
    __tablename__ = "refresh_response"
    __table_args__ = (sa.UniqueConstraint("refresh_request_id", "organisation_id"),)

    id: int = Field(default=None, primary_key=True)
    refresh_request_id: int = Field(foreign_key="refresh_request.id", index=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    due_at: datetime = Field(sa_column=utc_column())
    declaration: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    responded_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    responded_by_user_id: int | None = Field(default=None, foreign_key="user_account.id")
    reminder_sent_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
