"""A2 with RULES.md section 4 (assurance fields a listing or supplier carries): a listing starts from the assurance
the supplier's admission already holds, and evidence that has already expired is warned about on the listing and
keeps it from being published."""

from __future__ import annotations

import sqlalchemy as sa

from catalogue.models import Listing
from dps.admission import questionnaire
from dps.questions import validate_section
from tests.admission.support import VALID_ANSWERS
from tests.catalogue.support import (
    WEARABLES,
    create_listing,
    form_data,
    listing_id_from,
    published_listing,
    signed_in_supplier,
)
from tests.factories import category_id, make_admission, make_supplier_with_user
from tests.helpers import post_form, scalar, sign_in

# The test clock reads 5 January 2026.


def admitted_answers() -> dict:
    answers = {}
    for key, typed in VALID_ANSWERS.items():
        result = validate_section(questionnaire.section(key), typed)
        answers[key] = {"values": result.values, "answers": result.answers, "complete": result.complete}
    return answers


async def test_a2_a_new_listing_starts_from_the_assurance_of_the_admitted_application(client, db, passwords, clock):
    organisation, user = await make_supplier_with_user(db, passwords, clock)
    await make_admission(db, clock, organisation=organisation, category_id=await category_id(db, WEARABLES),
                         created_by=user, answers=admitted_answers())
    await make_admission(db, clock, organisation=organisation, category_id=await category_id(db, "logistics"),
                         created_by=user)
    await sign_in(client, user.email)

    index = await client.get("/supplier/listings")
    wearables = await category_id(db, WEARABLES)
    assert f"/supplier/listings/new?category_id={wearables}" in index.text
    page = await client.get(f"/supplier/listings/new?category_id={wearables}")

    assert page.status_code == 200
    assert "We have filled in your assurance" in page.text and "Wearables and home diagnostics" in page.text
    for filled in ('value="CE-123456"', 'value="MHRA-0001"', 'value="2025/26"', 'value="2024"'):
        assert filled in page.text, filled
    assert 'name="cyber_essentials__expiry-day" type="text" value="15"' in page.text \
        or ('id="cyber_essentials__expiry-day"' in page.text and 'value="15"' in page.text)
    # A category whose admission holds no assurance answers starts empty.
    logistics = await client.get(f"/supplier/listings/new?category_id={await category_id(db, 'logistics')}")
    assert 'value="CE-123456"' not in logistics.text
    assert "We have filled in your assurance" not in logistics.text


async def test_a2_the_prefilled_assurance_can_be_changed_before_saving(client, db, passwords, clock):
    organisation, user = await make_supplier_with_user(db, passwords, clock)
    await make_admission(db, clock, organisation=organisation, category_id=await category_id(db, WEARABLES),
                         created_by=user, answers=admitted_answers())
    await sign_in(client, user.email)
    page = await client.get("/supplier/listings/new")  # admitted to one category: it is chosen
    assert 'value="MHRA-0001"' in page.text

    listing_id = listing_id_from(await create_listing(client, form_data(
        {"medical_device__mhra_reference": "MHRA-9999"}, await category_id(db, WEARABLES))))

    assurance = await scalar(db, sa.select(Listing.assurance).where(Listing.id == listing_id))
    assert assurance["medical_device"]["mhra_reference"] == "MHRA-9999"


async def test_a2_expired_evidence_in_a_listing_is_warned_and_the_listing_cannot_be_published(client, db, passwords,
                                                                                           clock):
    await signed_in_supplier(client, db, passwords, clock)
    response = await create_listing(client, form_data({"cyber_essentials__expiry-day": "3",
                                                       "cyber_essentials__expiry-month": "1",
                                                       "cyber_essentials__expiry-year": "2026"},
                                                      await category_id(db, WEARABLES)))
    listing_id = listing_id_from(response)  # kept as a draft: expired assurance stays visible

    page = await client.get(f"/supplier/listings/{listing_id}")
    assert "You cannot publish this listing until you update it" in page.text
    assert ("The Cyber Essentials certificate expired on 3 January 2026: enter the date of a current certificate"
            in page.text)
    publish = await post_form(client, f"/supplier/listings/{listing_id}/publish", {},
                              form_page=f"/supplier/listings/{listing_id}")

    assert publish.status_code == 409
    assert "You cannot publish this listing until you update the evidence that has expired" in publish.text
    assert "The Cyber Essentials certificate expired on 3 January 2026" in publish.text
    assert await scalar(db, sa.select(Listing.state).where(Listing.id == listing_id)) == "draft"


async def test_a2_an_edit_of_a_published_listing_with_expired_evidence_is_refused(client, db, passwords, clock):
    await signed_in_supplier(client, db, passwords, clock)
    listing_id = await published_listing(client, db)

    response = await post_form(client, f"/supplier/listings/{listing_id}", form_data(
        {"medical_device__certificate_expiry-day": "1", "medical_device__certificate_expiry-month": "12",
         "medical_device__certificate_expiry-year": "2025", "dspt__year": "2023/24"},
        await category_id(db, WEARABLES)), form_page=f"/supplier/listings/{listing_id}/edit")

    assert response.status_code == 400
    assert "The medical device certificate expired on 1 December 2025" in response.text
    assert "The Data Security and Protection Toolkit publication for 2023/24 expired on 30 June 2024" in response.text
    assert await scalar(db, sa.select(Listing.version).where(Listing.id == listing_id)) == 1
