"""The selection questionnaire a supplier answers to join a category (RULES.md sections 1 and 4).

Pure data and validation: the pages render questions from here, and `validate_section` turns what was
typed into clean answers plus field errors. Nothing here touches the database or the clock.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

YES_NO = (("yes", "Yes"), ("no", "No"))


@dataclass(frozen=True)
class Question:
    key: str
    label: str
    kind: str  # yes_no | choice | text | textarea | money | date | url
    hint: str = ""
    choices: tuple[tuple[str, str], ...] = ()
    required: bool = True
    # Only asked (and required) when another answer in the section has one of these values.
    when: tuple[str, tuple[str, ...]] | None = None


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    intro: str
    questions: tuple[Question, ...]
    # Assurance that expires: (kind shown to people, key of the expiry-date question).
    expiry: tuple[str, str] | None = None


DTAC_STATUS = (("passed", "Passed"), ("in_progress", "In progress"), ("not_started", "Not started"),
               ("not_applicable", "Not applicable"))
DSPT_STATUS = (("standards_exceeded", "Standards Exceeded"), ("standards_met", "Standards Met"),
               ("approaching_standards", "Approaching Standards"), ("not_met", "Not Met"))
DEVICE_CLASS = (("not_a_device", "Not a medical device"), ("class_i", "Class I"), ("class_iia", "Class IIa"),
                ("class_iib", "Class IIb"), ("class_iii", "Class III"), ("aimd", "Active implantable (AIMD)"),
                ("ivd_list_a", "IVD List A"), ("ivd_list_b", "IVD List B"), ("ivd_self_test", "IVD self-test"),
                ("ivd_general", "IVD general"))
DEVICE_MARK = (("ukca", "UKCA"), ("ce", "CE"), ("ukni", "UKNI"))
IS_DEVICE = tuple(value for value, _ in DEVICE_CLASS if value != "not_a_device")

SECTIONS: tuple[Section, ...] = (
    Section("mandatory_exclusion", "Mandatory exclusion grounds",
            "Grounds on which a supplier must be excluded (Public Contracts Regulations 2015 reg 57; "
            "Procurement Act 2023 Schedule 6).", (
                Question("grounds_apply", "Has the organisation, or anyone with powers of representation, decision "
                         "or control in it, been convicted of any of the offences listed as mandatory exclusion "
                         "grounds (such as bribery, fraud, money laundering, terrorism or human trafficking), or "
                         "breached its obligations to pay tax or social security?", "yes_no", choices=YES_NO),
                Question("details", "Give details, including dates and any self-cleaning measures taken",
                         "textarea", when=("grounds_apply", ("yes",))),
            )),
    Section("discretionary_exclusion", "Discretionary exclusion grounds",
            "Grounds on which the authority may exclude a supplier, such as insolvency, grave professional "
            "misconduct or significant past contract failures.", (
                Question("grounds_apply", "Do any discretionary exclusion grounds apply to the organisation?",
                         "yes_no", choices=YES_NO),
                Question("details", "Give details and the measures taken to show reliability", "textarea",
                         when=("grounds_apply", ("yes",))),
            )),
    Section("economic_financial", "Economic and financial standing", "", (
        Question("latest_turnover", "Turnover in the latest financial year, in pounds", "money"),
        Question("accounts_year_end", "End date of the latest audited or filed accounts", "date"),
        Question("going_concern", "Are you aware of anything that could affect the organisation's ability to "
                 "continue trading over the next 12 months?", "yes_no", choices=YES_NO),
    )),
    Section("insurance", "Insurance", "The cover you hold now, or will hold before any contract starts.", (
        Question("employers_liability", "Employer's liability cover, in pounds", "money"),
        Question("public_liability", "Public liability cover, in pounds", "money"),
        Question("professional_indemnity", "Professional indemnity cover, in pounds", "money"),
        Question("insurance_expiry", "Date the earliest of these policies expires", "date"),
    ), expiry=("Insurance", "insurance_expiry")),
    Section("carbon_reduction_plan", "Carbon Reduction Plan", "NHS net zero supplier roadmap requirements.", (
        Question("published", "Have you published a Carbon Reduction Plan?", "yes_no", choices=YES_NO),
        Question("plan_url", "Web address of the published plan", "url", when=("published", ("yes",))),
        Question("net_zero_commitment", "Have you committed to net zero by 2050 or earlier?", "yes_no",
                 choices=YES_NO),
    )),
    Section("modern_slavery", "Modern Slavery Assessment Tool", "", (
        Question("completed", "Have you completed the Modern Slavery Assessment Tool?", "yes_no", choices=YES_NO),
        Question("completed_on", "Date completed", "date", when=("completed", ("yes",))),
    )),
    Section("cyber_essentials", "Cyber Essentials", "", (
        Question("level", "Which Cyber Essentials certificate do you hold?", "choice",
                 choices=(("none", "None"), ("cyber_essentials", "Cyber Essentials"),
                          ("cyber_essentials_plus", "Cyber Essentials Plus"))),
        Question("certificate_number", "Certificate number", "text",
                 when=("level", ("cyber_essentials", "cyber_essentials_plus"))),
        Question("expiry", "Certificate expiry date", "date",
                 when=("level", ("cyber_essentials", "cyber_essentials_plus"))),
    ), expiry=("Cyber Essentials certificate", "expiry")),
    Section("dspt", "Data Security and Protection Toolkit", "", (
        Question("year", "Toolkit year of your latest publication", "text", hint="For example, 2025/26"),
        Question("status", "Status", "choice", choices=DSPT_STATUS),
    )),
    Section("dtac", "Digital Technology Assessment Criteria (DTAC)", "", (
        Question("version", "DTAC version assessed against", "text", hint="For example, 2024"),
        Question("c1_clinical_safety", "C1 Clinical safety (DCB0129)", "choice", choices=DTAC_STATUS),
        Question("c2_data_protection", "C2 Data protection", "choice", choices=DTAC_STATUS),
        Question("c3_technical_security", "C3 Technical security", "choice", choices=DTAC_STATUS),
        Question("c4_interoperability", "C4 Interoperability", "choice", choices=DTAC_STATUS),
        Question("d_usability_accessibility", "D Usability and accessibility", "choice", choices=DTAC_STATUS),
    )),
    Section("medical_device", "Medical device regulation", "", (
        Question("device_class", "Regulatory class of your main product", "choice", choices=DEVICE_CLASS),
        Question("mark", "Conformity mark", "choice", choices=DEVICE_MARK, when=("device_class", IS_DEVICE)),
        Question("mhra_reference", "MHRA registration reference", "text", when=("device_class", IS_DEVICE)),
        Question("certificate_expiry", "Certificate expiry date", "date", when=("device_class", IS_DEVICE)),
    ), expiry=("Medical device certificate", "certificate_expiry")),
    Section("nice_esf", "NICE Evidence Standards Framework", "", (
        Question("tier", "Evidence Standards Framework tier of your main product", "choice",
                 choices=(("a", "Tier A"), ("b", "Tier B"), ("c", "Tier C"), ("not_applicable", "Not applicable"))),
    )),
)
SECTIONS_BY_KEY: Mapping[str, Section] = {section.key: section for section in SECTIONS}

_MONEY = re.compile(r"^£?\s*(\d{1,3}(,\d{3})+|\d+)(\.\d{1,2})?$")
_DSPT_YEAR = re.compile(r"^(\d{4})/(\d{2})$")
MAX_TEXT = 5000


def section(key: str) -> Section:
    try:
        return SECTIONS_BY_KEY[key]
    except KeyError:
        from dps.errors import NotFound

        raise NotFound("There is no such section of the questionnaire") from None


def is_asked(question: Question, values: Mapping[str, str]) -> bool:
    if question.when is None:
        return True
    other, accepted = question.when
    return values.get(other, "") in accepted


def parse_pounds_to_pence(raw: str) -> int | None:
    """'£1,250,000.50' -> 125000050; None if it is not an amount of money."""
    text = raw.strip().replace(" ", "")
    match = _MONEY.match(text)
    if not match:
        return None
    whole, _, fraction = text.lstrip("£").replace(",", "").partition(".")
    return int(whole) * 100 + int((fraction + "00")[:2])


def _date_from_parts(values: Mapping[str, str], key: str) -> date | None:
    try:
        return date(int(values.get(f"{key}-year", "")), int(values.get(f"{key}-month", "")),
                    int(values.get(f"{key}-day", "")))
    except ValueError:
        return None


@dataclass
class SectionResult:
    values: dict[str, str]  # what was typed, always kept
    answers: dict[str, Any] = field(default_factory=dict)  # clean values (pence, ISO dates) of asked questions
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return not self.errors


def raw_values(sec: Section, form: Mapping[str, str]) -> dict[str, str]:
    keys: list[str] = []
    for question in sec.questions:
        keys += [f"{question.key}-day", f"{question.key}-month", f"{question.key}-year"] if question.kind == "date" \
            else [question.key]
    return {key: form.get(key, "").strip()[:MAX_TEXT] for key in keys}


def validate_section(sec: Section, form: Mapping[str, str]) -> SectionResult:
    values = raw_values(sec, form)
    result = SectionResult(values=values)
    for question in sec.questions:
        if not is_asked(question, values):
            continue
        label = question.label.rstrip("?")
        if question.kind == "date":
            given = any(values[f"{question.key}-{part}"] for part in ("day", "month", "year"))
            parsed = _date_from_parts(values, question.key)
            if not given:
                result.errors[question.key] = f"Enter the {label[0].lower() + label[1:]}"
            elif parsed is None:
                result.errors[question.key] = f"{label} must be a real date, like 31 3 2027"
            else:
                result.answers[question.key] = parsed.isoformat()
            continue
        value = values[question.key]
        if not value:
            result.errors[question.key] = ("Select an answer: " if question.choices else "Enter an answer: ") + label
            continue
        if question.choices and value not in {v for v, _ in question.choices}:
            result.errors[question.key] = f"Select one of the options for: {label}"
        elif question.kind == "money":
            pence = parse_pounds_to_pence(value)
            if pence is None:
                result.errors[question.key] = f"{label} must be an amount in pounds, like 5,000,000"
            else:
                result.answers[question.key] = pence
        elif question.kind == "url" and not re.match(r"^https?://[^\s/]+\.[^\s]+$", value):
            result.errors[question.key] = "Enter a web address starting with https://"
        elif sec.key == "dspt" and question.key == "year" and not _valid_dspt_year(value):
            result.errors[question.key] = "Enter the toolkit year like 2025/26"
        else:
            result.answers[question.key] = value
    return result


def _valid_dspt_year(value: str) -> bool:
    match = _DSPT_YEAR.match(value)
    return bool(match) and (int(match.group(1)) + 1) % 100 == int(match.group(2))


def mandatory_exclusion_applies(answers: Mapping[str, Any]) -> bool:
    """A8: a supplier declaring mandatory exclusion grounds is refused (reg 57 / PA 2023 s.57)."""
    return answers.get("mandatory_exclusion", {}).get("answers", {}).get("grounds_apply") == "yes"


def incomplete_sections(answers: Mapping[str, Any]) -> list[Section]:
    return [sec for sec in SECTIONS if not answers.get(sec.key, {}).get("complete")]


@dataclass(frozen=True)
class AssuranceExpiry:
    kind: str
    expires_on: date


def dspt_stale_on(year_label: str) -> date | None:
    """A DSPT status for "2025/26" is stale after the next 30 June: 30 June 2026."""
    match = _DSPT_YEAR.match(year_label or "")
    return date(int(match.group(1)) + 1, 6, 30) if match else None


def assurance_expiries(answers: Mapping[str, Any]) -> list[AssuranceExpiry]:
    """Every dated assurance in a set of application answers, earliest first."""
    found: list[AssuranceExpiry] = []
    for sec in SECTIONS:
        clean = answers.get(sec.key, {}).get("answers", {})
        if sec.expiry and clean.get(sec.expiry[1]):
            found.append(AssuranceExpiry(sec.expiry[0], date.fromisoformat(clean[sec.expiry[1]])))
    stale = dspt_stale_on(answers.get("dspt", {}).get("answers", {}).get("year", ""))
    if stale:
        found.append(AssuranceExpiry("Data Security and Protection Toolkit status", stale))
    return sorted(found, key=lambda item: item.expires_on)
