"""Catalogue services: listings (draft -> published -> withdrawn, versions), evidence, what search and the
changes feed see.

Each command is one transaction: the change, its audit event, the search-index outbox row and the changes-feed
row commit together; the command a controller calls ends with `await session.commit()`. Functions documented
as "does not commit" are for other services to call inside their own transaction.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from catalogue import rules
from catalogue.models import CatalogueChange, Listing, ListingDocument, ListingVersion
from catalogue.rules import ListingEvent, ListingState, markdown_as_text
from catalogue.search.port import NO_EXPIRY, IndexChange, SearchDocument
from dps.admission.events import AdmissionChanged
from dps.admission.models import Admission, Application
from dps.admission.rules import MembershipState
from dps.admission.services import email_organisation
from dps.agreements.models import Category
from dps.assurance import ASSURANCE_SECTION_KEYS
from dps.audit.services import Actor, record
from dps.calendar import london_date
from dps.db import PointReads
from dps.errors import Conflict, NotFound, ValidationFailed
from dps.forms import FormErrors
from dps.identity.events import SupplierProfileChanged
from dps.identity.models import Membership, Organisation, OrganisationKind, Role, User
from dps.identity.rules import assess_sme
from dps.identity.services import SignedInUser, actor_of
from dps.outbox.models import OutboxMessage
from dps.outbox.services import enqueue
from dps.reference import INTEGRATED_CARE_BOARDS

SEARCH_INDEX_TOPIC = "search-index"
CHANGES_LOCK_KEY = 7_340_001  # PostgreSQL advisory lock that puts changes-feed rows in commit order
ICB_CODES = frozenset(code for code, _, _ in INTEGRATED_CARE_BOARDS)
ICB_NAMES: Mapping[str, str] = {code: name for code, name, _ in INTEGRATED_CARE_BOARDS}


def listing_path(listing_id: int) -> str:
    return f"/catalogue/innovations/{listing_id}"


# --- loading, with access checks -------------------------------------------------------------------------


def supplier_organisation_ids(user: SignedInUser) -> frozenset[int]:
    return user.organisation_ids_of_kind(OrganisationKind.SUPPLIER)


async def active_categories(session: AsyncSession, organisation_id: int) -> list[Category]:
    """The categories an organisation may list in: those its admission is active in."""
    return list((await session.scalars(
        sa.select(Category).join(Admission, Admission.category_id == Category.id)
        .where(Admission.organisation_id == organisation_id, Admission.state == MembershipState.ACTIVE)
        .order_by(Category.name))).all())


async def listing_for_supplier(session: AsyncSession, user: SignedInUser, listing_id: int,
                               for_update: bool = False) -> Listing:
    """A listing of one of the user's supplier organisations; NotFound otherwise (never a hint it exists)."""
    query = sa.select(Listing).where(Listing.id == listing_id,
                                     Listing.organisation_id.in_(supplier_organisation_ids(user)))
    if for_update:
        query = query.with_for_update()
    listing = await session.scalar(query)
    if listing is None:
        raise NotFound("There is no such listing")
    return listing


async def _admission_state(session: AsyncSession, organisation_id: int, category_id: int) -> str | None:
    return await session.scalar(sa.select(Admission.state).where(
        Admission.organisation_id == organisation_id, Admission.category_id == category_id))


async def _check_form(session: AsyncSession, organisation_id: int, form: Mapping[str, Any]) -> rules.ListingForm:
    categories = await active_categories(session, organisation_id)
    return rules.check_listing_form(form, allowed_category_ids=[c.id for c in categories if c.id],
                                    known_icbs=ICB_CODES)


def _apply_content(listing: Listing, content: rules.ListingContent) -> None:
    listing.name, listing.summary, listing.description = content.name, content.summary, content.description
    listing.category_id = content.category_id
    listing.care_settings = list(content.care_settings)
    listing.clinical_areas = list(content.clinical_areas)
    listing.icbs_using, listing.trusts_using = list(content.icbs_using), list(content.trusts_using)
    listing.pricing_model, listing.indicative_price_pence = content.pricing_model, content.indicative_price_pence
    listing.assurance = {key: dict(value) for key, value in content.assurance.items()}


