"""Reference data every installation has: NHS England regions, the 42 ICBs, the ICB of each known trust, the DPS
authority and agreements.

Loaded idempotently by `dps db upgrade` (after the migrations) and by the demo seed.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dps.admission.questionnaire import DEVICE_SECTION_KEYS, DIGITAL_SECTION_KEYS, selection_section_keys
from dps.agreements.models import Agreement, Category
from dps.audit.services import Actor, record
from dps.competitions.rules import check_rule_settings
from dps.identity.models import Organisation, OrganisationKind
from dps.identity.rules import BuyerType
from dps.regimes import Regime

NHS_ENGLAND_REGIONS: dict[str, str] = {
    "Y56": "NHS England London",
    "Y58": "NHS England South West",
    "Y59": "NHS England South East",
    "Y60": "NHS England Midlands",
    "Y61": "NHS England East of England",
    "Y62": "NHS England North West",
    "Y63": "NHS England North East and Yorkshire",
}

# (ODS code, name, region ODS code) for the 42 integrated care boards in England.
INTEGRATED_CARE_BOARDS: tuple[tuple[str, str, str], ...] = (
    ("QHM", "NHS North East and North Cumbria Integrated Care Board", "Y63"),
    ("QOQ", "NHS Humber and North Yorkshire Integrated Care Board", "Y63"),
    ("QF7", "NHS South Yorkshire Integrated Care Board", "Y63"),
    ("QWO", "NHS West Yorkshire Integrated Care Board", "Y63"),
    ("QE1", "NHS Lancashire and South Cumbria Integrated Care Board", "Y62"),
    ("QOP", "NHS Greater Manchester Integrated Care Board", "Y62"),
    ("QYG", "NHS Cheshire and Merseyside Integrated Care Board", "Y62"),
    ("QHL", "NHS Birmingham and Solihull Integrated Care Board", "Y60"),
    ("QUA", "NHS Black Country Integrated Care Board", "Y60"),
    ("QWU", "NHS Coventry and Warwickshire Integrated Care Board", "Y60"),
    ("QGH", "NHS Herefordshire and Worcestershire Integrated Care Board", "Y60"),
    ("QOC", "NHS Shropshire, Telford and Wrekin Integrated Care Board", "Y60"),
    ("QNC", "NHS Staffordshire and Stoke-on-Trent Integrated Care Board", "Y60"),
    ("QJ2", "NHS Derby and Derbyshire Integrated Care Board", "Y60"),
    ("QK1", "NHS Leicester, Leicestershire and Rutland Integrated Care Board", "Y60"),
    ("QJM", "NHS Lincolnshire Integrated Care Board", "Y60"),
    ("QPM", "NHS Northamptonshire Integrated Care Board", "Y60"),
    ("QT1", "NHS Nottingham and Nottinghamshire Integrated Care Board", "Y60"),
    ("QHG", "NHS Bedfordshire, Luton and Milton Keynes Integrated Care Board", "Y61"),
    ("QUE", "NHS Cambridgeshire and Peterborough Integrated Care Board", "Y61"),
    ("QM7", "NHS Hertfordshire and West Essex Integrated Care Board", "Y61"),
    ("QH8", "NHS Mid and South Essex Integrated Care Board", "Y61"),
    ("QMM", "NHS Norfolk and Waveney Integrated Care Board", "Y61"),
    ("QJG", "NHS Suffolk and North East Essex Integrated Care Board", "Y61"),
    ("QMF", "NHS North East London Integrated Care Board", "Y56"),
    ("QMJ", "NHS North Central London Integrated Care Board", "Y56"),
    ("QRV", "NHS North West London Integrated Care Board", "Y56"),
    ("QKK", "NHS South East London Integrated Care Board", "Y56"),
    ("QWE", "NHS South West London Integrated Care Board", "Y56"),
    ("QU9", "NHS Buckinghamshire, Oxfordshire and Berkshire West Integrated Care Board", "Y59"),
    ("QNQ", "NHS Frimley Integrated Care Board", "Y59"),
    ("QXU", "NHS Surrey Heartlands Integrated Care Board", "Y59"),
    ("QNX", "NHS Sussex Integrated Care Board", "Y59"),
    ("QKS", "NHS Kent and Medway Integrated Care Board", "Y59"),
    ("QRL", "NHS Hampshire and Isle of Wight Integrated Care Board", "Y59"),
    ("QOX", "NHS Bath and North East Somerset, Swindon and Wiltshire Integrated Care Board", "Y58"),
    ("QUY", "NHS Bristol, North Somerset and South Gloucestershire Integrated Care Board", "Y58"),
    ("QT6", "NHS Cornwall and the Isles of Scilly Integrated Care Board", "Y58"),
    ("QJK", "NHS Devon Integrated Care Board", "Y58"),
    ("QVV", "NHS Dorset Integrated Care Board", "Y58"),
    ("QR1", "NHS Gloucestershire Integrated Care Board", "Y58"),
    ("QSL", "NHS Somerset Integrated Care Board", "Y58"),
)

ICB_REGIONS: dict[str, str] = {code: region for code, _name, region in INTEGRATED_CARE_BOARDS}

# Every trust belongs to one ICB (RULES.md 5: money stays in its ICB). (ODS code, name, ICB ODS code) for the trusts
# this installation knows, from the NHS Organisation Data Service; a trust not listed here can draw on national
# funds only until it is added. RX1 and RX2 are the trusts of the tests' fixtures, RJ1 the demo's.
TRUSTS: tuple[tuple[str, str, str], ...] = (
    # London
    ("RJ1", "Guy's and St Thomas' NHS Foundation Trust", "QKK"),
    ("RJZ", "King's College Hospital NHS Foundation Trust", "QKK"),
    ("RJ2", "Lewisham and Greenwich NHS Trust", "QKK"),
    ("R1H", "Barts Health NHS Trust", "QMF"),
    ("RQX", "Homerton Healthcare NHS Foundation Trust", "QMF"),
    ("RF4", "Barking, Havering and Redbridge University Hospitals NHS Trust", "QMF"),
    ("RRV", "University College London Hospitals NHS Foundation Trust", "QMJ"),
    ("RAL", "Royal Free London NHS Foundation Trust", "QMJ"),
    ("RAP", "North Middlesex University Hospital NHS Trust", "QMJ"),
    ("RYJ", "Imperial College Healthcare NHS Trust", "QRV"),
    ("R1K", "London North West University Healthcare NHS Trust", "QRV"),
    ("RQM", "Chelsea and Westminster Hospital NHS Foundation Trust", "QRV"),
    ("RJ7", "St George's University Hospitals NHS Foundation Trust", "QWE"),
    ("RAX", "Kingston Hospital NHS Foundation Trust", "QWE"),
    ("RVR", "Epsom and St Helier University Hospitals NHS Trust", "QWE"),
    # South East
    ("RTH", "Oxford University Hospitals NHS Foundation Trust", "QU9"),
    ("RDU", "Frimley Health NHS Foundation Trust", "QNQ"),
    ("RTK", "Ashford and St Peter's Hospitals NHS Foundation Trust", "QXU"),
    ("RYR", "University Hospitals Sussex NHS Foundation Trust", "QNX"),
    ("RX2", "Sussex Partnership NHS Foundation Trust", "QNX"),
    ("RWF", "Maidstone and Tunbridge Wells NHS Trust", "QKS"),
    ("RHM", "University Hospital Southampton NHS Foundation Trust", "QRL"),
    # South West
    ("RA7", "University Hospitals Bristol and Weston NHS Foundation Trust", "QUY"),
    ("RN3", "Great Western Hospitals NHS Foundation Trust", "QOX"),
    ("REF", "Royal Cornwall Hospitals NHS Trust", "QT6"),
    ("RH8", "Royal Devon University Healthcare NHS Foundation Trust", "QJK"),
    ("RK9", "University Hospitals Plymouth NHS Trust", "QJK"),
    ("RA9", "Torbay and South Devon NHS Foundation Trust", "QJK"),
    ("RBD", "Dorset County Hospital NHS Foundation Trust", "QVV"),
    ("RTE", "Gloucestershire Hospitals NHS Foundation Trust", "QR1"),
    ("RH5", "Somerset NHS Foundation Trust", "QSL"),
    # Midlands
    ("RRK", "University Hospitals Birmingham NHS Foundation Trust", "QHL"),
    ("RL4", "The Royal Wolverhampton NHS Trust", "QUA"),
    ("RKB", "University Hospitals Coventry and Warwickshire NHS Trust", "QWU"),
    ("RWP", "Worcestershire Acute Hospitals NHS Trust", "QGH"),
    ("RXW", "The Shrewsbury and Telford Hospital NHS Trust", "QOC"),
    ("RJE", "University Hospitals of North Midlands NHS Trust", "QNC"),
    ("RTG", "University Hospitals of Derby and Burton NHS Foundation Trust", "QJ2"),
    ("RWE", "University Hospitals of Leicester NHS Trust", "QK1"),
    ("RWD", "United Lincolnshire Hospitals NHS Trust", "QJM"),
    ("RNQ", "Kettering General Hospital NHS Foundation Trust", "QPM"),
    ("RX1", "Nottingham University Hospitals NHS Trust", "QT1"),
    # East of England
    ("RD8", "Milton Keynes University Hospital NHS Foundation Trust", "QHG"),
    ("RGT", "Cambridge University Hospitals NHS Foundation Trust", "QUE"),
    ("RWH", "East and North Hertfordshire NHS Trust", "QM7"),
    ("RAJ", "Mid and South Essex NHS Foundation Trust", "QH8"),
    ("RM1", "Norfolk and Norwich University Hospitals NHS Foundation Trust", "QMM"),
    ("RDE", "East Suffolk and North Essex NHS Foundation Trust", "QJG"),
    # North West
    ("RXN", "Lancashire Teaching Hospitals NHS Foundation Trust", "QE1"),
    ("R0A", "Manchester University NHS Foundation Trust", "QOP"),
    ("RBS", "Alder Hey Children's NHS Foundation Trust", "QYG"),
    # North East and Yorkshire
    ("RTD", "The Newcastle upon Tyne Hospitals NHS Foundation Trust", "QHM"),
    ("RXP", "County Durham and Darlington NHS Foundation Trust", "QHM"),
    ("RWA", "Hull University Teaching Hospitals NHS Trust", "QOQ"),
    ("RCB", "York and Scarborough Teaching Hospitals NHS Foundation Trust", "QOQ"),
    ("RHQ", "Sheffield Teaching Hospitals NHS Foundation Trust", "QF7"),
    ("RFF", "Barnsley Hospital NHS Foundation Trust", "QF7"),
    ("RR8", "Leeds Teaching Hospitals NHS Trust", "QWO"),
)
TRUST_ICBS: dict[str, str] = {code: icb for code, _name, icb in TRUSTS}


def icb_of_trust(ods_code: str | None) -> str | None:
    """The ODS code of the ICB a trust belongs to, from the reference data; None for a trust it does not know."""
    return TRUST_ICBS.get((ods_code or "").strip().upper())


AUTHORITY_NAME = "NHS Innovation DPS Authority"

MEDTECH_DPS_REFERENCE = "DPS-MTI-2024"
DYNAMIC_MARKET_REFERENCE = "DM-DHI-2025"

# (agreement reference, slug, name, description)
CATEGORIES: tuple[tuple[str, str, str, str], ...] = (
    (MEDTECH_DPS_REFERENCE, "virtual-wards", "Virtual wards and remote monitoring",
     "Technology-enabled hospital-at-home care: remote observation, alerting and clinical dashboards."),
    (MEDTECH_DPS_REFERENCE, "wearables-home-diagnostics", "Wearables and home diagnostics",
     "Wearable sensors and tests people use at home, with results shared with their care team."),
    (MEDTECH_DPS_REFERENCE, "ai-diagnostics", "AI diagnostics and decision support",
     "Artificial intelligence that supports diagnosis, triage and clinical decisions."),
    (MEDTECH_DPS_REFERENCE, "imaging", "Digital and 3D imaging",
     "Digital pathology, 3D imaging and image analysis, including CT-derived physiology."),
    (MEDTECH_DPS_REFERENCE, "surgical-infection-prevention", "Surgical and infection-prevention devices",
     "Devices that make surgery safer and prevent healthcare-associated infection."),
    (MEDTECH_DPS_REFERENCE, "logistics", "Logistics: drones and delivery",
     "Clinical logistics, including drone delivery of samples and medicines."),
    (MEDTECH_DPS_REFERENCE, "digital-mental-health", "Digital mental health",
     "Digital therapies and support for mental health, assured for NHS use."),
    (DYNAMIC_MARKET_REFERENCE, "population-health-analytics", "Population health analytics",
     "Tools that help integrated care systems understand and act on population health."),
    (DYNAMIC_MARKET_REFERENCE, "digital-therapeutics", "Digital therapeutics",
     "Evidence-based software that prevents, manages or treats a condition."),
)

# A2, criteria per category: what each category asks beyond the agreement's common sections (by slug, every
# category of CATEGORIES). Devices answer the medical device section (MHRA registration, UKCA/CE mark); digital
# tools answer DTAC and DSPT; a category that is both answers all three.
_DEVICE, _DIGITAL = DEVICE_SECTION_KEYS, DIGITAL_SECTION_KEYS
CATEGORY_SELECTION: dict[str, tuple[str, ...]] = {
    "virtual-wards": (*_DEVICE, *_DIGITAL),
    "wearables-home-diagnostics": (*_DEVICE, *_DIGITAL),
    "ai-diagnostics": (*_DEVICE, *_DIGITAL),
    "imaging": (*_DEVICE, *_DIGITAL),
    "surgical-infection-prevention": _DEVICE,
    "logistics": (),
    "digital-mental-health": _DIGITAL,
    "population-health-analytics": _DIGITAL,
    "digital-therapeutics": (*_DEVICE, *_DIGITAL),
}


def category_selection_sections(slug: str) -> list[str]:
    """The questionnaire sections the reference category `slug` asks: the common ones plus its additions."""
    return selection_section_keys(CATEGORY_SELECTION[slug])


AGREEMENTS: tuple[dict[str, object], ...] = (
    {
        "reference": MEDTECH_DPS_REFERENCE,
        "name": "Medical Technology Innovation DPS",
        "regime": Regime.PCR2015_DPS,
        "description": "A dynamic purchasing system for innovative medical technology, open to new suppliers "
        "throughout its life.",
        "starts_on": date(2024, 4, 1),
        "ends_on": date(2029, 2, 23),
        "rule_settings": {"minimum_tender_days": 10, "refresh_response_working_days": 5},
    },
    {
        "reference": DYNAMIC_MARKET_REFERENCE,
        "name": "Digital Health Innovation Dynamic Market",
        "regime": Regime.PA2023_DYNAMIC_MARKET,
        "description": "A dynamic market under the Procurement Act 2023 for digital health innovation.",
        "starts_on": date(2025, 4, 1),
        "ends_on": date(2031, 3, 31),
        "rule_settings": {"minimum_tender_days": 10, "refresh_response_working_days": 5},
    },
)


async def load_reference_data(session: AsyncSession, now: datetime) -> int:
    """Insert whatever reference rows are missing; returns how many were added. Safe to run any number of times."""
    added = 0
    actor = Actor.system("reference-data")
    existing_ods = set((await session.scalars(
        sa.select(col(Organisation.ods_code)).where(col(Organisation.ods_code).is_not(None)))).all())
    buyers: list[tuple[str, str, BuyerType, str | None]] = [
        (code, name, BuyerType.NHSE_REGION, None) for code, name in NHS_ENGLAND_REGIONS.items()]
    buyers += [(code, name, BuyerType.ICB, region) for code, name, region in INTEGRATED_CARE_BOARDS]
    for code, name, buyer_type, region in buyers:
        if code in existing_ods:
            continue
        session.add(
            Organisation(kind=OrganisationKind.BUYER, name=name, ods_code=code, buyer_type=buyer_type,
                         region_ods_code=region, created_at=now)
        )
        added += 1

    added += await _place_trusts_in_their_icbs(session, actor, now)

    authority = await session.scalar(
        sa.select(Organisation).where(col(Organisation.kind) == OrganisationKind.AUTHORITY))
    if authority is None:
        session.add(Organisation(kind=OrganisationKind.AUTHORITY, name=AUTHORITY_NAME, created_at=now))
        added += 1

    agreements: dict[str, Agreement] = {
        a.reference: a for a in (await session.scalars(sa.select(Agreement))).all()
    }
    for spec in AGREEMENTS:
        if spec["reference"] in agreements:
            continue
        check_rule_settings(str(spec["regime"]), spec["rule_settings"])  # type: ignore[arg-type]
        agreement = Agreement(**spec)  # type: ignore[arg-type]
        session.add(agreement)
        await session.flush()
        agreements[agreement.reference] = agreement
        await record(session, actor=actor, action="agreement.created", entity_type="agreement",
                     entity_id=agreement.id or 0, now=now, after=agreement.model_dump(mode="json", exclude={"id"}))
        added += 1

    existing_categories = {(c.agreement_id, c.slug): c for c in (await session.scalars(sa.select(Category))).all()}
    for reference, slug, name, description in CATEGORIES:
        agreement_id = agreements[reference].id
        existing = existing_categories.get((agreement_id or 0, slug))
        if existing is not None:
            if not existing.selection_sections:  # a category from before criteria were set per category (A2)
                existing.selection_sections = category_selection_sections(slug)
                await record(session, actor=actor, action="category.selection_sections_set", entity_type="category",
                             entity_id=existing.id or 0, now=now, before={"selection_sections": []},
                             after={"selection_sections": existing.selection_sections})
                added += 1
            continue
        category = Category(agreement_id=agreement_id or 0, slug=slug, name=name, description=description,
                            selection_sections=category_selection_sections(slug))
        session.add(category)
        await session.flush()
        await record(session, actor=actor, action="category.created", entity_type="category",
                     entity_id=category.id or 0, now=now, after={"agreement": reference, "slug": slug, "name": name,
                                                                "selection_sections": category.selection_sections})
        added += 1
    await session.flush()
    return added


async def _place_trusts_in_their_icbs(session: AsyncSession, actor: Actor, now: datetime) -> int:
    """Give every trust already registered the ICB the reference data names for it (RULES.md 5: every trust belongs
    to one ICB); returns how many trusts changed. A trust the reference data does not know keeps what it has."""
    changed = 0
    trusts = (await session.scalars(sa.select(Organisation).where(
        col(Organisation.buyer_type) == BuyerType.TRUST, col(Organisation.ods_code).in_(TRUST_ICBS)))).all()
    for trust in trusts:
        icb = TRUST_ICBS[trust.ods_code or ""]
        if trust.parent_icb_ods_code == icb:
            continue
        before = {"parent_icb_ods_code": trust.parent_icb_ods_code}
        trust.parent_icb_ods_code = icb
        await session.flush()
        await record(session, actor=actor, action="organisation.icb_set", entity_type="organisation",
                     entity_id=trust.id or 0, now=now, before=before, after={"parent_icb_ods_code": icb})
        changed += 1
    return changed
