"""Supplier listings through the HTTP layer: only in active categories, draft -> published -> withdrawn,
versions on published edits, audit and outbox rows in the same transaction, authority unpublish, evidence."""

from __future__ import annotations

import sqlalchemy as sa

from catalogue.models import CatalogueChange, Listing, ListingDocument, ListingVersion
from catalogue.search import search_index_for
from catalogue.search.port import SearchQuery
from dps.audit.models import AuditEvent
from dps.identity.models import Role
from dps.outbox.models import OutboxMessage
from tests.catalogue.support import (
    WEARABLES,
    create_listing,
    form_data,
    listing_id_from,
    published_listing,
    signed_in_supplier,
)
from tests.factories import category_id, make_authority_user
from tests.helpers import count_rows, post_form, scalar, sign_in


async def search_ids(settings, text: str = "") -> list[int]:
    result = await search_index_for(settings).search(SearchQuery(text=text))
    return [hit.id for hit in result.hits]


async def test_a_supplier_lists_only_in_a_category_it_is_actively_admitted_to(client, db, passwords, clock):
    await signed_in_supplier(client, db, passwords, clock)
    form = await client.get("/supplier/listings/new")
    assert "Wearables and home diagnostics" in form.text
    assert "Virtual wards and remote monitoring" not in form.text  # not admitted there

    refused = await create_listing(client, form_data(category=await category_id(db, "virtual-wards")))

    assert refused.status_code == 400
    assert "only list in a category your organisation is admitted to" in refused.text
    assert 'value="Zio wearable ECG patch"' in refused.text  # what was typed is kept
    assert await count_rows(db, Listing) == 0


async def test_a_form_with_missing_and_bad_answers_names_each_field(client, db, passwords, clock):
    await signed_in_supplier(client, db, passwords, clock)
    response = await create_listing(client, form_data({"name": "", "icbs_using": "QZZ", "nice__guidance": "ABC1",
                                                       "indicative_price": "lots", "dtac__version": ""},
                                                      await category_id(db, WEARABLES)))
    assert response.status_code == 400
    for message in ("Enter the name of the innovation", "not recognised: QZZ", "not recognised: ABC1",
                    "Enter the indicative price as an amount in pounds", 'href="#dtac__version"'):
        assert message in response.text


async def test_draft_publish_edit_withdraw_keeps_versions_and_feeds_search(client, db, passwords, clock, settings,
                                                                           drain_outbox):
    await signed_in_supplier(client, db, passwords, clock)
    listing_id = listing_id_from(await create_listing(client, form_data(category=await category_id(db, WEARABLES))))
    assert await count_rows(db, OutboxMessage) == 0  # a draft is not in search
    await drain_outbox()
    assert await search_ids(settings) == []

    await post_form(client, f"/supplier/listings/{listing_id}/publish", {},
                    form_page=f"/supplier/listings/{listing_id}")
    await drain_outbox()
    assert await search_ids(settings, "wearable") == [listing_id]

    edited = await post_form(client, f"/supplier/listings/{listing_id}",
                             form_data({"name": "Zio XT wearable ECG patch"}, await category_id(db, WEARABLES)),
                             form_page=f"/supplier/listings/{listing_id}/edit")
    assert edited.status_code == 303
    versions = (await db.scalars(sa.select(ListingVersion).where(ListingVersion.listing_id == listing_id)
                                 .order_by(ListingVersion.version))).all()
    await db.commit()
    assert [(v.version, v.content["name"]) for v in versions] == [(1, "Zio wearable ECG patch"),
                                                                  (2, "Zio XT wearable ECG patch")]
    page = await client.get(f"/supplier/listings/{listing_id}")
    assert "Version 2" in page.text and "Version 1" in page.text
    old = await client.get(f"/supplier/listings/{listing_id}/versions/1")
    assert "Zio wearable ECG patch" in old.text and "Zio XT" not in old.text
    await drain_outbox()
    hits = (await search_index_for(settings).search(SearchQuery(text="XT"))).hits
    assert [hit.document["name"] for hit in hits] == ["Zio XT wearable ECG patch"]

    await post_form(client, f"/supplier/listings/{listing_id}/withdraw", {},
                    form_page=f"/supplier/listings/{listing_id}")
    await drain_outbox()
    assert await search_ids(settings) == []
    public = await client.get(f"/catalogue/innovations/{listing_id}")
    assert public.status_code == 404
    changes = (await db.scalars(sa.select(CatalogueChange.change).order_by(CatalogueChange.id))).all()
    await db.commit()
    assert list(changes) == ["published", "updated", "withdrawn"]