def content_of(listing: Listing) -> dict[str, Any]:
    return {"name": listing.name, "summary": listing.summary, "description": listing.description,
            "category_id": listing.category_id, "care_settings": list(listing.care_settings),
            "clinical_areas": list(listing.clinical_areas), "icbs_using": list(listing.icbs_using),
            "trusts_using": list(listing.trusts_using), "pricing_model": listing.pricing_model,
            "indicative_price_pence": listing.indicative_price_pence, "assurance": dict(listing.assurance)}


def _snapshot(listing: Listing) -> dict[str, Any]:
    return {"state": listing.state, "version": listing.version, "in_search": listing.in_search,
            "category_id": listing.category_id, "name": listing.name}


# --- commands: suppliers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Saved:
    """The outcome of saving a listing form: the listing, or the errors and what was typed."""

    listing: Listing | None
    form: rules.ListingForm


async def create_listing(session: AsyncSession, user: SignedInUser, organisation_id: int, form: Mapping[str, Any],
                         now: datetime) -> Saved:
    """Save a new listing as a draft, in a category the supplier is actively admitted to."""
    if organisation_id not in supplier_organisation_ids(user):
        raise NotFound("There is no such organisation")
    checked = await _check_form(session, organisation_id, form)
    if checked.content is None:
        return Saved(None, checked)
    listing = Listing(organisation_id=organisation_id, state=ListingState.DRAFT, created_by_user_id=user.id,
                      created_at=now, updated_at=now, category_id=checked.content.category_id,
                      name=checked.content.name, summary=checked.content.summary,
                      pricing_model=checked.content.pricing_model)
    _apply_content(listing, checked.content)
    session.add(listing)
    await session.flush()
    await record(session, actor=actor_of(user), action="listing.created", entity_type="listing",
                 entity_id=listing.id or 0, now=now, after={**_snapshot(listing), "organisation_id": organisation_id})
    await session.commit()
    return Saved(listing, checked)


async def admitted_assurance(session: AsyncSession, organisation_id: int, category_id: int) -> dict[str, Any]:
    """The assurance answers (DTAC, DSPT, Cyber Essentials, medical device) of the application that admitted the
    organisation to the category, where its admission is active; {} otherwise. A new listing there starts from them."""
    answers = await session.scalar(
        sa.select(Application.answers).join(Admission, Admission.application_id == Application.id)
        .where(Admission.organisation_id == organisation_id, Admission.category_id == category_id,
               Admission.state == MembershipState.ACTIVE))
    return {key: dict(answers[key].get("answers", {})) for key in ASSURANCE_SECTION_KEYS
            if isinstance((answers or {}).get(key), dict) and answers[key].get("complete")}


async def update_listing(session: AsyncSession, user: SignedInUser, listing_id: int, form: Mapping[str, Any],
                         now: datetime) -> Saved:
    """Save an edit. A draft (or withdrawn) listing changes in place; a published listing's edit is published
    at once as a new version, and search and the changes feed follow. So an edit of a published listing that holds
    evidence already expired is refused, naming it (a draft keeps it, with a warning, and cannot be published)."""
    listing = await listing_for_supplier(session, user, listing_id, for_update=True)
    rules.next_listing_state(listing.state, ListingEvent.EDIT)
    checked = await _check_form(session, listing.organisation_id, form)
    if checked.content is not None and listing.state == ListingState.PUBLISHED:
        checked.errors.add_all(rules.expired_listing_evidence(checked.content.assurance, london_date(now)))
        if checked.errors:
            checked.content = None
    if checked.content is None:
        return Saved(None, checked)
    before = _snapshot(listing)
    _apply_content(listing, checked.content)
    listing.updated_at = now
    if listing.state == ListingState.PUBLISHED:
        await _new_version(session, listing, user, now)
    await record(session, actor=actor_of(user), action="listing.updated", entity_type="listing",
                 entity_id=listing.id or 0, now=now, before=before, after=_snapshot(listing))
    if listing.state == ListingState.PUBLISHED:
        await _sync_search(session, listing, now)
    await session.commit()
    return Saved(listing, checked)


