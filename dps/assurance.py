"""The assurance a supplier and each of its listings carry (RULES.md section 4), defined once. Pure.

Four sections: DTAC, DSPT, Cyber Essentials and medical device regulation. The application questionnaire and the
listing form both ask exactly these questions, with these allowed values and labels, and read expiries with
these rules. Clean answers are kept per section key: {"cyber_essentials": {"level": ..., "expiry": "2026-01-15"}}.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from dps.calendar import financial_year_bounds
from dps.errors import ValidationFailed
from dps.forms import FormErrors
from dps.questions import YES_NO, Question, Section

# --- allowed values and their labels ----------------------------------------------------------------------

DTAC_STATUS = (("passed", "Passed"), ("in_progress", "In progress"), ("not_started", "Not started"),
               ("not_applicable", "Not applicable"))
DSPT_STATUS = (("standards_exceeded", "Standards Exceeded"), ("standards_met", "Standards Met"),
               ("approaching_standards", "Approaching Standards"), ("not_met", "Not Met"))
CYBER_ESSENTIALS_LEVEL = (("none", "No certificate"), ("cyber_essentials", "Cyber Essentials"),
                          ("cyber_essentials_plus", "Cyber Essentials Plus"))
CERTIFIED_LEVELS = ("cyber_essentials", "cyber_essentials_plus")
DEVICE_CLASS = (("not_a_device", "Not a medical device"), ("class_i", "Class I"), ("class_iia", "Class IIa"),
                ("class_iib", "Class IIb"), ("class_iii", "Class III"), ("aimd", "Active implantable (AIMD)"),
                ("ivd_list_a", "IVD List A"), ("ivd_list_b", "IVD List B"), ("ivd_self_test", "IVD self-test"),
                ("ivd_general", "IVD general"))
IS_DEVICE = tuple(value for value, _ in DEVICE_CLASS if value != "not_a_device")
DEVICE_MARK = (("ukca", "UKCA"), ("ce", "CE"), ("ukni", "UKNI"))
CE_BASIS = (("mdd", "MDD or AIMDD"), ("eu_mdr", "EU MDR"), ("ivdd", "IVDD"), ("eu_ivdr", "EU IVDR"))
# CE marks are accepted in Great Britain until the earlier of certificate expiry and these dates.
CE_ACCEPTED_UNTIL: Mapping[str, date] = {"mdd": date(2028, 6, 30), "eu_mdr": date(2030, 6, 30),
                                         "ivdd": date(2030, 6, 30), "eu_ivdr": date(2030, 6, 30)}
# NICE Evidence Standards Framework tiers (RULES.md section 4, beside the four sections).
ESF_TIERS = (("a", "Tier A"), ("b", "Tier B"), ("c", "Tier C"), ("not_applicable", "Not applicable"))

# --- the four sections ------------------------------------------------------------------------------------

_DTAC_APPLIES = ("applies", ("yes",))
DTAC_PARTS: tuple[tuple[str, str], ...] = (
    ("c1_clinical_safety", "C1 Clinical safety (DCB0129)"),
    ("c2_data_protection", "C2 Data protection"),
    ("c3_technical_security", "C3 Technical security"),
    ("c4_interoperability", "C4 Interoperability"),
    ("d_usability_accessibility", "D Usability and accessibility"),
)
DTAC = Section("dtac", "Digital Technology Assessment Criteria (DTAC)", "", (
    Question("applies", "Does DTAC apply to the product?", "yes_no", choices=YES_NO,
             missing="Select yes if DTAC applies to your product",
             hint="It applies to digital health technologies used in health and social care."),
    Question("version", "DTAC version assessed against", "text", hint="For example, 2024", when=_DTAC_APPLIES),
    *(Question(key, label, "choice", choices=DTAC_STATUS, when=_DTAC_APPLIES,
               missing=f"Select where the product is with DTAC {label}") for key, label in DTAC_PARTS),
))

_DSPT_APPLIES = ("applies", ("yes",))
DSPT = Section("dspt", "Data Security and Protection Toolkit (DSPT)", "", (
    Question("applies", "Does the product process NHS patient data?", "yes_no", choices=YES_NO,
             missing="Select yes if the product processes NHS patient data"),
    Question("year", "Toolkit year of your latest publication", "financial_year", hint="For example, 2025/26",
             when=_DSPT_APPLIES),
    Question("status", "DSPT status", "choice", choices=DSPT_STATUS, when=_DSPT_APPLIES),
))

_CERTIFIED = ("level", CERTIFIED_LEVELS)
CYBER_ESSENTIALS = Section("cyber_essentials", "Cyber Essentials", "", (
    Question("level", "Which Cyber Essentials certificate do you hold?", "choice", choices=CYBER_ESSENTIALS_LEVEL,
             missing="Select which Cyber Essentials certificate you hold, or none"),
    Question("certificate_number", "Certificate number", "text", when=_CERTIFIED),
    Question("expiry", "Certificate expiry date", "date", when=_CERTIFIED),
))

_A_DEVICE = ("device_class", IS_DEVICE)
MEDICAL_DEVICE = Section("medical_device", "Medical device regulation", "", (
    Question("device_class", "Regulatory class of the product", "choice", choices=DEVICE_CLASS,
             missing="Select the regulatory class of the product, or not a medical device"),
    Question("mark", "Conformity mark", "choice", choices=DEVICE_MARK, when=_A_DEVICE,
             missing="Select the conformity mark the product carries: UKCA, CE or UKNI"),
    Question("mhra_reference", "MHRA registration reference", "text", when=_A_DEVICE,
             missing="Enter the product's MHRA registration reference"),
    Question("certificate_expiry", "Certificate expiry date", "date", when=_A_DEVICE),
    Question("ce_basis", "If CE marked: the legislation it is certified under", "choice", choices=CE_BASIS,
             when=("mark", ("ce",)), missing="Select the legislation the CE mark is certified under"),
))

ASSURANCE_SECTIONS: tuple[Section, ...] = (DTAC, DSPT, CYBER_ESSENTIALS, MEDICAL_DEVICE)
ASSURANCE_SECTION_KEYS = tuple(section.key for section in ASSURANCE_SECTIONS)

# --- what the answers mean --------------------------------------------------------------------------------


def dtac_complete(dtac: Mapping[str, Any]) -> bool:
    """DTAC applies and every part is passed or not applicable, at least one of them passed."""
    parts = [dtac.get(key) for key, _ in DTAC_PARTS]
    return dtac.get("applies") == "yes" and all(part in ("passed", "not_applicable") for part in parts) \
        and "passed" in parts


def dspt_stale_on(year_label: str) -> date | None:
    """A DSPT status for "2025/26" is stale after the next 30 June: 30 June 2026. None for no (or no real) year."""
    try:
        _, year_end = financial_year_bounds(year_label or "")
    except ValidationFailed:
        return None
    return date(year_end.year, 6, 30)


EXPIRY_WARNING = timedelta(days=30)  # suppliers are warned this long before assurance expires


@dataclass(frozen=True)
class AssuranceExpiry:
    kind: str
    expires_on: date

    def expired(self, today: date) -> bool:
        return self.expires_on < today

    def expiring_soon(self, today: date) -> bool:
        """Within the warning period: not yet expired, and expiring in 30 days or fewer."""
        return today <= self.expires_on <= today + EXPIRY_WARNING


def assurance_expiries(answers: Mapping[str, Mapping[str, Any]]) -> list[AssuranceExpiry]:
    """Every dated assurance in the clean answers of the four sections (keyed by section), earliest first."""
    found: list[AssuranceExpiry] = []
    cyber = answers.get(CYBER_ESSENTIALS.key, {})
    if cyber.get("expiry"):
        found.append(AssuranceExpiry("Cyber Essentials certificate", date.fromisoformat(cyber["expiry"])))
    device = answers.get(MEDICAL_DEVICE.key, {})
    if device.get("certificate_expiry"):
        certificate = date.fromisoformat(device["certificate_expiry"])
        found.append(AssuranceExpiry("Medical device certificate", certificate))
        if device.get("mark") == "ce":
            # An unknown or missing basis takes the earliest date: never shown as accepted for longer than it is.
            limit = CE_ACCEPTED_UNTIL.get(device.get("ce_basis", "mdd"), CE_ACCEPTED_UNTIL["mdd"])
            found.append(AssuranceExpiry("CE mark accepted in Great Britain", min(certificate, limit)))
    dspt = answers.get(DSPT.key, {})
    # Answers given before DSPT asked whether it applies have no "applies": their year still counts.
    stale = dspt_stale_on(dspt.get("year", "")) if dspt.get("applies") != "no" else None
    if stale:
        found.append(AssuranceExpiry("Data Security and Protection Toolkit status", stale))
    return sorted(found, key=lambda item: (item.expires_on, item.kind))


def _long_date(day: date) -> str:
    return f"{day.day} {day.strftime('%B %Y')}"


def expired_evidence(section_key: str, answers: Mapping[str, Any], today: date) -> FormErrors:
    """Evidence in one assurance section's clean answers that had already expired on `today`, as an error on the
    question that holds it, naming what expired and when. Empty for a section without dated evidence, or when all
    of it is current on `today` (the expiry day itself still counts as current).

    Callers choose what an error means: the application questionnaire refuses the answer (a supplier is not
    admitted on expired evidence); the listing form keeps the listing as a draft with a warning and refuses to
    publish it (RULES.md section 4: expired assurance stays visible)."""
    errors = FormErrors()
    if section_key == CYBER_ESSENTIALS.key and answers.get("expiry"):
        expiry = date.fromisoformat(answers["expiry"])
        if expiry < today:
            errors.add("expiry", f"The Cyber Essentials certificate expired on {_long_date(expiry)}: enter the date "
                                 "of a current certificate")
    elif section_key == MEDICAL_DEVICE.key:
        if answers.get("certificate_expiry"):
            expiry = date.fromisoformat(answers["certificate_expiry"])
            if expiry < today:
                errors.add("certificate_expiry", f"The medical device certificate expired on {_long_date(expiry)}: "
                                                 "enter the expiry date of a current certificate")
        if answers.get("mark") == "ce" and answers.get("ce_basis") in CE_ACCEPTED_UNTIL:
            limit = CE_ACCEPTED_UNTIL[answers["ce_basis"]]
            if limit < today:
                basis = dict(CE_BASIS)[answers["ce_basis"]]
                errors.add("mark", f"A CE mark certified under {basis} stopped being accepted in Great Britain on "
                                   f"{_long_date(limit)}: select the UKCA or UKNI mark the product now carries")
    elif section_key == DSPT.key and answers.get("year"):
        stale = dspt_stale_on(answers["year"])
        if stale is not None and stale < today:
            errors.add("year", f"The Data Security and Protection Toolkit publication for {answers['year']} expired "
                               f"on {_long_date(stale)}: enter the toolkit year of a current publication")
    return errors
