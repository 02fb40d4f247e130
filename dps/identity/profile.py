"""A supplier's organisation profile as typed into a form: parsed and checked field by field (pure, no I/O).

Every field is checked and every problem reported at once, so the form can show them all together.
Money is typed in pounds ("1,250,000", "£1250000.50") and kept as integer pence (dps.money).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from dps.errors import ValidationFailed
from dps.forms import FormErrors, InputInvalid
from dps.identity.rules import SmeAssessment, assess_sme, normalise_companies_house_number
from dps.money import parse_pounds, pounds_for_form

NAME_MAX_LENGTH = 200
ADDRESS_MAX_LENGTH = 1000
MAX_HEADCOUNT = 10_000_000

# The form's fields, in the order the page shows them (and the error summary lists them).
PROFILE_FIELDS: tuple[str, ...] = (
    "legal_name", "trading_name", "companies_house_number", "registered_address",
    "headcount", "turnover", "balance_sheet_total",
)
MONEY_LABELS = {"turnover": "Annual turnover", "balance_sheet_total": "Balance sheet total"}

_WHOLE_NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+|\d+", re.ASCII)
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def parse_headcount(raw: str) -> int:
    text = raw.strip().replace(" ", "")
    if not text:
        raise ValidationFailed("Enter the number of staff", field="headcount")
    if text.startswith(("-", "−")):
        raise ValidationFailed("The number of staff must be 0 or more", field="headcount")
    if _WHOLE_NUMBER.fullmatch(text) is None:
        raise ValidationFailed("Enter the number of staff as a whole number, like 45", field="headcount")
    headcount = int(text.replace(",", ""))
    if headcount > MAX_HEADCOUNT:
        raise ValidationFailed(f"The number of staff must be {MAX_HEADCOUNT:,} or fewer", field="headcount")
    return headcount


def one_line(raw: str) -> str:
    """A single-line text field: runs of whitespace (newlines too) become one space."""
    return " ".join(raw.split())


def _name(raw: str, *, field: str, label: str, required: bool) -> str | None:
    value = one_line(_CONTROL_CHARACTERS.sub("", raw))
    if not value:
        if required:
            raise ValidationFailed(f"Enter the {label}", field=field)
        return None
    if len(value) > NAME_MAX_LENGTH:
        raise ValidationFailed(f"The {label} must be {NAME_MAX_LENGTH} characters or fewer", field=field)
    return value


def _address(raw: str) -> str:
    lines = [one_line(line) for line in _CONTROL_CHARACTERS.sub("", raw).splitlines()]
    value = "\n".join(line for line in lines if line)
    if not value:
        raise ValidationFailed("Enter the registered address", field="registered_address")
    if len(value) > ADDRESS_MAX_LENGTH:
        raise ValidationFailed(
            f"The registered address must be {ADDRESS_MAX_LENGTH} characters or fewer", field="registered_address"
        )
    return value


@dataclass(frozen=True)
class SupplierProfile:
    legal_name: str
    trading_name: str | None
    companies_house_number: str
    registered_address: str
    headcount: int
    turnover_pence: int
    balance_sheet_pence: int

    @property
    def sme(self) -> SmeAssessment:
        return assess_sme(self.headcount, self.turnover_pence, self.balance_sheet_pence)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def as_form(self) -> dict[str, str]:
        """The profile as the form's field values (for editing it, or going back to change an answer)."""
        return {
            "legal_name": self.legal_name,
            "trading_name": self.trading_name or "",
            "companies_house_number": self.companies_house_number,
            "registered_address": self.registered_address,
            "headcount": str(self.headcount),
            "turnover": pounds_for_form(self.turnover_pence),
            "balance_sheet_total": pounds_for_form(self.balance_sheet_pence),
        }


def parse_supplier_profile(form: Mapping[str, str]) -> SupplierProfile:
    """The profile from the form's fields; raises InputInvalid naming every field that is wrong."""
    errors = FormErrors()
    values: dict[str, Any] = {}
    parsers: dict[str, Any] = {
        "legal_name": lambda raw: _name(raw, field="legal_name", label="legal name", required=True),
        "trading_name": lambda raw: _name(raw, field="trading_name", label="trading name", required=False),
        "companies_house_number": normalise_companies_house_number,
        "registered_address": _address,
        "headcount": parse_headcount,
        "turnover": lambda raw: parse_pounds(raw, field="turnover", label=MONEY_LABELS["turnover"]),
        "balance_sheet_total": lambda raw: parse_pounds(
            raw, field="balance_sheet_total", label=MONEY_LABELS["balance_sheet_total"]
        ),
    }
    for name in PROFILE_FIELDS:
        try:
            values[name] = parsers[name](str(form.get(name, "")))
        except ValidationFailed as problem:
            errors.add_error(problem, name)
    if errors:
        raise InputInvalid(errors)
    return SupplierProfile(
        legal_name=values["legal_name"],
        trading_name=values["trading_name"],
        companies_house_number=values["companies_house_number"],
        registered_address=values["registered_address"],
        headcount=values["headcount"],
        turnover_pence=values["turnover"],
        balance_sheet_pence=values["balance_sheet_total"],
    )