async def _new_version(session: AsyncSession, listing: Listing, user: SignedInUser, now: datetime) -> None:
    listing.version += 1
    listing.published_at = now
    listing.first_published_at = listing.first_published_at or now
    documents = await documents_of(session, listing.id or 0)
    content = {**content_of(listing), "documents": [{"id": d.id, "title": d.title} for d in documents]}
    session.add(ListingVersion(listing_id=listing.id or 0, version=listing.version, content=content,
                               published_at=now, published_by_user_id=user.id))
    await session.flush()


async def publish_listing(session: AsyncSession, user: SignedInUser, listing_id: int, now: datetime) -> Listing:
    """Publish a listing. Refused while its admission is not active, or while it holds evidence that has already
    expired (a Cyber Essentials or medical device certificate, a DSPT year): the supplier updates it first."""
    listing = await listing_for_supplier(session, user, listing_id, for_update=True)
    state = rules.next_listing_state(listing.state, ListingEvent.PUBLISH)
    if await _admission_state(session, listing.organisation_id, listing.category_id) != MembershipState.ACTIVE:
        raise Conflict("Your organisation's admission to this category is not active, so the listing cannot be "
                       "published")
    expired = rules.expired_listing_evidence(listing.assurance, london_date(now))
    if expired:
        raise Conflict("You cannot publish this listing until you update the evidence that has expired. " + " ".join(
            item["text"].split(":")[0] + "." for item in expired.summary()))
    before = _snapshot(listing)
    listing.state, listing.updated_at = state, now
    listing.unpublished_reason = listing.unpublished_by_user_id = None
    await _new_version(session, listing, user, now)
    await record(session, actor=actor_of(user), action="listing.published", entity_type="listing",
                 entity_id=listing.id or 0, now=now, before=before, after=_snapshot(listing))
    await _sync_search(session, listing, now)
    await session.commit()
    return listing


async def withdraw_listing(session: AsyncSession, user: SignedInUser, listing_id: int, now: datetime) -> Listing:
    listing = await listing_for_supplier(session, user, listing_id, for_update=True)
    state = rules.next_listing_state(listing.state, ListingEvent.WITHDRAW)
    before = _snapshot(listing)
    listing.state, listing.updated_at = state, now
    await record(session, actor=actor_of(user), action="listing.withdrawn", entity_type="listing",
                 entity_id=listing.id or 0, now=now, before=before, after=_snapshot(listing))
    await _sync_search(session, listing, now)
    await session.commit()
    return listing


# --- commands: the authority ------------------------------------------------------------------------------


async def unpublish_listing(session: AsyncSession, user: SignedInUser, listing_id: int, reason: str,
                            now: datetime) -> Listing:
    """An authority admin takes a published listing down, with a reason the supplier is told."""
    if not user.has_role_in(OrganisationKind.AUTHORITY, Role.AUTHORITY_ADMIN):
        raise NotFound("There is no such listing")
    if not reason.strip():
        raise ValidationFailed("Give the reason for unpublishing the listing", field="reason")
    listing = await session.scalar(sa.select(Listing).where(Listing.id == listing_id).with_for_update())
    if listing is None:
        raise NotFound("There is no such listing")
    state = rules.next_listing_state(listing.state, ListingEvent.UNPUBLISH)
    before = _snapshot(listing)
    listing.state, listing.updated_at = state, now
    listing.unpublished_reason, listing.unpublished_by_user_id = reason.strip(), user.id
    await record(session, actor=actor_of(user), action="listing.unpublished", entity_type="listing",
                 entity_id=listing.id or 0, now=now, before=before, after={**_snapshot(listing),
                                                                           "reason": reason.strip()})
    await _sync_search(session, listing, now)
    await email_organisation(session, listing.organisation_id, now,
                             f"listing:{listing.id}:unpublished:{now.isoformat()}",
                             f"Your listing has been unpublished: {listing.name}",
                             f"The DPS authority has unpublished your listing \"{listing.name}\".\n\n"
                             f"Reason: {reason.strip()}\n\nCorrect the listing and publish it again from the supplier "
                             f"portal.")
    await session.commit()
    return listing