async def test_each_change_writes_its_audit_event_and_outbox_row_together(client, db, passwords, clock):
    await signed_in_supplier(client, db, passwords, clock)
    listing_id = listing_id_from(await create_listing(client, form_data(category=await category_id(db, WEARABLES))))
    audit_before = await scalar(db, sa.select(sa.func.max(AuditEvent.id)))

    await post_form(client, f"/supplier/listings/{listing_id}/publish", {},
                    form_page=f"/supplier/listings/{listing_id}")

    actions = (await db.scalars(sa.select(AuditEvent.action).where(AuditEvent.id > audit_before))).all()
    await db.commit()
    assert "listing.published" in actions
    message = await scalar(db, sa.select(OutboxMessage).where(OutboxMessage.topic == "search-index"))
    assert message.dedupe_key == f"search-index:{listing_id}:1"
    assert message.payload["document"]["public"]["name"] == "Zio wearable ECG patch"


async def test_another_supplier_cannot_see_or_change_a_listing(client, db, passwords, clock):
    await signed_in_supplier(client, db, passwords, clock)
    listing_id = listing_id_from(await create_listing(client, form_data(category=await category_id(db, WEARABLES))))
    await client.get("/logout")
    client.cookies.clear()
    await signed_in_supplier(client, db, passwords, clock, email="bob@other.example", name="Other Ltd",
                             number="87654321")

    assert (await client.get(f"/supplier/listings/{listing_id}")).status_code == 404
    publish = await post_form(client, f"/supplier/listings/{listing_id}/publish", {}, form_page="/supplier/listings")
    assert publish.status_code == 404
    listing = await scalar(db, sa.select(Listing).where(Listing.id == listing_id))
    assert listing.state == "draft"


async def test_markdown_is_rendered_without_raw_html(client, db, passwords, clock):
    await signed_in_supplier(client, db, passwords, clock)
    listing_id = await published_listing(client, db, {
        "description": "**Bold** <script>alert(1)</script> [bad](javascript:alert(1)) [good](https://nhs.uk)"})
    html = (await client.get(f"/catalogue/innovations/{listing_id}")).text
    assert "<strong>Bold</strong>" in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert 'href="javascript:' not in html
    assert 'href="https://nhs.uk"' in html


async def test_authority_admin_unpublishes_with_a_reason_and_the_listing_leaves_search(client, db, passwords, clock,
                                                                                       settings, smtp_server,
                                                                                       drain_outbox):
    await signed_in_supplier(client, db, passwords, clock)
    listing_id = await published_listing(client, db)
    await drain_outbox()
    assert await search_ids(settings) == [listing_id]
    client.cookies.clear()
    await make_authority_user(db, passwords, clock, email="eve@authority.example", role=Role.EVALUATOR)
    await make_authority_user(db, passwords, clock, email="ada@authority.example", role=Role.AUTHORITY_ADMIN)

    await sign_in(client, "eve@authority.example")
    refused = await post_form(client, f"/authority/listings/{listing_id}/unpublish", {"reason": "x"},
                              form_page=f"/authority/listings/{listing_id}")
    assert refused.status_code == 403  # evaluators may look, only admins unpublish
    client.cookies.clear()
    await sign_in(client, "ada@authority.example")
    no_reason = await post_form(client, f"/authority/listings/{listing_id}/unpublish", {"reason": " "},
                                form_page=f"/authority/listings/{listing_id}")
    assert no_reason.status_code == 400 and "Give the reason" in no_reason.text

    done = await post_form(client, f"/authority/listings/{listing_id}/unpublish",
                           {"reason": "Claims not supported by the evidence"},
                           form_page=f"/authority/listings/{listing_id}")

    assert done.status_code == 303
    listing = await scalar(db, sa.select(Listing).where(Listing.id == listing_id))
    assert (listing.state, listing.unpublished_reason) == ("unpublished", "Claims not supported by the evidence")
    await drain_outbox()
    assert await search_ids(settings) == []
    assert any("unpublished" in m["Subject"] and "Claims not supported" in m.get_content()
               for m in smtp_server.messages)


