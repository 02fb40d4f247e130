"""Rows for the product's own tables, built from a seeded random generator: organisations, users, memberships,
applications and admissions in every state, listings with their first published version.

Pure: nothing here touches a database. `bench.generate` writes these rows in batches through SQLAlchemy Core
on the product's tables (the bulk path), then runs the product's services for the smaller sets.

Distributions are skewed on purpose, as a real catalogue is: a few categories, care settings, ICBs and suppliers
hold most listings; most suppliers are SMEs; most innovations are not medical devices.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bench.vocabulary import Vocabulary, ZipfPool
from dps.reference import ICB_REGIONS, TRUST_ICBS

# Category slug -> share of suppliers' applications (dps.reference.CATEGORIES).
CATEGORY_WEIGHTS: dict[str, float] = {
    "virtual-wards": 24, "ai-diagnostics": 20, "digital-therapeutics": 14, "wearables-home-diagnostics": 12,
    "digital-mental-health": 10, "population-health-analytics": 8, "imaging": 6,
    "surgical-infection-prevention": 4, "logistics": 2,
}
CARE_SETTING_WEIGHTS = {"acute": 40, "primary-care": 20, "community": 14, "home": 12, "mental-health": 6,
                        "ambulance": 3, "social-care": 3, "pharmacy": 2}
DEVICE_CLASS_WEIGHTS = {"not_a_device": 46, "class_i": 20, "class_iia": 17, "class_iib": 8, "class_iii": 3,
                        "aimd": 1, "ivd_general": 2, "ivd_self_test": 2, "ivd_list_b": 0.6, "ivd_list_a": 0.4}
ESF_TIER_WEIGHTS = {"not_applicable": 42, "b": 28, "a": 14, "c": 16}
DSPT_WEIGHTS = {"standards_met": 62, "standards_exceeded": 18, "approaching_standards": 14, "not_met": 6}
PRICING_WEIGHTS = {"subscription": 38, "per-patient": 24, "on-request": 16, "one-off": 12, "per-procedure": 10}
# Applications: where a supplier's request to join a category stands.
APPLICATION_STATE_WEIGHTS = {"admitted": 74, "draft": 8, "submitted": 5, "under_evaluation": 5, "rejected": 5,
                             "withdrawn": 3}
ADMISSION_STATE_WEIGHTS = {"active": 94, "suspended": 4, "removed": 2}
LISTING_STATE_WEIGHTS = {"published": 93, "draft": 4, "withdrawn": 3}

PLACES = ("Northfield", "Eastbrook", "Westmoor", "Southgate", "Ashford", "Bramley", "Castleton", "Dunmore",
          "Elmstead", "Fairhaven", "Glenridge", "Harrowby", "Ivybridge", "Kingsbury", "Langley", "Marston",
          "Newbury", "Oakham", "Penrith", "Queensbury", "Redhill", "Stanmore", "Thornbury", "Upton", "Walden",
          "Yarmouth", "Alderley", "Barnwood", "Chesterton", "Denholme", "Everton", "Foxton", "Grantley", "Hadley",
          "Kelsall", "Lydford", "Millbrook", "Norwood", "Ormskirk", "Pickering", "Rothley", "Seaton", "Tadley")
TRUST_KINDS = ("Hospitals NHS Foundation Trust", "University Hospitals NHS Trust", "NHS Foundation Trust",
               "Community Healthcare NHS Trust", "Mental Health NHS Foundation Trust", "Teaching Hospitals NHS Trust")
COMPANY_ENDINGS = ("Ltd", "Health Ltd", "Medical Ltd", "Technologies Ltd", "Diagnostics Ltd", "Digital Ltd",
                   "Healthcare Ltd", "Labs Ltd", "Therapeutics Ltd", "Innovations Ltd")

SUMMARIES = (
    "A {product} for people with {condition} that {outcome}.",
    "{product_title} used by {staff} in {place}: it {outcome}.",
    "Helps {staff} manage {condition} with a {product}; {outcome}.",
    "A {product} for {specialty} teams, built around {digital}.",
    "{product_title} for {composed}, from first contact to follow-up.",
)
SENTENCES = (
    "The {product} helps teams caring for people with {condition} and {outcome}.",
    "{staff_title} review alerts from the {product} on a secure dashboard, which {outcome}.",
    "In a pilot across {n} sites, the service {outcome} for patients with {condition}.",
    "Patients use it at home; data flows to the care team through {digital} and {digital2}.",
    "It was evaluated with an NHS trust and a health innovation network, showing it {outcome}.",
    "Designed with people living with {condition}, it meets accessibility standards and {outcome}.",
    "The supplier provides training, support and an implementation team for {place}.",
    "Evidence includes a real-world evaluation of {n},000 patients and a health economic model.",
    "It supports {composed} and fits existing {specialty} pathways.",
    "Results from {test} are interpreted automatically and shared with {staff}.",
    "Used before and after {procedure}, it {outcome}.",
    "For people taking {medicine}, it tracks side effects and adherence.",
    "The {anatomy} is assessed in minutes, without a hospital visit.",
    "Clinicians in {specialty} use it alongside {test} to decide who needs {procedure}.",
    "It is deployed in {place} and {place2}, with {n} integrated care boards already using it.",
    "Safety is assured through {digital}, and the product {outcome}.",
    "A published study in {condition} found it {outcome}.",
    "Referrals for {composed2} are prioritised by risk, so the sickest patients are seen first.",
    "It connects to {product2} devices and the electronic patient record.",
    "Training takes under an hour for {staff}, with ongoing clinical support.",
    "Patients with {condition} or {condition2} can self-refer through the NHS App.",
    "The service runs seven days a week and covers {place}.",
)


def weighted(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def some(rng: random.Random, weights: dict[str, float], low: int, high: int) -> list[str]:
    """Between low and high distinct values, each drawn by weight."""
    wanted = rng.randint(low, high)
    chosen: list[str] = []
    while len(chosen) < wanted:
        value = weighted(rng, weights)
        if value not in chosen:
            chosen.append(value)
    return chosen


@dataclass(frozen=True)
class Reference:
    """What the migrations and reference data already hold."""

    category_ids: dict[str, int]  # slug -> id
    icb_ids: dict[str, int]  # ODS code -> organisation id
    authority_id: int
    next_ids: dict[str, int]  # table -> first free id


@dataclass
class Population:
    """Rows to insert, per table, plus what later steps need to find people and organisations."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    supplier_admin_user: dict[int, int] = field(default_factory=dict)  # supplier organisation id -> user id
    active_admissions: dict[int, list[int]] = field(default_factory=dict)  # category id -> supplier ids
    trusts: list[tuple[int, int, int]] = field(default_factory=list)  # (organisation, buyer user, evaluator user)
    trust_icb: dict[int, int] = field(default_factory=dict)  # trust organisation id -> its ICB's organisation id
    admitted: list[dict[str, Any]] = field(default_factory=list)  # every admission, for listing owners
    authority_admin_user: int = 0
    authority_evaluator_user: int = 0

    def add(self, table: str, row: dict[str, Any]) -> None:
        self.rows.setdefault(table, []).append(row)


