"""Catalogue tables: listings and their published versions, evidence documents, the public changes feed and
saved searches."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from dps.db import utc_column


class Listing(SQLModel, table=True):
    """An innovation a supplier lists in one category. The columns hold the current content; each publication
    is also kept as a ListingVersion."""

    __tablename__ = "listing"
    __table_args__ = (sa.Index("ix_listing_organisation_category", "organisation_id", "category_id"),)

    id: int = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id")
    category_id: int = Field(foreign_key="category.id", index=True)
    state: str = Field(max_length=20, index=True)
    name: str = Field(max_length=120)
    summary: str = Field(max_length=300)
    description: str = Field(default="", sa_type=sa.Text)
    care_settings: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    clinical_areas: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    icbs_using: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    trusts_using: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    pricing_model: str = Field(max_length=30)
    indicative_price_pence: int | None = Field(default=None, sa_type=sa.BigInteger)
    # Section key -> clean answers (RULES.md section 4): DTAC, DSPT, Cyber Essentials, device, NICE, supply chain.
    assurance: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    # The number of the latest published version (0 until first published).
    version: int = Field(default=0)
    # Bumped on every change that the search index or the changes feed must see; the index applies a document
    # only if its index_version is newer than the one it holds.
    index_version: int = Field(default=0)
    # True while the listing is published and its supplier's admission to the category is active.
    in_search: bool = Field(default=False, index=True)
    created_by_user_id: int = Field(foreign_key="user_account.id")
    created_at: datetime = Field(sa_column=utc_column())
    updated_at: datetime = Field(sa_column=utc_column())
    first_published_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    published_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    unpublished_reason: str | None = Field(default=None, sa_type=sa.Text)
    unpublished_by_user_id: int | None = Field(default=None, foreign_key="user_account.id")


class ListingVersion(SQLModel, table=True):
    """One published version of a listing, as it was: the history buyers and suppliers can read."""

    __tablename__ = "listing_version"
    __table_args__ = (sa.UniqueConstraint("listing_id", "version"),)

    id: int = Field(default=None, primary_key=True)
    listing_id: int = Field(foreign_key="listing.id", index=True)
    version: int
    content: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    published_at: datetime = Field(sa_column=utc_column())
    published_by_user_id: int = Field(foreign_key="user_account.id")


class ListingDocument(SQLModel, table=True):
    """A PDF of evidence attached to a listing; the file lives under var/evidence, outside the web root."""

    __tablename__ = "listing_document"

    id: int = Field(default=None, primary_key=True)
    listing_id: int = Field(foreign_key="listing.id", index=True)
    title: str = Field(max_length=150)
    filename: str = Field(max_length=100)
    stored_name: str = Field(max_length=80, unique=True)
    size_bytes: int
    sha256: str = Field(max_length=64)
    uploaded_by_user_id: int = Field(foreign_key="user_account.id")
    uploaded_at: datetime = Field(sa_column=utc_column())
    removed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class CatalogueChange(SQLModel, table=True):
    """The public changes feed (/api/v1/changes): one row per published, updated or withdrawn innovation, in
    commit order (writers of this table are serialised), with the public document as it was then."""

    __tablename__ = "catalogue_change"

    id: int = Field(default=None, primary_key=True)
    listing_id: int = Field(foreign_key="listing.id", index=True)
    index_version: int
    change: str = Field(max_length=20)  # published | updated | withdrawn
    document: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    occurred_at: datetime = Field(sa_column=utc_column())


class SavedSearch(SQLModel, table=True):
    __tablename__ = "saved_search"

    id: int = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    name: str = Field(max_length=120)
    query_string: str = Field(max_length=2000)
    created_at: datetime = Field(sa_column=utc_column())