# --- suppliers suspended or removed: their listings leave search ----------------------------------------


async def withdraw_supplier_listings_from_search(session: AsyncSession, organisation_id: int, category_id: int,
                                                 reason: str, actor: Actor, now: datetime) -> list[int]:
    """Take a supplier's listings in a category out of search and the public catalogue (its admission was
    suspended or removed). The listings keep their state, so they return on reinstatement.

    Does NOT commit: the index removals (outbox rows), changes-feed rows and audit events join the caller's
    transaction. Idempotent: listings already out of search are left alone. Returns the listing ids taken out."""
    listings = (await session.scalars(sa.select(Listing).where(
        Listing.organisation_id == organisation_id, Listing.category_id == category_id,
        Listing.in_search.is_(True)).with_for_update())).all()
    for listing in listings:
        await record(session, actor=actor, action="listing.left_search", entity_type="listing",
                     entity_id=listing.id or 0, now=now, before={"in_search": True},
                     after={"in_search": False, "reason": reason})
        await _sync_search(session, listing, now, admission_state=MembershipState.SUSPENDED)
    return [listing.id or 0 for listing in listings]


async def restore_supplier_listings_to_search(session: AsyncSession, organisation_id: int, category_id: int,
                                              actor: Actor, now: datetime) -> list[int]:
    """Put a reinstated supplier's published listings in a category back in search. Does NOT commit."""
    listings = (await session.scalars(sa.select(Listing).where(
        Listing.organisation_id == organisation_id, Listing.category_id == category_id,
        Listing.state == ListingState.PUBLISHED, Listing.in_search.is_(False)).with_for_update())).all()
    for listing in listings:
        await record(session, actor=actor, action="listing.returned_to_search", entity_type="listing",
                     entity_id=listing.id or 0, now=now, before={"in_search": False}, after={"in_search": True})
        await _sync_search(session, listing, now, admission_state=MembershipState.ACTIVE)
    return [listing.id or 0 for listing in listings]


async def on_supplier_profile_changed(session: AsyncSession, event: SupplierProfileChanged) -> None:
    """Reacts to `SupplierProfileChanged` (subscribed by dps.wiring): the supplier's name and SME status are part
    of each of its listings in search, so each is sent to the index again and named in the changes feed. Does NOT
    commit: the changes join the profile update's transaction."""
    listings = (await session.scalars(sa.select(Listing).where(
        Listing.organisation_id == event.organisation_id, Listing.in_search.is_(True))
        .order_by(Listing.id).with_for_update())).all()
    for listing in listings:
        await _sync_search(session, listing, event.now)


async def on_admission_changed(session: AsyncSession, event: AdmissionChanged) -> None:
    """Reacts to `AdmissionChanged` (subscribed by dps.wiring): suspension or removal takes the supplier's
    listings in that category out of search; reinstatement puts them back."""
    admission, actor, now = event.admission, event.actor, event.now
    if admission.state == MembershipState.ACTIVE:
        await restore_supplier_listings_to_search(session, admission.organisation_id, admission.category_id, actor, now)
    else:
        await withdraw_supplier_listings_from_search(session, admission.organisation_id, admission.category_id,
                                                     admission.state_reason or f"admission {admission.state}",
                                                     actor, now)



# --- what search and the changes feed see ----------------------------------------------------------------


async def _sync_search(session: AsyncSession, listing: Listing, now: datetime,
                       admission_state: str | None = None) -> None:
    """After a change: work out whether the listing is in search, and queue the index change and the changes-feed
    row in this transaction (index_version orders them; the consumer applies only newer versions)."""
    if admission_state is None:
        admission_state = await _admission_state(session, listing.organisation_id, listing.category_id)
    was_in_search = listing.in_search
    now_in_search = rules.is_searchable(listing.state, admission_state)
    if not was_in_search and not now_in_search:
        return
    listing.index_version += 1
    listing.in_search = now_in_search
    await session.flush()
    document = await search_document(session, listing, now.date()) if now_in_search else None
    change = IndexChange(listing.id or 0, listing.index_version, document)
    await enqueue(session, topic=SEARCH_INDEX_TOPIC, dedupe_key=f"search-index:{listing.id}:{listing.index_version}",
                  payload=change.to_json(), now=now)
    kind = "updated" if was_in_search and now_in_search else "published" if now_in_search else "withdrawn"
    if session.get_bind().dialect.name == "postgresql":
        # Serialise writers of the feed so ids are handed out in commit order: a consumer that has read up to
        # cursor N never misses a row that commits later with a smaller id.
        await session.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHANGES_LOCK_KEY})
    session.add(CatalogueChange(listing_id=listing.id or 0, index_version=listing.index_version, change=kind,
                                document=None if document is None else dict(document.public), occurred_at=now))
    await session.flush()


