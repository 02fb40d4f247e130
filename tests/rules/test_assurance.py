"""The four assurance sections (RULES.md section 4), asked the same way of suppliers and of their listings."""

from __future__ import annotations

from datetime import date

import pytest

from catalogue import rules as catalogue_rules
from dps.admission import questionnaire
from dps.assurance import (
    ASSURANCE_SECTIONS,
    CE_ACCEPTED_UNTIL,
    MEDICAL_DEVICE,
    assurance_expiries,
    dspt_stale_on,
    dtac_complete,
)
from dps.questions import validate_section

DEVICE = {"device_class": "class_iia", "mark": "ce", "ce_basis": "ivdd", "mhra_reference": "MHRA-1",
          "certificate_expiry-day": "31", "certificate_expiry-month": "12", "certificate_expiry-year": "2031"}


def listing_errors(section_key: str, answers: dict[str, str]) -> dict[str, str]:
    """The listing form's errors for one section's answers, under the section's own field names."""
    form = {f"{section_key}__{key}": value for key, value in answers.items()}
    checked = catalogue_rules.check_listing_form(form, allowed_category_ids=(), known_icbs=())
    prefix = f"{section_key}__"
    return {key.removeprefix(prefix): message for key, message in checked.errors.messages.items()
            if key.startswith(prefix)}


@pytest.mark.parametrize("section", ASSURANCE_SECTIONS, ids=lambda section: section.key)
def test_a_supplier_and_a_listing_answer_the_same_questions_with_the_same_messages(section):
    form = {"applies": "yes", "year": "2025/27", "level": "cyber_essentials", "device_class": "class_i", "mark": "ce"}
    application = validate_section(questionnaire.section(section.key), form)
    assert application.errors  # something is missing in every section, so both forms must say what
    assert listing_errors(section.key, form) == application.errors.messages


def test_a_ce_marked_device_gives_its_legislation_in_the_application_too():
    result = validate_section(questionnaire.section("medical_device"), DEVICE)
    assert result.errors.messages == {}
    assert result.answers["ce_basis"] == "ivdd"
    missing = validate_section(questionnaire.section("medical_device"), {**DEVICE, "ce_basis": ""})
    assert missing.errors.message("ce_basis") == "Select the legislation the CE mark is certified under"


def test_an_answer_left_over_from_a_hidden_question_is_not_kept():
    result = validate_section(MEDICAL_DEVICE, {**DEVICE, "device_class": "not_a_device", "ce_basis": "nonsense"})
    assert result.errors.messages == {}
    assert result.answers == {"device_class": "not_a_device"}


def test_the_toolkit_year_is_a_financial_year_label():
    form = {"applies": "yes", "status": "standards_met"}
    assert validate_section(questionnaire.section("dspt"), {**form, "year": "2025/26"}).answers["year"] == "2025/26"
    for year in ("2025/27", "2025-26", "25/26", "２０２５/26"):
        refused = validate_section(questionnaire.section("dspt"), {**form, "year": year})
        assert refused.errors.message("year") == "Enter the toolkit year of your latest publication like 2025/26"


def test_a_dspt_status_is_stale_after_the_next_30_june():
    assert dspt_stale_on("2025/26") == date(2026, 6, 30)
    assert dspt_stale_on("nonsense") is None and dspt_stale_on("") is None


def test_expiries_follow_one_set_of_rules_earliest_first():
    expiries = assurance_expiries({
        "cyber_essentials": {"level": "cyber_essentials", "expiry": "2026-01-15"},
        "medical_device": {"device_class": "class_iia", "mark": "ce", "ce_basis": "mdd",
                           "certificate_expiry": "2029-12-31"},
        "dspt": {"applies": "yes", "year": "2025/26"},
    })
    assert [(e.kind, e.expires_on) for e in expiries] == [
        ("Cyber Essentials certificate", date(2026, 1, 15)),
        ("Data Security and Protection Toolkit status", date(2026, 6, 30)),
        ("CE mark accepted in Great Britain", CE_ACCEPTED_UNTIL["mdd"]),
        ("Medical device certificate", date(2029, 12, 31)),
    ]
    assert expiries[0].expiring_soon(date(2025, 12, 16)) and not expiries[0].expiring_soon(date(2025, 12, 15))
    assert expiries[0].expired(date(2026, 1, 16)) and not expiries[0].expired(date(2026, 1, 15))