class Ids:
    def __init__(self, first: dict[str, int]) -> None:
        self._next = dict(first)

    def take(self, table: str) -> int:
        value = self._next.get(table, 1)
        self._next[table] = value + 1
        return value


def people(rng: random.Random, reference: Reference, suppliers: int, trusts: int, as_of: datetime) -> Population:
    """Suppliers with their users, applications and admissions in every state; trusts with a buyer and an
    evaluator each; a fund manager per ICB; the DPS authority's admin and evaluator."""
    ids = Ids(reference.next_ids)
    population = Population()
    vocabulary_rng = random.Random(rng.random())
    start = as_of - timedelta(days=900)

    def user(email: str, name: str, at: datetime) -> int:
        user_id = ids.take("user_account")
        population.add("user_account", {"id": user_id, "email": email, "full_name": name, "password_hash": "!",
                                        "is_active": True, "email_verified_at": at, "created_at": at})
        return user_id

    def member(user_id: int, organisation_id: int, role: str, at: datetime) -> None:
        population.add("membership", {"id": ids.take("membership"), "user_id": user_id,
                                      "organisation_id": organisation_id, "role": role, "created_at": at})

    population.authority_admin_user = user("admin@authority.bench.example", "Authority admin", start)
    member(population.authority_admin_user, reference.authority_id, "authority_admin", start)
    population.authority_evaluator_user = user("evaluator@authority.bench.example", "Authority evaluator", start)
    member(population.authority_evaluator_user, reference.authority_id, "evaluator", start)
    for code, icb_id in sorted(reference.icb_ids.items()):
        member(user(f"funds@{code.lower()}.bench.example", f"Fund manager {code}", start), icb_id, "fund_manager",
               start)

    codes = [f"R{a}{b}" for a in "ABCDEFGHJKLMNPQRTVWXY" for b in "0123456789ABCDEFGHJKLMNPQRTVWXY"]
    for number, code in enumerate(rng.sample(codes, trusts)):
        organisation_id = ids.take("organisation")
        place = PLACES[number % len(PLACES)] + ("" if number < len(PLACES) else f" and {rng.choice(PLACES)}")
        # Every trust belongs to one ICB (RULES.md 5): the reference data's for a real code, else one at random.
        icb = rng.choice(sorted(reference.icb_ids))
        icb = TRUST_ICBS.get(code, icb)
        population.add("organisation", {"id": organisation_id, "kind": "buyer", "buyer_type": "trust",
                                        "name": f"{place} {rng.choice(TRUST_KINDS)}", "ods_code": code,
                                        "region_ods_code": ICB_REGIONS.get(icb), "parent_icb_ods_code": icb,
                                        "created_at": start})
        population.trust_icb[organisation_id] = reference.icb_ids[icb]
        buyer = user(f"buyer@{code.lower()}.bench.example", f"Buyer {code}", start)
        evaluator = user(f"evaluator@{code.lower()}.bench.example", f"Evaluator {code}", start)
        member(buyer, organisation_id, "buyer", start)
        member(evaluator, organisation_id, "evaluator", start)
        population.trusts.append((organisation_id, buyer, evaluator))

    vocabulary = Vocabulary.build(int(vocabulary_rng.random() * 1e9))
    slugs = [slug for slug in CATEGORY_WEIGHTS if slug in reference.category_ids]
    for number in range(suppliers):
        organisation_id = ids.take("organisation")
        joined = start + timedelta(minutes=rng.randint(0, 800 * 24 * 60))
        sme = rng.random() < 0.86
        headcount = rng.choice((3, 8, 15, 30, 60, 120, 220)) if sme else rng.choice((260, 400, 900, 3000))
        population.add("organisation", {
            "id": organisation_id, "kind": "supplier", "created_at": joined,
            "name": f"{vocabulary.brand(rng)} {rng.choice(COMPANY_ENDINGS)}",
            "companies_house_number": f"{30000000 + number:08d}",
            "registered_address": f"{rng.randint(1, 200)} {rng.choice(PLACES)} Road, {rng.choice(PLACES)}",
            "headcount": headcount,
            "turnover_pence": rng.randint(1, 400) * 10_000_000 if sme else rng.randint(500, 5000) * 10_000_000,
            "balance_sheet_pence": rng.randint(1, 300) * 10_000_000 if sme else rng.randint(400, 4000) * 10_000_000,
        })
        admin = user(f"admin@supplier{number:05d}.bench.example", f"Supplier admin {number}", joined)
        member(admin, organisation_id, "supplier_admin", joined)
        population.supplier_admin_user[organisation_id] = admin
        if rng.random() < 0.3:
            member(user(f"user@supplier{number:05d}.bench.example", f"Supplier user {number}", joined),
                   organisation_id, "supplier_user", joined)
        applied = some(rng, {slug: CATEGORY_WEIGHTS[slug] for slug in slugs}, 1, rng.choice((1, 1, 1, 2, 2, 3)))
        for slug in applied:
            _application(rng, population, ids, organisation_id, reference.category_ids[slug], admin,
                         population.authority_evaluator_user, population.authority_admin_user, joined, as_of)
    return population


