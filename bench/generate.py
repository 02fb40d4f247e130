"""Generate a realistic catalogue for benchmarks: N published listings from admitted suppliers, written straight
into a fresh SQLite database (migrated by Alembic), with a fixed seed so every run builds the same data.

    .venv/bin/python -m bench.generate --listings 100000 --var-dir var/bench
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from catalogue.rules import CARE_SETTINGS, PRICING_MODELS
from dps.reference import INTEGRATED_CARE_BOARDS

SEED = 20260105
PREFIXES = ("Car", "Neo", "Vita", "Medi", "Puls", "Clar", "Nova", "Aero", "Lumi", "Sano", "Cura", "Theta", "Axi",
            "Hali", "Opti", "Quanti", "Sere", "Tri", "Veri", "Zen")
SUFFIXES = ("flow", "sense", "scope", "care", "link", "path", "view", "guard", "wave", "mind", "track", "cue",
            "dose", "beat", "lens", "vue", "gen", "sight", "well", "ward")
PRODUCTS = ("wearable ECG patch", "remote monitoring platform", "virtual ward service", "AI triage assistant",
            "digital stethoscope", "home blood pressure kit", "sepsis early warning system", "diabetic foot scanner",
            "falls prevention sensor", "pulse oximetry app", "digital CBT programme", "wound imaging app",
            "antibacterial sutures", "catheter securement device", "colonoscopy cuff", "drone sample delivery",
            "stroke detection software", "retinal screening AI", "spirometry app", "medication adherence app",
            "chest X-ray triage AI", "digital pathology scanner", "3D surgical planning tool", "COPD self-management app",
            "heart failure telemonitoring", "asthma inhaler tracker", "dementia support app", "maternity monitoring app",
            "kidney home test", "atrial fibrillation screening device")
CONDITIONS = ("atrial fibrillation", "heart failure", "hypertension", "type 2 diabetes", "COPD", "asthma", "stroke",
              "sepsis", "chronic kidney disease", "depression", "anxiety", "dementia", "bowel cancer", "lung cancer",
              "diabetic retinopathy", "pressure ulcers", "surgical site infection", "falls", "frailty",
              "coronary artery disease", "obesity", "pregnancy complications", "osteoarthritis", "back pain")
BENEFITS = ("reduces avoidable admissions", "frees clinician time", "shortens length of stay",
            "improves early detection", "cuts outpatient follow-up appointments", "supports patients at home",
            "lowers infection rates", "speeds up diagnosis", "improves medicines optimisation",
            "reduces waiting lists", "gives clinicians a real-time dashboard", "integrates with the GP record")
SENTENCES = (
    "The {product} helps teams caring for people with {condition} and {benefit}.",
    "Clinicians review alerts from the {product} on a secure dashboard, which {benefit}.",
    "In a pilot across {n} sites, the service {benefit} for patients with {condition}.",
    "Patients use the {product} at home; data flows to the care team through NHS login and FHIR interfaces.",
    "It was evaluated with an NHS trust and an academic health science network, showing it {benefit}.",
    "Designed with patients living with {condition}, it meets accessibility standards and {benefit}.",
    "The supplier provides training, 24/7 support and an implementation team for integrated care boards.",
    "Evidence includes a real-world evaluation of {n},000 patients and a health economic model.",
)
DEVICE_CLASSES = ("not_a_device", "class_i", "class_iia", "class_iib", "class_iii", "ivd_self_test")
DSPT = ("standards_exceeded", "standards_met", "approaching_standards", "not_met")


def _assurance(rng: random.Random, today: datetime) -> dict:
    digital = rng.random() < 0.7
    parts = ("c1_clinical_safety", "c2_data_protection", "c3_technical_security", "c4_interoperability",
             "d_usability_accessibility")
    dtac = {"applies": "yes", "version": "2024", **{p: rng.choice(("passed", "passed", "passed", "in_progress"))
                                                   for p in parts}} if digital else {"applies": "no"}
    device_class = rng.choice(DEVICE_CLASSES)
    device = {"device_class": device_class}
    if device_class != "not_a_device":
        expiry = today + timedelta(days=rng.randint(-60, 1200))
        device.update({"mark": rng.choice(("ukca", "ce", "ukni")), "mhra_reference": f"MHRA-{rng.randint(1000, 9999)}",
                       "certificate_expiry": expiry.date().isoformat()})
        if device["mark"] == "ce":
            device["ce_basis"] = rng.choice(("mdd", "eu_mdr"))
    cyber_expiry = (today + timedelta(days=rng.randint(-30, 365))).date().isoformat()
    return {
        "dtac": dtac,
        "dspt": {"applies": "yes", "year": rng.choice(("2025/26", "2026/27")), "status": rng.choice(DSPT)}
        if digital else {"applies": "no"},
        "cyber_essentials": {"level": "cyber_essentials_plus", "certificate_number": "CE", "expiry": cyber_expiry},
        "medical_device": device,
        "nice": {"esf_tier": rng.choice(("a", "b", "c", "not_applicable")),
                 "guidance": [f"MTG{rng.randint(1, 90)}"] if rng.random() < 0.2 else [],
                 "mtfm": "yes" if rng.random() < 0.1 else "no"},
        "supply_chain": {"carbon_reduction_plan": rng.choice(("pass", "fail", "not_assessed")),
                         "modern_slavery": "yes", "net_zero": "yes"},
    }


def listing_rows(count: int, supplier_ids: list[int], category_ids: list[int], user_id: int, seed: int = SEED):
    rng = random.Random(seed)
    today = datetime(2026, 1, 5, tzinfo=UTC)
    icbs = [code for code, _, _ in INTEGRATED_CARE_BOARDS]
    settings = [value for value, _ in CARE_SETTINGS]
    for number in range(count):
        product = rng.choice(PRODUCTS)
        condition = rng.choice(CONDITIONS)
        name = f"{rng.choice(PREFIXES)}{rng.choice(SUFFIXES)} {product}"
        summary = f"A {product} for people with {condition} that {rng.choice(BENEFITS)}."
        sentences = [rng.choice(SENTENCES).format(product=product, condition=rng.choice((condition, rng.choice(CONDITIONS))),
                                                  benefit=rng.choice(BENEFITS), n=rng.randint(2, 40))
                     for _ in range(rng.randint(4, 8))]
        published = today - timedelta(minutes=count - number)
        stamp = published.strftime("%Y-%m-%d %H:%M:%S.%f")
        pricing = rng.choice(PRICING_MODELS)[0]
        yield {
            "organisation_id": rng.choice(supplier_ids), "category_id": rng.choice(category_ids), "state": "published",
            "name": name[:120], "summary": summary[:300], "description": " ".join(sentences),
            "care_settings": json.dumps(rng.sample(settings, rng.randint(1, 3))),
            "clinical_areas": json.dumps([condition, rng.choice(CONDITIONS)]),
            "icbs_using": json.dumps(rng.sample(icbs, rng.choice((0, 0, 1, 2, 3)))),
            "trusts_using": json.dumps([]), "pricing_model": pricing,
            "indicative_price_pence": None if pricing == "on-request" else rng.randint(500, 5_000_000),
            "assurance": json.dumps(_assurance(rng, today)), "version": 1, "index_version": 1, "in_search": 1,
            "created_by_user_id": user_id, "created_at": stamp, "updated_at": stamp, "first_published_at": stamp,
            "published_at": stamp,
        }


def generate(var_dir: Path, listings: int, suppliers: int) -> Path:
    from dps.migrate import upgrade_database
    from dps.settings import Settings

    var_dir.mkdir(parents=True, exist_ok=True)
    database = var_dir / "dps.db"
    for path in (database, var_dir / "dps.db-wal", var_dir / "dps.db-shm"):
        path.unlink(missing_ok=True)
    settings = Settings.from_env({"DPS_VAR_DIR": str(var_dir), "DPS_ENV": "development"})
    upgrade_database(settings)
    rng = random.Random(SEED)
    connection = sqlite3.connect(database)
    now = "2026-01-05 09:00:00.000000"
    with connection:
        cursor = connection.execute(
            "INSERT INTO user_account (email, full_name, password_hash, is_active, created_at) VALUES (?, ?, ?, 1, ?)",
            ("bench@supplier.example", "Bench", "!", now))
        user_id = cursor.lastrowid
        category_ids = [row[0] for row in connection.execute("SELECT id FROM category")]
        supplier_ids = []
        for number in range(suppliers):
            cursor = connection.execute(
                "INSERT INTO organisation (kind, name, companies_house_number, headcount, turnover_pence, "
                "balance_sheet_pence, created_at) VALUES ('supplier', ?, ?, ?, ?, ?, ?)",
                (f"{rng.choice(PREFIXES)}{rng.choice(SUFFIXES)} Health Ltd {number}", f"{20000000 + number:08d}",
                 rng.choice((8, 30, 120, 400)), rng.randint(1, 80) * 100_000_000, rng.randint(1, 60) * 100_000_000, now))
            supplier_ids.append(cursor.lastrowid)
            for category_id in category_ids:
                application = connection.execute(
                    "INSERT INTO application (organisation_id, category_id, state, answers, created_by_user_id, "
                    "created_at, updated_at) VALUES (?, ?, 'admitted', '{}', ?, ?, ?)",
                    (supplier_ids[-1], category_id, user_id, now, now)).lastrowid
                connection.execute(
                    "INSERT INTO admission (organisation_id, category_id, application_id, state, admitted_at, "
                    "state_changed_at) VALUES (?, ?, ?, 'active', ?, ?)",
                    (supplier_ids[-1], category_id, application, now, now))
        rows = listing_rows(listings, supplier_ids, category_ids, user_id)
        first = next(rows)
        columns = list(first)
        sql = f"INSERT INTO listing ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        connection.execute(sql, [first[c] for c in columns])
        connection.executemany(sql, ([row[c] for c in columns] for row in rows))
    connection.close()
    return database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listings", type=int, default=100_000)
    parser.add_argument("--suppliers", type=int, default=2_000)
    parser.add_argument("--var-dir", type=Path, default=Path("var/bench"))
    arguments = parser.parse_args()
    started = time.perf_counter()
    database = generate(arguments.var_dir, arguments.listings, arguments.suppliers)
    print(f"Generated {arguments.listings:,} listings from {arguments.suppliers:,} suppliers in {database} "
          f"({time.perf_counter() - started:.1f} s, seed {SEED}).")


if __name__ == "__main__":
    main()