def test_dspt_that_does_not_apply_never_goes_stale_but_older_answers_without_the_question_still_do():
    assert assurance_expiries({"dspt": {"applies": "no", "year": "2025/26"}}) == []
    assert [e.kind for e in assurance_expiries({"dspt": {"year": "2025/26"}})] == [
        "Data Security and Protection Toolkit status"]


def test_an_application_s_expiries_add_its_insurance_to_the_assurance_rules():
    answers = {"insurance": {"answers": {"insurance_expiry": "2027-09-30"}},
               "medical_device": {"answers": {"device_class": "class_i", "mark": "ce", "ce_basis": "eu_mdr",
                                              "certificate_expiry": "2031-01-01"}}}
    assert [(e.kind, e.expires_on) for e in questionnaire.assurance_expiries(answers)] == [
        ("Insurance", date(2027, 9, 30)),
        ("CE mark accepted in Great Britain", date(2030, 6, 30)),
        ("Medical device certificate", date(2031, 1, 1)),
    ]


def test_dtac_is_complete_only_when_it_applies_and_every_part_passed_or_does_not_apply():
    passed = {key: "passed" for key in ("c1_clinical_safety", "c2_data_protection", "c3_technical_security",
                                        "c4_interoperability", "d_usability_accessibility")}
    assert dtac_complete({"applies": "yes", **passed})
    assert dtac_complete({"applies": "yes", **passed, "c4_interoperability": "not_applicable"})
    assert not dtac_complete({"applies": "yes", **passed, "c4_interoperability": "in_progress"})
    assert not dtac_complete({"applies": "no", **passed})
    assert not dtac_complete({"applies": "yes", **{key: "not_applicable" for key in passed}})


# --- A2 / RULES.md section 4: evidence that has already expired is caught when it is entered --------------------

def test_a2_expired_evidence_names_the_question_and_the_day_it_expired():
    from dps.assurance import expired_evidence

    today = date(2026, 3, 4)
    cyber = expired_evidence("cyber_essentials", {"level": "cyber_essentials", "expiry": "2026-03-03"}, today)
    assert cyber.messages == {"expiry": "The Cyber Essentials certificate expired on 3 March 2026: enter the date of "
                                        "a current certificate"}
    device = expired_evidence("medical_device", {"device_class": "class_i", "certificate_expiry": "2025-12-31"}, today)
    assert device.messages["certificate_expiry"].startswith("The medical device certificate expired on 31 December "
                                                            "2025")
    dspt = expired_evidence("dspt", {"applies": "yes", "year": "2024/25", "status": "standards_met"}, today)
    assert dspt.messages["year"].startswith("The Data Security and Protection Toolkit publication for 2024/25 "
                                            "expired on 30 June 2025")
    ce = expired_evidence("medical_device", {"mark": "ce", "ce_basis": "mdd", "certificate_expiry": "2031-01-01"},
                          date(2028, 7, 1))
    assert "stopped being accepted in Great Britain on 30 June 2028" in ce.messages["mark"]


def test_a2_evidence_is_current_up_to_and_including_its_expiry_day():
    from dps.assurance import expired_evidence

    assert not expired_evidence("cyber_essentials", {"expiry": "2026-03-03"}, date(2026, 3, 3))
    assert not expired_evidence("dspt", {"year": "2025/26"}, date(2026, 6, 30))
    assert expired_evidence("dspt", {"year": "2025/26"}, date(2026, 7, 1))
    assert not expired_evidence("dtac", {"applies": "yes"}, date(2040, 1, 1))


def test_a2_an_unanswered_assurance_question_is_named_in_the_application_and_the_listing():
    application = validate_section(questionnaire.section("dtac"), {})
    assert application.errors.message("applies") == "Select yes if DTAC applies to your product"
    assert listing_errors("dtac", {})["applies"] == "Select yes if DTAC applies to your product"
    device = validate_section(questionnaire.section("medical_device"), {"device_class": "class_i"})
    assert device.errors.message("mhra_reference") == "Enter the product's MHRA registration reference"
    assert device.errors.message("mark") == "Select the conformity mark the product carries: UKCA, CE or UKNI"