@dataclass(frozen=True)
class ListedSupplier:
    """A listing's supplier as buyers see it: its name and whether it is an SME (Procurement Act 2023 s.123)."""

    id: int
    name: str
    sme: bool

    @classmethod
    def of(cls, organisation: Organisation) -> ListedSupplier:
        sizes = (organisation.headcount, organisation.turnover_pence, organisation.balance_sheet_pence)
        sme = None not in sizes and assess_sme(organisation.headcount or 0, organisation.turnover_pence or 0,
                                               organisation.balance_sheet_pence or 0).is_sme
        return cls(organisation.id or 0, organisation.trading_name or organisation.name, sme)


def public_document(listing: Listing, category: Category, supplier: ListedSupplier,
                    documents: list[ListingDocument], today: date) -> dict[str, Any]:
    """An innovation as buyers and API consumers see it (the API's `data` items)."""
    return {
        "id": listing.id,
        "name": listing.name,
        "summary": listing.summary,
        "description": listing.description,
        "category": {"slug": category.slug, "name": category.name},
        "supplier": {"id": supplier.id, "name": supplier.name, "sme": supplier.sme},
        "care_settings": list(listing.care_settings),
        "clinical_areas": list(listing.clinical_areas),
        "icbs_using": list(listing.icbs_using),
        "trusts_using": list(listing.trusts_using),
        "pricing": {"model": listing.pricing_model, "indicative_price_pence": listing.indicative_price_pence},
        "assurance": rules.assurance_summary(listing.assurance, today),
        "documents": [{"id": d.id, "title": d.title, "url": f"{listing_path(listing.id or 0)}/documents/{d.id}"}
                      for d in documents],
        "version": listing.version,
        "published_at": (listing.first_published_at or listing.published_at or listing.updated_at).isoformat(),
        "updated_at": (listing.published_at or listing.updated_at).isoformat(),
        "url": listing_path(listing.id or 0),
    }


def search_document_from(listing: Listing, category: Category, supplier: ListedSupplier,
                         documents: list[ListingDocument], today: date) -> SearchDocument:
    public = public_document(listing, category, supplier, documents, today)
    assurance = public["assurance"]
    values = {
        "category": (category.slug,),
        "care_setting": tuple(listing.care_settings),
        "device_class": (assurance["medical_device"]["class"],),
        "esf_tier": (assurance["nice_esf_tier"],),
        "dtac": ("true" if assurance["dtac"]["complete"] else "false",),
        "dspt": (assurance["dspt"]["status"] or "not_applicable",),
        "mtfm": ("true" if assurance["mtfm"] else "false",),
        "sme": ("true" if public["supplier"]["sme"] else "false",),
        "icb": tuple(listing.icbs_using),
    }
    keywords = " ".join([" ".join(listing.clinical_areas), category.name, public["supplier"]["name"],
                         " ".join(assurance["nice_guidance"]), " ".join(listing.trusts_using),
                         " ".join(ICB_NAMES.get(code, code) for code in listing.icbs_using)])
    return SearchDocument(id=listing.id or 0, index_version=listing.index_version, public=public, name=listing.name,
                          summary=listing.summary, body=markdown_as_text(listing.description), keywords=keywords,
                          values=values, published_at=public["published_at"],
                          assurance_expires_on=assurance["earliest_expiry"] or NO_EXPIRY)


