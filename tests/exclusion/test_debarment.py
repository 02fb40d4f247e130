"""A8: the debarment list, kept by the authority, reaches admission, memberships and search at once."""

from __future__ import annotations

import sqlalchemy as sa

from catalogue.models import Listing
from catalogue.search import search_index_for
from catalogue.search.port import SearchQuery
from dps.admission.models import Admission
from dps.audit.models import AuditEvent
from dps.exclusion.models import DebarmentEntry
from dps.identity.models import Role
from tests.catalogue.support import published_listing, signed_in_supplier
from tests.factories import make_authority_user
from tests.helpers import count_rows, post_form, scalar, sign_in


async def search_ids(settings) -> list[int]:
    return [hit.id for hit in (await search_index_for(settings).search(SearchQuery(text=""))).hits]


ENTRY = {"grounds": "fraud", "source": "pa2023_s62", "listed_from-day": "5", "listed_from-month": "1",
         "listed_from-year": "2026", "details": "Decision DL-2026-001"}


async def test_a8_a_supplier_put_on_the_list_leaves_every_category_and_search_at_once(
        client, db, passwords, clock, settings, drain_outbox):
    organisation, _ = await signed_in_supplier(client, db, passwords, clock)
    listing_id = await published_listing(client, db)
    await drain_outbox()
    assert await search_ids(settings) == [listing_id]
    client.cookies.clear()
    admin = await make_authority_user(db, passwords, clock, email="ada@authority.example", role=Role.AUTHORITY_ADMIN)
    await sign_in(client, admin.email)

    added = await post_form(client, "/authority/debarment", {**ENTRY, "organisation_id": str(organisation.id)})

    assert added.status_code == 303
    assert await scalar(db, sa.select(Admission.state).where(Admission.organisation_id == organisation.id)) == "removed"
    await drain_outbox()
    assert await search_ids(settings) == []
    listing = await scalar(db, sa.select(Listing).where(Listing.id == listing_id))
    assert listing.in_search is False
    actions = set((await db.scalars(sa.select(AuditEvent.action))).all())
    await db.commit()
    assert {"debarment.added", "admission.remove", "listing.left_search"} <= actions
    page = await client.get("/authority/debarment")
    assert organisation.name in page.text and "In force" in page.text


async def test_a8_the_list_refuses_an_entry_without_grounds_and_keeps_what_was_typed(client, db, passwords, clock):
    organisation, _ = await signed_in_supplier(client, db, passwords, clock)
    client.cookies.clear()
    admin = await make_authority_user(db, passwords, clock, email="ada@authority.example", role=Role.AUTHORITY_ADMIN)
    await sign_in(client, admin.email)

    refused = await post_form(client, "/authority/debarment", {**ENTRY, "grounds": "", "details": "Kept text",
                                                               "organisation_id": str(organisation.id)})

    assert refused.status_code == 400
    assert "Select at least one ground for the debarment" in refused.text and "Kept text" in refused.text
    assert await count_rows(db, DebarmentEntry) == 0
    assert await scalar(db, sa.select(Admission.state).where(Admission.organisation_id == organisation.id)) == "active"


async def test_a8_only_an_authority_admin_changes_the_list(client, db, passwords, clock):
    organisation, _ = await signed_in_supplier(client, db, passwords, clock)
    forbidden = await client.post("/authority/debarment", data={**ENTRY, "organisation_id": str(organisation.id)})
    assert forbidden.status_code in (401, 403)
    client.cookies.clear()
    evaluator = await make_authority_user(db, passwords, clock, email="eve@authority.example")
    await sign_in(client, evaluator.email)
    assert (await client.get("/authority/debarment")).status_code == 200
    refused = await post_form(client, "/authority/debarment", {**ENTRY, "organisation_id": str(organisation.id)},
                              form_page="/authority/debarment")
    assert refused.status_code == 403
    assert await count_rows(db, DebarmentEntry) == 0


async def test_a8_a_removed_entry_no_longer_debars_but_does_not_restore_membership(client, db, passwords, clock):
    organisation, _ = await signed_in_supplier(client, db, passwords, clock)
    client.cookies.clear()
    admin = await make_authority_user(db, passwords, clock, email="ada@authority.example", role=Role.AUTHORITY_ADMIN)
    await sign_in(client, admin.email)
    await post_form(client, "/authority/debarment", {**ENTRY, "organisation_id": str(organisation.id)})
    entry_id = await scalar(db, sa.select(DebarmentEntry.id))

    removed = await post_form(client, f"/authority/debarment/{entry_id}/remove", {"reason": "Overturned on appeal"},
                              form_page="/authority/debarment")

    assert removed.status_code == 303
    entry = await scalar(db, sa.select(DebarmentEntry))
    assert entry.removed_at is not None and entry.removal_reason == "Overturned on appeal"
    assert await scalar(db, sa.select(Admission.state).where(Admission.organisation_id == organisation.id)) == "removed"