def _application(rng: random.Random, population: Population, ids: Ids, organisation_id: int, category_id: int,
                 applicant: int, evaluator: int, admin: int, joined: datetime, as_of: datetime) -> None:
    state = weighted(rng, APPLICATION_STATE_WEIGHTS)
    created = joined + timedelta(days=rng.randint(0, 20))
    # Decided applications are older; open ones are recent (their legal clock is still running).
    if state in ("draft", "submitted", "under_evaluation"):
        created = as_of - timedelta(days=rng.randint(1, 12))
    submitted = created + timedelta(days=rng.randint(1, 5)) if state != "draft" else None
    decided = submitted + timedelta(days=rng.randint(3, 14)) if state in ("admitted", "rejected") and submitted \
        else None
    application_id = ids.take("application")
    population.add("application", {
        "id": application_id, "organisation_id": organisation_id, "category_id": category_id, "state": state,
        "answers": {}, "created_by_user_id": applicant, "created_at": created,
        "updated_at": decided or submitted or created, "submitted_at": submitted,
        "due_at": submitted + timedelta(days=14) if submitted else None,
        "evaluator_user_id": evaluator if state in ("under_evaluation", "admitted", "rejected") else None,
        "decided_at": decided, "decided_by_user_id": evaluator if decided else None,
        "decision_reasons": ("Meets every selection criterion." if state == "admitted" else
                             "The evidence of insurance cover was not provided." if state == "rejected" else None),
    })
    if state != "admitted" or decided is None:
        return
    membership = weighted(rng, ADMISSION_STATE_WEIGHTS)
    changed = decided if membership == "active" else decided + timedelta(days=rng.randint(30, 300))
    population.add("admission", {
        "id": ids.take("admission"), "organisation_id": organisation_id, "category_id": category_id,
        "application_id": application_id, "state": membership, "admitted_at": decided,
        "state_changed_at": min(changed, as_of),
        "state_reason": None if membership == "active" else
        ("Cyber Essentials certificate lapsed" if membership == "suspended" else "Left the market"),
    })
    if membership == "active":
        population.active_admissions.setdefault(category_id, []).append(organisation_id)
    population.admitted.append(
        {"organisation_id": organisation_id, "category_id": category_id, "state": membership, "admitted_at": decided})