async def test_a_suspended_supplier_leaves_search_and_returns_when_reinstated(client, db, passwords, clock, settings,
                                                                              drain_outbox):
    from dps.admission.models import Admission
    from dps.admission.rules import MembershipEvent
    from dps.admission.services import change_admission
    from dps.identity.services import load_signed_in_user

    organisation, _ = await signed_in_supplier(client, db, passwords, clock)
    listing_id = await published_listing(client, db)
    await drain_outbox()
    admin = await make_authority_user(db, passwords, clock, email="ada@authority.example", role=Role.AUTHORITY_ADMIN)
    admission = await scalar(db, sa.select(Admission).where(Admission.organisation_id == organisation.id))
    signed = await load_signed_in_user(db, admin.id)

    await change_admission(db, signed, admission.id, event=MembershipEvent.SUSPEND, reason="Declaration overdue",
                           now=clock.now())
    await drain_outbox()
    assert await search_ids(settings) == []
    assert (await client.get(f"/catalogue/innovations/{listing_id}")).status_code == 404
    listing = await scalar(db, sa.select(Listing).where(Listing.id == listing_id))
    assert (listing.state, listing.in_search) == ("published", False)

    await change_admission(db, signed, admission.id, event=MembershipEvent.REINSTATE, reason="Declaration received",
                           now=clock.now())
    await drain_outbox()
    assert await search_ids(settings) == [listing_id]


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


async def upload(client, listing_id: int, title: str, content: bytes, filename: str = "evidence.pdf",
                 content_type: str = "application/pdf"):
    await client.get(f"/supplier/listings/{listing_id}")
    token = client.cookies.get("csrftoken")
    return await client.post(f"/supplier/listings/{listing_id}/documents", data={"title": title, "_csrf_token": token},
                             files={"file": (filename, content, content_type)})


async def test_evidence_must_be_a_pdf_by_content_and_is_served_only_behind_a_check(client, db, passwords, clock,
                                                                                   settings):
    await signed_in_supplier(client, db, passwords, clock)
    listing_id = listing_id_from(await create_listing(client, form_data(category=await category_id(db, WEARABLES))))

    fake = await upload(client, listing_id, "Not really a PDF", b"<html><script>x</script></html>", "trick.pdf")
    assert fake.status_code == 400 and "The selected file must be a PDF" in fake.text
    huge = await upload(client, listing_id, "Too big", PDF + b"0" * (5 * 1024 * 1024))
    assert huge.status_code in (400, 413)
    assert await count_rows(db, ListingDocument) == 0

    ok = await upload(client, listing_id, "NICE MTG32 summary", PDF, "../../etc/passwd.pdf")
    assert ok.status_code == 303, ok.text[-2000:]
    document = await scalar(db, sa.select(ListingDocument))
    assert document.filename == "passwd.pdf"
    stored = settings.var_dir / "evidence" / document.stored_name
    assert stored.read_bytes() == PDF
    assert "static" not in str(stored)

    own = await client.get(f"/supplier/listings/{listing_id}/documents/{document.id}")
    assert own.status_code == 200 and own.content == PDF
    assert own.headers["content-type"] == "application/pdf"
    assert own.headers["x-content-type-options"] == "nosniff"
    client.cookies.clear()
    # A draft's evidence is not public.
    assert (await client.get(f"/catalogue/innovations/{listing_id}/documents/{document.id}")).status_code == 404
