"""Demo catalogue for `dps seed-demo`: admissions for the demo suppliers and published listings of real
NHS-backed innovations (HeartFlow, Plus Sutures, Endocuff Vision, SecurAcath). The text is written for the demo.

Admissions are created directly (as if an evaluation had admitted them). Listings go through the same
content checks and the same search outbox as a supplier's, so the in-process worker indexes them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from catalogue import rules, services
from catalogue.models import Listing
from dps.admission.models import Admission, Application
from dps.agreements.models import Category
from dps.audit.services import Actor, record
from dps.identity.models import Organisation, User

COMMON_ASSURANCE: dict[str, str] = {
    "dspt__applies": "yes", "dspt__year": "2026/27", "dspt__status": "standards_met",
    "cyber_essentials__level": "cyber_essentials_plus", "cyber_essentials__certificate_number": "CEP-DEMO-001",
    "cyber_essentials__expiry-day": "30", "cyber_essentials__expiry-month": "11",
    "cyber_essentials__expiry-year": "2027",
    "supply_chain__carbon_reduction_plan": "pass", "supply_chain__modern_slavery": "yes",
    "supply_chain__net_zero": "yes",
}
NO_DTAC = {"dtac__applies": "no"}
DTAC_PASSED = {"dtac__applies": "yes", "dtac__version": "2024", "dtac__c1_clinical_safety": "passed",
               "dtac__c2_data_protection": "passed", "dtac__c3_technical_security": "passed",
               "dtac__c4_interoperability": "passed", "dtac__d_usability_accessibility": "passed"}


def _device(device_class: str, mark: str, reference: str, expiry: tuple[str, str, str]) -> dict[str, str]:
    return {"medical_device__device_class": device_class, "medical_device__mark": mark,
            "medical_device__mhra_reference": reference, "medical_device__certificate_expiry-day": expiry[0],
            "medical_device__certificate_expiry-month": expiry[1], "medical_device__certificate_expiry-year": expiry[2]}


@dataclass(frozen=True)
class DemoListing:
    companies_house_number: str
    category_slug: str
    form: dict[str, Any]
    # Supplier profile for the SME facet: headcount, turnover and balance sheet in pounds.
    profile: tuple[int, int, int]


DEMO_LISTINGS: tuple[DemoListing, ...] = (
    DemoListing("11000001", "imaging", {
        "name": "HeartFlow FFRct Analysis",
        "summary": "Non-invasive fractional flow reserve from a coronary CT scan, to find which narrowed arteries "
                   "limit blood flow in suspected coronary artery disease.",
        "description": "HeartFlow builds a personalised 3D model of the coronary arteries from a standard CT "
                       "angiogram and computes FFRct along each vessel.\n\n"
                       "* Reduces invasive angiography that finds no significant disease\n"
                       "* Results within hours, reviewed by the cardiology team\n\n"
                       "Recommended by NICE in [MTG32](https://www.nice.org.uk/guidance/mtg32).",
        "care_settings": ["acute"], "clinical_areas": "cardiology, coronary artery disease, chest pain",
        "icbs_using": "QMF, QKK, QOP", "trusts_using": "Guy's and St Thomas' NHS Foundation Trust\nRoyal Papworth",
        "pricing_model": "per-patient", "indicative_price": "700.00",
        **DTAC_PASSED, **_device("class_iib", "ukca", "MHRA-HF-0001", ("31", "3", "2028")),
        "nice__esf_tier": "c", "nice__guidance": "MTG32", "nice__mtfm": "yes",
    }, (420, 90_000_000, 60_000_000)),
    DemoListing("11000002", "surgical-infection-prevention", {
        "name": "Plus Sutures (triclosan-coated)",
        "summary": "Antibacterial sutures coated with triclosan that reduce surgical site infection (SSI) after "
                   "abdominal, cardiac and orthopaedic surgery.",
        "description": "Triclosan-coated absorbable sutures inhibit bacterial colonisation of the suture line.\n\n"
                       "NICE medical technologies guidance MTG59 found they reduce the risk of surgical site "
                       "infection and save money. Listed under the MedTech Funding Mandate.",
        "care_settings": ["acute"], "clinical_areas": "surgery, infection prevention, wound care",
        "icbs_using": "QHM, QWO", "trusts_using": "Newcastle upon Tyne Hospitals NHS Foundation Trust",
        "pricing_model": "per-procedure", "indicative_price": "12.50",
        **NO_DTAC, **_device("class_iii", "ce", "MHRA-PS-0002", ("30", "6", "2029")), "medical_device__ce_basis": "mdd",
        "nice__esf_tier": "not_applicable", "nice__guidance": "MTG59", "nice__mtfm": "yes",
    }, (120, 30_000_000, 20_000_000)),
    DemoListing("11000003", "surgical-infection-prevention", {
        "name": "Endocuff Vision",
        "summary": "A single-use cuff for the colonoscope tip that flattens bowel folds, improving adenoma "
                   "detection in bowel cancer screening.",
        "description": "Endocuff Vision fits on the end of a standard colonoscope. Its flexible arms hold the "
                       "folds of the colon back as the scope is withdrawn, so more polyps and adenomas are seen.\n\n"
                       "Recommended by NICE in MTG45 for colonoscopy.",
        "care_settings": ["acute", "community"],
        "clinical_areas": "gastroenterology, bowel cancer screening, endoscopy",
        "icbs_using": "QMJ", "trusts_using": "",
        "pricing_model": "per-procedure", "indicative_price": "25.00",
        **NO_DTAC, **_device("class_i", "ukca", "MHRA-EV-0003", ("31", "12", "2027")),
        "nice__esf_tier": "not_applicable", "nice__guidance": "MTG45", "nice__mtfm": "yes",
    }, (35, 6_000_000, 3_000_000)),
    DemoListing("11000004", "surgical-infection-prevention", {
        "name": "SecurAcath",
        "summary": "A subcutaneous securement device for PICC and central venous catheters that reduces "
                   "catheter migration, dislodgement and line infection.",
        "description": "SecurAcath anchors a catheter just beneath the skin at the insertion site, so it can stay "
                       "in place for the life of the line without sutures or adhesive dressings.\n\n"
                       "* Fewer catheter replacements\n* Less time for nurses on dressing changes\n\n"
                       "NICE MTG34 recommends it for securing PICCs.",
        "care_settings": ["acute", "community", "home"],
        "clinical_areas": "vascular access, oncology, infection prevention",
        "icbs_using": "QE1, QYG", "trusts_using": "",
        "pricing_model": "per-patient", "indicative_price": "35.00",
        **NO_DTAC, **_device("class_iia", "ukca", "MHRA-SA-0004", ("31", "8", "2028")),
        "nice__esf_tier": "not_applicable", "nice__guidance": "MTG34", "nice__mtfm": "yes",
    }, (48, 8_000_000, 5_000_000)),
    DemoListing("11000001", "ai-diagnostics", {
        "name": "HeartFlow Plaque Analysis",
        "summary": "AI that quantifies and characterises coronary plaque from a CT angiogram to guide "
                   "preventive treatment.",
        "description": "Uses artificial intelligence (AI) to measure the volume and type of plaque in each "
                       "coronary artery, supporting risk assessment alongside FFRct.",
        "care_settings": ["acute", "primary-care"], "clinical_areas": "cardiology, prevention",
        "icbs_using": "QMF", "trusts_using": "",
        "pricing_model": "per-patient", "indicative_price": "450.00",
        **DTAC_PASSED, **_device("class_iia", "ukca", "MHRA-HF-0005", ("31", "3", "2028")),
        "nice__esf_tier": "b", "nice__guidance": "", "nice__mtfm": "no",
    }, (420, 90_000_000, 60_000_000)),
)


@dataclass(frozen=True)
class _Publisher:
    id: int


async def seed_demo_catalogue(session: AsyncSession, *, now: datetime, actor: Actor, user_email: str) -> int:
    """Admit the demo suppliers to their categories and publish their listings; returns how many listings were
    added. Does not commit. Safe to run again: existing listings (same supplier and name) are left alone."""
    user_id = await session.scalar(sa.select(col(User.id)).where(col(User.email) == user_email))
    if user_id is None:
        return 0
    categories = {c.slug: c for c in (await session.scalars(sa.select(Category))).all()}
    added = 0
    for demo in DEMO_LISTINGS:
        organisation = await session.scalar(sa.select(Organisation).where(
            col(Organisation.companies_house_number) == demo.companies_house_number))
        category = categories.get(demo.category_slug)
        if organisation is None or category is None:
            continue
        if organisation.headcount is None:
            organisation.headcount = demo.profile[0]
            organisation.turnover_pence, organisation.balance_sheet_pence = demo.profile[1] * 100, demo.profile[2] * 100
        await _admit(session, organisation.id or 0, category.id or 0, user_id, now, actor)
        exists = await session.scalar(sa.select(col(Listing.id)).where(col(Listing.organisation_id) == organisation.id,
                                                                  col(Listing.name) == demo.form["name"]))
        if exists is not None:
            continue
        checked = rules.check_listing_form({**COMMON_ASSURANCE, **demo.form, "category_id": str(category.id)},
                                           allowed_category_ids=[category.id or 0], known_icbs=services.ICB_CODES)
        assert checked.content is not None, checked.errors
        listing = Listing(organisation_id=organisation.id or 0, category_id=category.id or 0, state="published",
                          name=checked.content.name, summary=checked.content.summary,
                          pricing_model=checked.content.pricing_model, created_by_user_id=user_id, created_at=now,
                          updated_at=now)
        services._apply_content(listing, checked.content)  # the seed publishes as a supplier would
        session.add(listing)
        await session.flush()
        await services._new_version(session, listing, _Publisher(user_id), now)  # type: ignore[arg-type]
        await record(session, actor=actor, action="listing.published", entity_type="listing",
                     entity_id=listing.id or 0, now=now, after={"state": "published", "version": listing.version})
        await services._sync_search(session, listing, now)
        added += 1
    return added


async def _admit(session: AsyncSession, organisation_id: int, category_id: int, user_id: int, now: datetime,
                 actor: Actor) -> None:
    if await session.scalar(sa.select(col(Admission.id)).where(col(Admission.organisation_id) == organisation_id,
                                                          col(Admission.category_id) == category_id)) is not None:
        return
    application = Application(organisation_id=organisation_id, category_id=category_id, state="admitted", answers={},
                              created_by_user_id=user_id, created_at=now, updated_at=now, submitted_at=now,
                              decided_at=now, decided_by_user_id=user_id,
                              decision_reasons="Demo data: admitted for the demonstration.")
    session.add(application)
    await session.flush()
    admission = Admission(organisation_id=organisation_id, category_id=category_id, application_id=application.id or 0,
                          state="active", admitted_at=now, state_changed_at=now)
    session.add(admission)
    await session.flush()
    await record(session, actor=actor, action="admission.admitted", entity_type="admission",
                 entity_id=admission.id or 0,
                 now=now, after={"state": "active", "organisation_id": organisation_id, "category_id": category_id})