def _assurance(rng: random.Random, as_of: datetime, digital: bool) -> dict[str, Any]:
    parts = ("c1_clinical_safety", "c2_data_protection", "c3_technical_security", "c4_interoperability",
             "d_usability_accessibility")
    dtac: dict[str, Any] = {"applies": "no"}
    if digital:
        complete = rng.random() < 0.7
        dtac = {"applies": "yes", "version": "2024",
                **{part: "passed" if complete else rng.choice(("passed", "in_progress", "not_started"))
                   for part in parts}}
    device_class = weighted(rng, DEVICE_CLASS_WEIGHTS)
    device: dict[str, Any] = {"device_class": device_class}
    if device_class != "not_a_device":
        device.update({"mark": rng.choices(("ukca", "ce", "ukni"), weights=(55, 40, 5))[0],
                       "mhra_reference": f"MHRA-{rng.randint(10000, 99999)}",
                       "certificate_expiry": (as_of + timedelta(days=rng.randint(-60, 1400))).date().isoformat()})
        if device["mark"] == "ce":
            device["ce_basis"] = rng.choice(("mdd", "eu_mdr"))
    cyber_level = rng.choices(("cyber_essentials_plus", "cyber_essentials", "none"), weights=(55, 35, 10))[0]
    cyber: dict[str, Any] = {"level": cyber_level}
    if cyber_level != "none":
        cyber.update({"certificate_number": f"CE-{rng.randint(100000, 999999)}",
                      "expiry": (as_of + timedelta(days=rng.randint(-30, 365))).date().isoformat()})
    guidance = [f"{rng.choice(('MTG', 'DG', 'HTE', 'MIB'))}{rng.randint(1, 90)}"] if rng.random() < 0.12 else []
    return {
        "dtac": dtac,
        "dspt": {"applies": "yes", "year": rng.choice(("2025/26", "2026/27")), "status": weighted(rng, DSPT_WEIGHTS)}
        if digital else {"applies": "no"},
        "cyber_essentials": cyber,
        "medical_device": device,
        "nice": {"esf_tier": weighted(rng, ESF_TIER_WEIGHTS), "guidance": guidance,
                 "mtfm": "yes" if rng.random() < 0.03 else "no"},
        "supply_chain": {"carbon_reduction_plan": rng.choices(("pass", "fail", "not_assessed"), weights=(70, 5, 25))[0],
                         "modern_slavery": "yes", "net_zero": rng.choice(("yes", "yes", "yes", "no"))},
    }


