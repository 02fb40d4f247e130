"""The world of journey 2, seeded through the services (the browser part is the journey itself): a trust with a
buyer and two evaluators, three suppliers admitted to a category of the dynamic market (Procurement Act 2023, so
the award passes through the contract award notice) each with a published listing, a fund with one allocation to an
ICB and that ICB's fund manager."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from catalogue import services as catalogue
from dps.identity.models import User
from tests.catalogue.support import form_data
from tests.factories import World, make_allocation, make_competition_world, make_fund, make_fund_manager, signed_in

FUND_NAME = "Virtual Wards Transformation Fund"
ALLOCATION_POUNDS = 500_000

# One listing for each admitted supplier, in the order of World.bidders (Acme, Brightwell, Carewave).
LISTINGS = (
    ("Acme WardWatch", "Remote monitoring of patients on a virtual ward, with alerts to the clinical team."),
    ("Brightwell HomeVitals", "Remote monitoring kit for patients at home after discharge from hospital."),
    ("Carewave Pulse", "Remote monitoring of heart rate and oxygen saturation for virtual wards."),
)


@dataclass
class Seeded:
    world: World
    listing_ids: list[int]
    allocation_id: int
    fund_manager: User


async def seed_journey(db: Any, passwords: Any, clock: Any) -> Seeded:
    world = await make_competition_world(db, passwords, clock, regime="pa2023_dynamic_market")
    listing_ids = []
    for party, (name, summary) in zip(world.bidders, LISTINGS, strict=True):
        supplier = await signed_in(db, party.user)
        saved = await catalogue.create_listing(db, supplier, party.organisation.id, form_data(
            {"name": name, "summary": summary, "care_settings": ["home", "acute"],
             "clinical_areas": "virtual wards, remote monitoring"}, world.category_id), clock.now())
        assert saved.listing is not None, saved.form.errors
        await catalogue.publish_listing(db, supplier, saved.listing.id, clock.now())
        listing_ids.append(saved.listing.id)
    # A fund whose money does not lapse at the year end: the payment happens at the real date (localstripe signs
    # its webhooks with the real time), which may be after the end of the allocation's financial year.
    # The buyer is trust RX1, of the Nottingham and Nottinghamshire ICB (QT1): the fund's allocation is that ICB's
    # and so is the fund manager (RULES.md 5: money stays in its ICB).
    fund = await make_fund(db, clock, name=FUND_NAME, lapses_at_year_end=False)
    allocation_id = await make_allocation(db, clock, fund=fund, ods="QT1", pounds=ALLOCATION_POUNDS, budget="revenue")
    manager = await make_fund_manager(db, passwords, clock, ods="QT1", email="finn@nottingham.example.nhs.uk")
    return Seeded(world, listing_ids, allocation_id, manager)
