"""Exclusion (RULES.md A8): the debarment list and the mandatory exclusion grounds, as pure rules.

A supplier on the debarment list (Procurement Act 2023 s.62 central list) or with a mandatory exclusion ground
(PCR 2015 reg 57(1)-(3); PA 2023 Schedule 6) is refused admission or removed, and from then on cannot bid, be
evaluated, be awarded or have an award confirmed in any competition, including those already running.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class MandatoryGround(StrEnum):
    """The mandatory exclusion grounds a supplier declares, one yes/no each (PCR reg 57; PA 2023 Schedule 6)."""

    CORRUPTION = "corruption"
    FRAUD = "fraud"
    TERRORISM = "terrorism"
    MONEY_LAUNDERING = "money_laundering"
    CHILD_LABOUR_TRAFFICKING = "child_labour_trafficking"
    ORGANISED_CRIME = "organised_crime"
    TAX_NON_PAYMENT = "tax_non_payment"
    NATIONAL_SECURITY = "national_security"


MANDATORY_GROUND_QUESTIONS: dict[MandatoryGround, str] = {
    MandatoryGround.CORRUPTION: "convicted of bribery or corruption",
    MandatoryGround.FRAUD: "convicted of fraud affecting public funds",
    MandatoryGround.TERRORISM: "convicted of a terrorist offence or an offence linked to terrorism",
    MandatoryGround.MONEY_LAUNDERING: "convicted of money laundering or terrorist financing",
    MandatoryGround.CHILD_LABOUR_TRAFFICKING: "convicted of an offence of child labour, slavery or human trafficking",
    MandatoryGround.ORGANISED_CRIME: "convicted of participation in a criminal organisation",
    MandatoryGround.TAX_NON_PAYMENT: "found by a court or authority to have failed to pay taxes or social security",
    MandatoryGround.NATIONAL_SECURITY: "assessed by a Minister as a threat to national security",
}

DEBARMENT_SOURCES: dict[str, str] = {
    "pa2023_s62": "Procurement Act 2023 section 62: central debarment list",
    "pcr2015_reg57": "Public Contracts Regulations 2015 regulation 57: mandatory exclusion",
    "declaration": "The supplier's own declaration of a mandatory exclusion ground",
}


@dataclass(frozen=True)
class DebarmentPeriod:
    """One entry of the debarment list, as the rules need it."""

    listed_from: date
    listed_until: date | None  # None: until removed
    removed: bool = False


def is_in_force(entry: DebarmentPeriod, today: date) -> bool:
    """An entry applies from its first day to its last day inclusive, unless the authority removed it."""
    if entry.removed or today < entry.listed_from:
        return False
    return entry.listed_until is None or today <= entry.listed_until


def is_debarred(entries: Iterable[DebarmentPeriod], today: date) -> bool:
    return any(is_in_force(entry, today) for entry in entries)


def declared_grounds(answers: dict[str, bool]) -> list[MandatoryGround]:
    """The mandatory grounds answered "yes" in a structured declaration (unknown keys are ignored)."""
    return [ground for ground in MandatoryGround if answers.get(ground.value) is True]


def check_period(listed_from: date, listed_until: date | None) -> str | None:
    """Why a debarment period is not valid, or None."""
    if listed_until is not None and listed_until < listed_from:
        return "The end date must be the same as or after the start date"
    return None


class Standing(StrEnum):
    """Whether a supplier may take part in a competition of a category today, and if not, why."""

    ELIGIBLE = "eligible"
    SUSPENDED = "suspended"
    REMOVED = "removed"
    NOT_ADMITTED = "not_admitted"
    DEBARRED = "debarred"


STANDING_REASONS: dict[Standing, str] = {
    Standing.SUSPENDED: "The supplier's admission to the category is suspended",
    Standing.REMOVED: "The supplier has been removed from the category",
    Standing.NOT_ADMITTED: "The supplier is not admitted to the category",
    Standing.DEBARRED: "The supplier is on the debarment list",
}


def standing(membership_state: str | None, debarred: bool) -> Standing:
    """A8/C1: debarment outranks everything; then the membership of the category must be active. A suspension that
    has ended (the supplier reinstated) restores the right to take part; a removal does not."""
    if debarred:
        return Standing.DEBARRED
    if membership_state is None:
        return Standing.NOT_ADMITTED
    if membership_state == "active":
        return Standing.ELIGIBLE
    if membership_state == "suspended":
        return Standing.SUSPENDED
    return Standing.REMOVED