class _Slots(dict):  # type: ignore[type-arg]
    """Template slots drawn only when a template uses them (each sentence uses a few of the twenty)."""

    def __init__(self, draws: dict[str, Any]) -> None:
        super().__init__()
        self._draws = draws

    def __missing__(self, key: str) -> Any:
        value = self[key] = self._draws[key]()
        return value


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def listing_text(rng: random.Random, vocabulary: Vocabulary, slug: str) -> dict[str, Any]:
    """Name, summary and description of one innovation, from its category's products and the clinical pools."""
    pool = vocabulary.products.get(slug)
    product = pool.draw(rng) if pool is not None and rng.random() < 0.85 else vocabulary.any_product.draw(rng)
    condition = vocabulary.conditions.draw(rng)

    draws: dict[str, Any] = {
        "product": lambda: product, "product_title": lambda: _capitalised(product),
        "product2": lambda: vocabulary.any_product.draw(rng),
        "condition": lambda: condition if rng.random() < 0.6 else vocabulary.conditions.draw(rng),
        "condition2": lambda: vocabulary.conditions.draw(rng), "outcome": lambda: vocabulary.outcomes.draw(rng),
        "staff": lambda: vocabulary.staff.draw(rng), "staff_title": lambda: _capitalised(vocabulary.staff.draw(rng)),
        "place": lambda: vocabulary.places.draw(rng), "place2": lambda: vocabulary.places.draw(rng),
        "specialty": lambda: vocabulary.specialties.draw(rng), "digital": lambda: vocabulary.digital.draw(rng),
        "digital2": lambda: vocabulary.digital.draw(rng), "test": lambda: vocabulary.tests.draw(rng),
        "procedure": lambda: vocabulary.procedures.draw(rng), "medicine": lambda: vocabulary.medicines.draw(rng),
        "anatomy": lambda: vocabulary.anatomy.draw(rng), "composed": lambda: vocabulary.composed.draw(rng),
        "composed2": lambda: vocabulary.composed.draw(rng), "n": lambda: rng.randint(2, 40),
    }

    def fill(template: str) -> str:
        return _capitalised(template.format_map(_Slots(draws)))

    paragraphs = []
    for _ in range(rng.choice((1, 2, 2, 3))):
        paragraphs.append(" ".join(fill(rng.choice(SENTENCES)) for _ in range(rng.randint(2, 4))))
    name = f"{vocabulary.brand(rng)} {product}"
    return {
        "name": name[:120],
        "summary": fill(rng.choice(SUMMARIES))[:300],
        "description": "\n\n".join(paragraphs)[:10_000],
        "clinical_areas": list(dict.fromkeys([condition, vocabulary.specialties.draw(rng)]
                                             + ([vocabulary.composed.draw(rng)] if rng.random() < 0.4 else []))),
    }