async def search_document(session: AsyncSession, listing: Listing, today: date) -> SearchDocument:
    category = await session.get(Category, listing.category_id)
    organisation = await session.get(Organisation, listing.organisation_id)
    assert category is not None and organisation is not None
    return search_document_from(listing, category, ListedSupplier.of(organisation),
                                await documents_of(session, listing.id or 0), today)


async def iter_search_documents(session: AsyncSession, today: date, batch_size: int = 500
                                ) -> AsyncIterator[list[SearchDocument]]:
    """Every listing that belongs in search, in batches: what `dps reindex` feeds the engine. Read it in one snapshot
    (catalogue.reindex does): each supplier is read once for all its listings, so a supplier changed half way
    through a read committed transaction would leave later listings with its old name and newer index_version."""
    categories = {c.id: c for c in (await session.scalars(sa.select(Category))).all()}
    suppliers: dict[int, ListedSupplier] = {}  # a supplier has many listings: read and assessed once
    last_id = 0
    while True:
        listings = (await session.scalars(sa.select(Listing).where(Listing.in_search.is_(True), Listing.id > last_id)
                                          .order_by(Listing.id).limit(batch_size))).all()
        if not listings:
            return
        unread = {listing.organisation_id for listing in listings} - suppliers.keys()
        if unread:
            for organisation in (await session.scalars(sa.select(Organisation).where(
                    col(Organisation.id).in_(unread)))).all():
                suppliers[organisation.id or 0] = ListedSupplier.of(organisation)
        documents: dict[int, list[ListingDocument]] = {}
        for document in (await session.scalars(sa.select(ListingDocument).where(
                ListingDocument.listing_id.in_([listing.id for listing in listings]),
                ListingDocument.removed_at.is_(None)).order_by(ListingDocument.id))).all():
            documents.setdefault(document.listing_id, []).append(document)
        yield [search_document_from(listing, categories[listing.category_id], suppliers[listing.organisation_id],
                                    documents.get(listing.id or 0, []), today) for listing in listings]
        last_id = listings[-1].id or 0


async def count_searchable(session: AsyncSession) -> int:
    return int(await session.scalar(sa.select(sa.func.count()).select_from(Listing).where(Listing.in_search.is_(True)))
               or 0)


@dataclass(frozen=True)
class IndexLag:
    pending: int
    oldest_pending_at: datetime | None


async def index_lag(session: AsyncSession) -> IndexLag:
    """Index changes not yet applied by the outbox worker, and when the oldest was written."""
    row = (await session.execute(sa.select(sa.func.count(), sa.func.min(OutboxMessage.created_at)).where(
        OutboxMessage.topic == SEARCH_INDEX_TOPIC, OutboxMessage.processed_at.is_(None)))).one()
    oldest = row[1]
    if isinstance(oldest, datetime) and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return IndexLag(int(row[0] or 0), oldest)


# --- evidence documents ----------------------------------------------------------------------------------


def evidence_dir(var_dir: Path) -> Path:
    return Path(var_dir) / "evidence"


async def documents_of(session: AsyncSession, listing_id: int) -> list[ListingDocument]:
    return list((await session.scalars(sa.select(ListingDocument).where(
        ListingDocument.listing_id == listing_id, ListingDocument.removed_at.is_(None))
        .order_by(ListingDocument.id))).all())


async def add_evidence(session: AsyncSession, user: SignedInUser, listing_id: int, *, title: str, filename: str,
                       content: bytes, var_dir: Path, now: datetime) -> FormErrors:
    """Attach a PDF (checked by its content) to a listing; returns its errors, empty when stored. The file is
    written under var/evidence with a random name, never served as a static file."""
    listing = await listing_for_supplier(session, user, listing_id, for_update=True)
    errors = rules.check_evidence(title, content, filename)
    if errors:
        return errors
    folder = evidence_dir(var_dir)
    folder.mkdir(parents=True, exist_ok=True)
    stored_name = f"{uuid.uuid4().hex}.pdf"
    path = folder / stored_name
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(content)
    try:
        document = ListingDocument(listing_id=listing.id or 0, title=title.strip(),
                                   filename=rules.safe_filename(filename),
                                   stored_name=stored_name, size_bytes=len(content),
                                   sha256=hashlib.sha256(content).hexdigest(), uploaded_by_user_id=user.id,
                                   uploaded_at=now)
        session.add(document)
        await session.flush()
        await record(session, actor=actor_of(user), action="listing.document_added", entity_type="listing",
                     entity_id=listing.id or 0, now=now,
                     after={"document_id": document.id, "title": document.title, "sha256": document.sha256})
        listing.updated_at = now
        if listing.state == ListingState.PUBLISHED:
            await _new_version(session, listing, user, now)
            await _sync_search(session, listing, now)
        await session.commit()
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return {}


