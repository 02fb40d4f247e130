"""The selection questionnaire a supplier answers to join a category (RULES.md sections 1 and 4).

A2, criteria are set per category: every section is defined here once, and each category names the sections it
asks (`Category.selection_sections`): the agreement's common sections (COMMON_SECTION_KEYS) plus what the category
adds: the medical device section for devices (MHRA registration, UKCA/CE mark), DTAC and DSPT for digital tools. A
supplier answers only what its category asks; `sections_asked` turns a category's list into its sections.

Pure data: the pages render questions from here, and dps.questions.validate_section turns what was typed into
clean answers plus field errors. The four assurance sections are dps.assurance's, shared with the listing form.
Nothing here touches the database or the clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from dps.assurance import (
    CYBER_ESSENTIALS,
    DSPT,
    DTAC,
    ESF_TIERS,
    MEDICAL_DEVICE,
    AssuranceExpiry,
    expired_evidence,
)
from dps.assurance import assurance_expiries as assurance_expiries_of
from dps.errors import NotFound
from dps.questions import YES_NO, Question, Section

SECTIONS: tuple[Section, ...] = (
    Section("mandatory_exclusion", "Mandatory exclusion grounds",
            "Grounds on which a supplier must be excluded (Public Contracts Regulations 2015 reg 57; "
            "Procurement Act 2023 Schedule 6).", (
                Question("grounds_apply", "Has the organisation, or anyone with powers of representation, decision "
                         "or control in it, been convicted of any of the offences listed as mandatory exclusion "
                         "grounds (such as bribery, fraud, money laundering, terrorism or human trafficking), or "
                         "breached its obligations to pay tax or social security?", "yes_no", choices=YES_NO,
                         missing="Select yes if any mandatory exclusion ground applies to the organisation"),
                Question("details", "Give details, including dates and any self-cleaning measures taken",
                         "textarea", when=("grounds_apply", ("yes",)),
                         missing="Give details of the mandatory exclusion grounds that apply"),
            )),
    Section("discretionary_exclusion", "Discretionary exclusion grounds",
            "Grounds on which the authority may exclude a supplier, such as insolvency, grave professional "
            "misconduct or significant past contract failures.", (
                Question("grounds_apply", "Do any discretionary exclusion grounds apply to the organisation?",
                         "yes_no", choices=YES_NO,
                         missing="Select yes if any discretionary exclusion ground applies to the organisation"),
                Question("details", "Give details and the measures taken to show reliability", "textarea",
                         when=("grounds_apply", ("yes",)),
                         missing="Give details of the discretionary exclusion grounds that apply"),
            )),
    Section("economic_financial", "Economic and financial standing", "", (
        Question("latest_turnover", "Turnover in the latest financial year", "money"),
        Question("accounts_year_end", "End date of the latest audited or filed accounts", "date"),
        Question("going_concern", "Are you aware of anything that could affect the organisation's ability to "
                 "continue trading over the next 12 months?", "yes_no", choices=YES_NO,
                 missing="Select yes if you are aware of anything that could affect the organisation's ability "
                         "to continue trading"),
    )),
    Section("insurance", "Insurance", "The cover you hold now, or will hold before any contract starts.", (
        Question("employers_liability", "Employer's liability cover", "money"),
        Question("public_liability", "Public liability cover", "money"),
        Question("professional_indemnity", "Professional indemnity cover", "money"),
        Question("insurance_expiry", "Date the earliest of these policies expires", "date"),
    ), expiry=("Insurance", "insurance_expiry")),
    Section("carbon_reduction_plan", "Carbon Reduction Plan", "NHS net zero supplier roadmap requirements.", (
        Question("published", "Have you published a Carbon Reduction Plan?", "yes_no", choices=YES_NO,
                 missing="Select yes if you have published a Carbon Reduction Plan"),
        Question("plan_url", "Web address of the published plan", "url", when=("published", ("yes",))),
        Question("net_zero_commitment", "Have you committed to net zero by 2050 or earlier?", "yes_no",
                 choices=YES_NO, missing="Select yes if you have committed to net zero by 2050 or earlier"),
    )),
    Section("modern_slavery", "Modern Slavery Assessment Tool", "", (
        Question("completed", "Have you completed the Modern Slavery Assessment Tool?", "yes_no", choices=YES_NO,
                 missing="Select yes if you have completed the Modern Slavery Assessment Tool"),
        Question("completed_on", "Date you completed the assessment", "date", when=("completed", ("yes",))),
    )),
    CYBER_ESSENTIALS,
    DSPT,
    DTAC,
    MEDICAL_DEVICE,
    Section("nice_esf", "NICE Evidence Standards Framework", "", (
        Question("tier", "Evidence Standards Framework tier of your main product", "choice",
                 choices=ESF_TIERS),
    )),
)
SECTIONS_BY_KEY: Mapping[str, Section] = {section.key: section for section in SECTIONS}


def section(key: str) -> Section:
    try:
        return SECTIONS_BY_KEY[key]
    except KeyError:
        raise NotFound("There is no such section of the questionnaire") from None


# A2: what every category of an agreement asks, and what a category adds to it (the reference data combines them).
COMMON_SECTION_KEYS: tuple[str, ...] = ("mandatory_exclusion", "discretionary_exclusion", "economic_financial",
                                        "insurance", "carbon_reduction_plan", "modern_slavery", "cyber_essentials",
                                        "nice_esf")
DEVICE_SECTION_KEYS: tuple[str, ...] = (MEDICAL_DEVICE.key,)
DIGITAL_SECTION_KEYS: tuple[str, ...] = (DTAC.key, DSPT.key)
# Asked in every category whatever its list says: without it a supplier with mandatory exclusion grounds (A8) could
# be admitted.
ALWAYS_ASKED: tuple[str, ...] = ("mandatory_exclusion",)


def selection_section_keys(*additions: Sequence[str]) -> list[str]:
    """A category's list: the common sections plus its additions, in questionnaire order."""
    wanted = set(COMMON_SECTION_KEYS).union(*additions)
    unknown = wanted - set(SECTIONS_BY_KEY)
    if unknown:
        raise ValueError(f"no such questionnaire sections: {sorted(unknown)}")
    return [sec.key for sec in SECTIONS if sec.key in wanted]


