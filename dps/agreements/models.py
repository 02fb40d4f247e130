"""A DPS agreement names its regime and holds categories; suppliers are admitted per category."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

import dps.db  # noqa: F401 - sets the constraint naming convention before any table is declared


class Agreement(SQLModel, table=True):
    __tablename__ = "agreement"

    id: int = Field(default=None, primary_key=True)
    reference: str = Field(max_length=40, unique=True)
    name: str = Field(max_length=200)
    regime: str = Field(max_length=40)
    description: str = Field(default="", sa_type=sa.Text)
    starts_on: date
    ends_on: date
    # Per-agreement values of the rules marked [check] in RULES.md (e.g. minimum tender days).
    rule_settings: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)


class Category(SQLModel, table=True):
    __tablename__ = "category"
    __table_args__ = (sa.UniqueConstraint("agreement_id", "slug"),)

    id: int = Field(default=None, primary_key=True)
    agreement_id: int = Field(foreign_key="agreement.id", index=True)
    slug: str = Field(max_length=80)
    name: str = Field(max_length=200)
    description: str = Field(default="", sa_type=sa.Text)
    # A2 (criteria are set per category): the keys of the questionnaire sections a supplier answers to join this
    # category, in the order asked: the agreement's common sections plus what the category adds (see
    # dps.admission.questionnaire.sections_asked). Set for every category by the reference data.
    selection_sections: list[str] = Field(default_factory=list, sa_type=sa.JSON,
                                          sa_column_kwargs={"server_default": "[]"})