async def remove_evidence(session: AsyncSession, user: SignedInUser, listing_id: int, document_id: int,
                          now: datetime) -> None:
    listing = await listing_for_supplier(session, user, listing_id, for_update=True)
    document = await session.scalar(sa.select(ListingDocument).where(
        ListingDocument.id == document_id, ListingDocument.listing_id == listing.id,
        ListingDocument.removed_at.is_(None)))
    if document is None:
        raise NotFound("There is no such document")
    document.removed_at = now
    listing.updated_at = now
    await record(session, actor=actor_of(user), action="listing.document_removed", entity_type="listing",
                 entity_id=listing.id or 0, now=now, before={"document_id": document.id, "title": document.title})
    if listing.state == ListingState.PUBLISHED:
        await session.flush()
        await _new_version(session, listing, user, now)
        await _sync_search(session, listing, now)
    await session.commit()


async def evidence_for_download(session: AsyncSession, user: SignedInUser | None, listing_id: int,
                                document_id: int, var_dir: Path) -> tuple[ListingDocument, Path]:
    """A document anyone may read while its listing is in search; otherwise only the listing's supplier and
    the DPS authority. NotFound for everyone else."""
    row = (await session.execute(sa.select(ListingDocument, Listing).join(Listing,
                                                                          Listing.id == ListingDocument.listing_id)
                                 .where(ListingDocument.id == document_id, Listing.id == listing_id,
                                        ListingDocument.removed_at.is_(None)))).first()
    if row is None:
        raise NotFound("There is no such document")
    document, listing = row
    allowed = listing.in_search or (user is not None and (
        listing.organisation_id in supplier_organisation_ids(user)
        or bool(user.organisation_ids_of_kind(OrganisationKind.AUTHORITY))))
    if not allowed:
        raise NotFound("There is no such document")
    path = evidence_dir(var_dir) / document.stored_name
    if not path.is_file():
        raise NotFound("There is no such document")
    return document, path


# --- reading ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListingRow:
    listing: Listing
    category_name: str
    organisation_name: str


def _rows_query() -> Any:
    return (sa.select(Listing, Category.name, Organisation.name)
            .join(Category, Category.id == Listing.category_id)
            .join(Organisation, Organisation.id == Listing.organisation_id))


async def listings_of(session: AsyncSession, organisation_ids: frozenset[int] | set[int]) -> list[ListingRow]:
    rows = (await session.execute(_rows_query().where(Listing.organisation_id.in_(organisation_ids))
                                  .order_by(Listing.updated_at.desc(), Listing.id.desc()))).all()
    return [ListingRow(*row) for row in rows]


async def all_listings(session: AsyncSession, state: str | None = None) -> list[ListingRow]:
    query = _rows_query().order_by(Listing.updated_at.desc(), Listing.id.desc())
    if state:
        query = query.where(Listing.state == state)
    return [ListingRow(*row) for row in (await session.execute(query)).all()]


async def listing_row(session: AsyncSession, listing_id: int) -> ListingRow:
    row = (await session.execute(_rows_query().where(Listing.id == listing_id))).first()
    if row is None:
        raise NotFound("There is no such listing")
    return ListingRow(*row)


NOT_PUBLISHED = "There is no published innovation with this id"


@dataclass(frozen=True)
class VersionEntry:
    """One line of a listing's history: which version, and when it was published."""

    version: int
    published_at: datetime