def sections_asked(keys: Sequence[str] | None) -> tuple[Section, ...]:
    """A2: the sections a category with this `selection_sections` list asks, in questionnaire order. An empty list
    (a category not yet given its own) asks every section, as every category did before criteria were set per
    category; unknown keys are ignored; the mandatory exclusion grounds are always asked."""
    if not keys:
        return SECTIONS
    wanted = set(keys) | set(ALWAYS_ASKED)
    return tuple(sec for sec in SECTIONS if sec.key in wanted)


def asked_section(asked: Sequence[Section], key: str) -> Section:
    """The section `key` if the category asks it; NotFound otherwise (a supplier never answers what is not asked)."""
    for sec in asked:
        if sec.key == key:
            return sec
    raise NotFound("There is no such section of the questionnaire")


def mandatory_exclusion_applies(answers: Mapping[str, Any]) -> bool:
    """A8: a supplier declaring mandatory exclusion grounds is refused (reg 57 / PA 2023 s.57)."""
    return answers.get("mandatory_exclusion", {}).get("answers", {}).get("grounds_apply") == "yes"


def incomplete_sections(answers: Mapping[str, Any], asked: Sequence[Section] = SECTIONS) -> list[Section]:
    """The sections of those asked (by default every section) not yet answered completely."""
    return [sec for sec in asked if not answers.get(sec.key, {}).get("complete")]


def assurance_expiries(answers: Mapping[str, Any], asked: Sequence[Section] = SECTIONS) -> list[AssuranceExpiry]:
    """Every dated assurance in a set of application answers, earliest first: the insurance, and the assurance
    sections' expiries by dps.assurance's rules. Only the sections asked count: a left-over answer to a section the
    category does not ask is not evidence."""
    asked_keys = {sec.key for sec in asked}
    clean = {key: answers.get(key, {}).get("answers", {}) if key in asked_keys else {} for key in SECTIONS_BY_KEY}
    found = assurance_expiries_of(clean)
    for sec in SECTIONS:
        if sec.expiry and clean[sec.key].get(sec.expiry[1]):
            found.append(AssuranceExpiry(sec.expiry[0], date.fromisoformat(clean[sec.key][sec.expiry[1]])))
    return sorted(found, key=lambda item: (item.expires_on, item.kind))


def expired_evidence_in(answers: Mapping[str, Any], asked: Sequence[Section], today: date) -> list[str]:
    """The messages for evidence, in the sections asked, that had expired by `today`: an application is refused on
    them (a supplier cannot be admitted on expired evidence)."""
    messages: list[str] = []
    for sec in asked:
        messages += [error["text"] for error in
                     expired_evidence(sec.key, answers.get(sec.key, {}).get("answers", {}), today).summary()]
    return messages