def listings(rng: random.Random, vocabulary: Vocabulary, population: Population, reference: Reference, count: int,
             as_of: datetime, trust_names: Sequence[str]) -> Iterator[tuple[dict[str, Any], dict[str, Any] | None]]:
    """(listing row, its first published version or None) for `count` listings of admitted suppliers. A few
    suppliers list many innovations, most list one or two (Zipf over suppliers)."""
    ids = Ids(reference.next_ids)
    admitted = population.admitted
    if not admitted or count <= 0:
        return
    owners = ZipfPool.of([f"{a['organisation_id']}:{a['category_id']}" for a in admitted], rng, 0.8)
    slug_of = {category_id: slug for slug, category_id in reference.category_ids.items()}
    admitted_at = {(a["organisation_id"], a["category_id"]): (a["state"], a["admitted_at"]) for a in admitted}
    icb_pool = ZipfPool.of(sorted(reference.icb_ids), rng, 1.1)
    trust_pool = ZipfPool.of(list(trust_names), rng, 1.1) if trust_names else None
    for _ in range(count):
        organisation_id, category_id = (int(part) for part in owners.draw(rng).split(":"))
        admission_state, admitted_on = admitted_at[(organisation_id, category_id)]
        slug = slug_of[category_id]
        text = listing_text(rng, vocabulary, slug)
        digital = slug not in ("surgical-infection-prevention", "logistics") or rng.random() < 0.2
        created = admitted_on + timedelta(minutes=rng.randint(60, max(61, int((as_of - admitted_on).total_seconds()
                                                                               // 60))))
        state = weighted(rng, LISTING_STATE_WEIGHTS)
        published = created + timedelta(hours=rng.randint(1, 72)) if state != "draft" else None
        if published is not None and published > as_of:
            published = as_of
        pricing = weighted(rng, PRICING_WEIGHTS)
        icbs = sorted({icb_pool.draw(rng) for _ in range(rng.choice((0, 0, 1, 1, 2, 3, 5)))})
        trusts = sorted({trust_pool.draw(rng) for _ in range(rng.choice((0, 0, 1, 2)))}) if trust_pool else []
        listing_id = ids.take("listing")
        user_id = population.supplier_admin_user[organisation_id]
        row = {
            "id": listing_id, "organisation_id": organisation_id, "category_id": category_id, "state": state,
            **{key: text[key] for key in ("name", "summary", "description", "clinical_areas")},
            "care_settings": some(rng, CARE_SETTING_WEIGHTS, 1, 3), "icbs_using": icbs, "trusts_using": trusts,
            "pricing_model": pricing,
            "indicative_price_pence": None if pricing == "on-request" else int(rng.lognormvariate(10.5, 1.6)) * 100,
            "assurance": _assurance(rng, as_of, digital), "version": 1 if published else 0,
            "index_version": 1 if published else 0,
            "in_search": state == "published" and admission_state == "active",
            "created_by_user_id": user_id, "created_at": created, "updated_at": published or created,
            "first_published_at": published, "published_at": published,
        }
        version = None
        if published is not None:
            content = {key: row[key] for key in ("name", "summary", "description", "category_id", "care_settings",
                                                 "clinical_areas", "icbs_using", "trusts_using", "pricing_model",
                                                 "indicative_price_pence", "assurance")}
            version = {"id": ids.take("listing_version"), "listing_id": listing_id, "version": 1,
                       "content": {**content, "documents": []}, "published_at": published,
                       "published_by_user_id": user_id}
        yield row, version
