"""Helpers for catalogue tests: a valid listing form, listings made through the pages, a signed-in supplier."""

from __future__ import annotations

import re
from typing import Any

from dps.identity.models import Organisation, User
from tests.factories import category_id, make_admitted_supplier
from tests.helpers import post_form, sign_in

WEARABLES = "wearables-home-diagnostics"  # the category the catalogue tests list innovations in

LISTING_FORM: dict[str, Any] = {
    "name": "Zio wearable ECG patch",
    "summary": "A wearable patch that records the heart for up to 14 days to find atrial fibrillation.",
    "description": "Worn at home.\n\n* Detects **AF** early\n* Cuts repeat visits",
    "care_settings": ["home", "primary-care"],
    "clinical_areas": "cardiology, stroke prevention",
    "icbs_using": "QMF, QWE",
    "trusts_using": "Guy's and St Thomas' NHS Foundation Trust",
    "pricing_model": "per-patient",
    "indicative_price": "250.00",
    "dtac__applies": "yes", "dtac__version": "2024", "dtac__c1_clinical_safety": "passed",
    "dtac__c2_data_protection": "passed", "dtac__c3_technical_security": "passed",
    "dtac__c4_interoperability": "passed", "dtac__d_usability_accessibility": "passed",
    "dspt__applies": "yes", "dspt__year": "2025/26", "dspt__status": "standards_met",
    "cyber_essentials__level": "cyber_essentials_plus", "cyber_essentials__certificate_number": "CE-1",
    "cyber_essentials__expiry-day": "30", "cyber_essentials__expiry-month": "9",
    "cyber_essentials__expiry-year": "2026",
    "medical_device__device_class": "class_iia", "medical_device__mark": "ukca",
    "medical_device__mhra_reference": "MHRA-0001", "medical_device__certificate_expiry-day": "1",
    "medical_device__certificate_expiry-month": "6", "medical_device__certificate_expiry-year": "2028",
    "nice__esf_tier": "b", "nice__guidance": "MTG32", "nice__mtfm": "yes",
    "supply_chain__carbon_reduction_plan": "pass", "supply_chain__modern_slavery": "yes",
    "supply_chain__net_zero": "yes",
}


def form_data(overrides: dict[str, Any] | None = None, category: int | None = None) -> dict[str, Any]:
    data = {**LISTING_FORM, **(overrides or {})}
    if category is not None:
        data["category_id"] = str(category)
    return data


async def create_listing(client: Any, data: dict[str, Any]) -> Any:
    return await post_form(client, "/supplier/listings", data, form_page="/supplier/listings/new")


def listing_id_from(response: Any) -> int:
    assert response.status_code == 303, response.text[-3000:]
    return int(re.search(r"/supplier/listings/(\d+)$", response.headers["location"]).group(1))


async def published_listing(client: Any, db: Any, overrides: dict[str, Any] | None = None,
                            slug: str = WEARABLES) -> int:
    """Create and publish a listing as the signed-in supplier; returns its id."""
    listing_id = listing_id_from(await create_listing(client, form_data(overrides, await category_id(db, slug))))
    response = await post_form(client, f"/supplier/listings/{listing_id}/publish", {},
                               form_page=f"/supplier/listings/{listing_id}")
    assert response.status_code == 303, response.text[-2000:]
    return listing_id


async def signed_in_supplier(client: Any, db: Any, passwords: Any, clock: Any,
                             **supplier: Any) -> tuple[Organisation, User]:
    """`make_admitted_supplier(**supplier)`, its admin signed in on `client`."""
    organisation, user = await make_admitted_supplier(db, passwords, clock, **supplier)
    response = await sign_in(client, user.email)
    assert response.status_code == 303
    return organisation, user