async def versions_of(session: AsyncSession, listing_id: int) -> list[VersionEntry]:
    """The history list, newest first; each version's content is read only when that version is opened."""
    rows = (await session.execute(sa.select(col(ListingVersion.version), col(ListingVersion.published_at))
                                  .where(ListingVersion.listing_id == listing_id)
                                  .order_by(col(ListingVersion.version).desc()))).all()
    return [VersionEntry(version, published_at) for version, published_at in rows]


async def version_of(session: AsyncSession, listing_id: int, version: int) -> ListingVersion:
    found = await session.scalar(sa.select(ListingVersion).where(ListingVersion.listing_id == listing_id,
                                                                 ListingVersion.version == version))
    if found is None:
        raise NotFound("There is no such version")
    return found


@dataclass(frozen=True)
class PublishedInnovation:
    document: dict[str, Any]
    category_id: int


async def published_innovation(session: AsyncSession, listing_id: int, today: date) -> PublishedInnovation:
    """The public document of a listing that is in search; NotFound otherwise (also for drafts and withdrawn).
    The listing, its category and its supplier are read in one statement: this is the most read page."""
    row = (await session.execute(
        sa.select(Listing, Category, Organisation)
        .join(Category, col(Category.id) == Listing.category_id)
        .join(Organisation, col(Organisation.id) == Listing.organisation_id)
        .where(Listing.id == listing_id, Listing.in_search.is_(True)))).one_or_none()
    if row is None:
        raise NotFound(NOT_PUBLISHED)
    listing, category, organisation = row
    document = search_document_from(listing, category, ListedSupplier.of(organisation),
                                    await documents_of(session, listing_id), today)
    return PublishedInnovation(dict(document.public), category.id or 0)


# Built once: this runs on every anonymous view of an innovation's page.
_PUBLISHED_VERSION_STAMP = sa.select(col(Listing.index_version)).where(
    col(Listing.id) == sa.bindparam("listing_id"), col(Listing.in_search).is_(True))


async def published_version_stamp(point_reads: PointReads, listing_id: int) -> int:
    """The index_version of a listing in search, which moves on with every change to what its public page shows
    (the listing, its documents, its supplier's admission); NotFound if it is not in search."""
    stamp = await point_reads.scalar(_PUBLISHED_VERSION_STAMP, {"listing_id": listing_id})
    if stamp is None:
        raise NotFound(NOT_PUBLISHED)
    return int(stamp)


@dataclass(frozen=True)
class SupplierContact:
    name: str
    email: str


async def supplier_contact(session: AsyncSession, listing_id: int) -> SupplierContact | None:
    """Whom a buyer asks about a published innovation: the person who listed it while they are still a member of
    its supplier, otherwise the supplier's first administrator."""
    listing = await session.get(Listing, listing_id)
    if listing is None:
        return None
    members = (await session.execute(
        sa.select(User, col(Membership.role)).join(Membership, col(Membership.user_id) == User.id)
        .where(col(Membership.organisation_id) == listing.organisation_id)
        .order_by(col(Membership.id)))).all()
    chosen = next((user for user, _ in members if user.id == listing.created_by_user_id), None) or next(
        (user for user, role in members if role == Role.SUPPLIER_ADMIN), None)
    return SupplierContact(chosen.full_name or chosen.email, chosen.email) if chosen is not None else None


async def published_innovations(session: AsyncSession, listing_ids: list[int], today: date) -> list[dict[str, Any]]:
    listings = (await session.scalars(sa.select(Listing).where(Listing.id.in_(listing_ids),
                                                               Listing.in_search.is_(True)))).all()
    by_id = {listing.id: listing for listing in listings}
    return [dict((await search_document(session, by_id[i], today)).public) for i in listing_ids if i in by_id]


@dataclass(frozen=True)
class ChangesPage:
    changes: list[CatalogueChange]
    next_cursor: int


async def changes_since(session: AsyncSession, cursor: int, limit: int) -> ChangesPage:
    changes = list((await session.scalars(sa.select(CatalogueChange).where(CatalogueChange.id > cursor)
                                          .order_by(CatalogueChange.id).limit(limit))).all())
    return ChangesPage(changes, changes[-1].id or cursor if changes else cursor)
