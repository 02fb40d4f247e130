from __future__ import annotations

import sqlalchemy as sa

from dps.agreements.models import Agreement, Category
from dps.identity.models import Organisation
from dps.reference import load_reference_data
from dps.regimes import Regime


async def test_the_42_icbs_with_ods_codes_and_regions(db):
    icbs = (await db.scalars(sa.select(Organisation).where(Organisation.buyer_type == "icb"))).all()
    regions = {o.ods_code: o for o in (await db.scalars(
        sa.select(Organisation).where(Organisation.buyer_type == "nhse_region"))).all()}
    assert len(icbs) == 42
    assert len(regions) == 7
    assert all(icb.ods_code and icb.ods_code.startswith("Q") and len(icb.ods_code) == 3 for icb in icbs)
    assert all(icb.region_ods_code in regions for icb in icbs)
    london = sorted(icb.ods_code for icb in icbs if icb.region_ods_code == "Y56")
    assert london == ["QKK", "QMF", "QMJ", "QRV", "QWE"]


async def test_both_regimes_have_an_agreement_with_categories(db):
    agreements = {a.regime: a for a in (await db.scalars(sa.select(Agreement))).all()}
    assert set(agreements) == {Regime.PCR2015_DPS, Regime.PA2023_DYNAMIC_MARKET}
    assert agreements[Regime.PCR2015_DPS].name == "Medical Technology Innovation DPS"
    medtech = (await db.scalars(
        sa.select(Category.slug).where(Category.agreement_id == agreements[Regime.PCR2015_DPS].id))).all()
    assert {"virtual-wards", "wearables-home-diagnostics", "ai-diagnostics", "imaging",
            "surgical-infection-prevention", "logistics", "digital-mental-health"} <= set(medtech)


async def test_loading_twice_adds_nothing(db, clock):
    assert await load_reference_data(db, clock.now()) == 0
