"""Identity rules for organisations: Companies House numbers, NHS ODS codes and the SME test (RULES.md 4, 5).

Pure functions: each either returns the normalised value or raises ValidationFailed naming the form field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from dps.errors import ValidationFailed

# Company number prefixes documented by Companies House (Uniform Resource Identifiers customer guide),
# plus CE, CS and SG (in use on the register) and OE (Register of Overseas Entities, 2022).
# Pre-partition Northern Ireland companies ("R" + 7 digits) have their own pattern below.
COMPANIES_HOUSE_PREFIXES: dict[str, str] = {
    "AC": "Assurance company, England and Wales",
    "CE": "Charitable incorporated organisation, England and Wales",
    "CS": "Charitable incorporated organisation, Scotland",
    "EN": "European company (Societas Europaea), Northern Ireland",
    "ES": "European company (Societas Europaea), Scotland",
    "FC": "Overseas company",
    "GE": "European Economic Interest Grouping, England and Wales",
    "GN": "European Economic Interest Grouping, Northern Ireland",
    "GS": "European Economic Interest Grouping, Scotland",
    "IC": "Investment company with variable capital, England and Wales",
    "IP": "Industrial and provident society, England and Wales",
    "LP": "Limited partnership, England and Wales",
    "NA": "Assurance company, Northern Ireland",
    "NC": "Limited liability partnership, Northern Ireland",
    "NF": "Overseas company registered in Northern Ireland before 1 October 2009",
    "NI": "Company, Northern Ireland",
    "NL": "Limited partnership, Northern Ireland",
    "NO": "Credit union or industrial and provident society, Northern Ireland",
    "NP": "Industrial and provident society or credit union, Northern Ireland",
    "NR": "Royal charter company, Northern Ireland",
    "NV": "Investment company with variable capital, Northern Ireland",
    "NZ": "Unregistered company (Companies Act 2006 s.1043), Northern Ireland",
    "OC": "Limited liability partnership, England and Wales",
    "OE": "Overseas entity",
    "RC": "Royal charter company, England and Wales",
    "SA": "Assurance company, Scotland",
    "SC": "Company, Scotland",
    "SE": "European company (Societas Europaea), England and Wales",
    "SF": "Overseas company registered in Scotland before 1 October 2009",
    "SG": "Scottish qualifying partnership",
    "SI": "Investment company with variable capital, Scotland",
    "SL": "Limited partnership, Scotland",
    "SO": "Limited liability partnership, Scotland",
    "SP": "Industrial and provident society, Scotland",
    "SR": "Royal charter company, Scotland",
    "SZ": "Unregistered company (Companies Act 2006 s.1043), Scotland",
    "ZC": "Unregistered company (Companies Act 2006 s.1043), England and Wales",
}

# re.ASCII: \d would otherwise accept digits from other scripts, which Companies House never issues.
_COMPANIES_HOUSE_NUMBER = re.compile(r"\d{8}|(?P<prefix>[A-Z]{2})\d{6}|R\d{7}", re.ASCII)
_DIGITS_ONLY = re.compile(r"\d{1,8}", re.ASCII)
_COMPANIES_HOUSE_NUMBER_LENGTH = 8


def normalise_companies_house_number(raw: str) -> str:
    """The 8-character Companies House number: spaces removed, upper case, short numbers zero-padded."""
    number = "".join(raw.split()).upper()
    if not number:
        raise ValidationFailed("Enter a Companies House number", field="companies_house_number")
    if _DIGITS_ONLY.fullmatch(number):
        # People often drop the leading zeros of England and Wales numbers ("1234567" is 01234567).
        number = number.zfill(_COMPANIES_HOUSE_NUMBER_LENGTH)
    match = _COMPANIES_HOUSE_NUMBER.fullmatch(number)
    prefix = match.group("prefix") if match else None
    if match is None or (prefix is not None and prefix not in COMPANIES_HOUSE_PREFIXES):
        raise ValidationFailed(
            "Enter a Companies House number in the correct format, like 01234567 or SC123456",
            field="companies_house_number",
        )
    return number


class BuyerType(StrEnum):
    TRUST = "trust"
    ICB = "icb"
    NHSE_REGION = "nhse_region"


@dataclass(frozen=True)
class _OdsCodeShape:
    pattern: re.Pattern[str]
    error: str


_ODS_CODE_SHAPES: dict[BuyerType, _OdsCodeShape] = {
    BuyerType.ICB: _OdsCodeShape(
        re.compile(r"Q[A-Z0-9]{2}", re.ASCII),
        "An integrated care board's ODS code is 3 characters starting with Q, like QE1",
    ),
    BuyerType.TRUST: _OdsCodeShape(
        re.compile(r"R[A-Z0-9]{2}", re.ASCII),
        "An NHS trust's ODS code is 3 characters starting with R, like RJ1",
    ),
    BuyerType.NHSE_REGION: _OdsCodeShape(
        re.compile(r"Y[0-9]{2}", re.ASCII),
        "An NHS England region's ODS code is Y followed by 2 digits, like Y56",
    ),
}


def normalise_ods_code(raw: str, buyer_type: BuyerType | str) -> str:
    """The buyer's ODS code, upper case, checked against the shape its type of organisation uses."""
    try:
        shape = _ODS_CODE_SHAPES[BuyerType(buyer_type)]
    except ValueError:
        raise ValidationFailed("Select the type of NHS organisation", field="buyer_type") from None
    code = raw.strip().upper()
    if not code:
        raise ValidationFailed("Enter an ODS code", field="ods_code")
    if not shape.pattern.fullmatch(code):
        raise ValidationFailed(shape.error, field="ods_code")
    return code


# Procurement Act 2023 s.123: fewer than 250 staff, and turnover or balance sheet total within its limit.
SME_STAFF_LIMIT = 250  # strictly fewer than this
SME_TURNOVER_LIMIT_PENCE = 44_000_000 * 100  # at most £44m
SME_BALANCE_SHEET_LIMIT_PENCE = 38_000_000 * 100  # at most £38m
# Descriptive headcount bands (RULES.md 4): (exclusive upper bound, band); anything bigger is "large".
_BANDS_BY_HEADCOUNT: tuple[tuple[int, str], ...] = (
    (10, "micro"),
    (50, "small"),
    (SME_STAFF_LIMIT, "medium"),
)
LARGE_BAND = "large"
SIZE_BANDS: tuple[str, ...] = (*(band for _, band in _BANDS_BY_HEADCOUNT), LARGE_BAND)


@dataclass(frozen=True)
class SmeAssessment:
    """The outcome of the SME test.

    `size_band` describes headcount only (micro < 10, small < 50, medium < 250, else large), so a
    20-person firm that fails both money tests is "small" yet not an SME; `is_sme` is the whole s.123 test
    and is what counts for reporting; `reason` says which thresholds were met or failed.
    """

    is_sme: bool
    size_band: str
    reason: str


def _pounds(pence: int) -> str:
    return f"£{pence // 100:,}.{pence % 100:02d}"


def _size_band(headcount: int) -> str:
    return next((band for limit, band in _BANDS_BY_HEADCOUNT if headcount < limit), LARGE_BAND)


def assess_sme(headcount: int, turnover_pence: int, balance_sheet_pence: int) -> SmeAssessment:
    """Apply the Procurement Act 2023 s.123 SME test; money is in whole pence."""
    for value, field, message in (
        (headcount, "headcount", "The number of staff must be 0 or more"),
        (turnover_pence, "turnover", "Turnover must be £0 or more"),
        (balance_sheet_pence, "balance_sheet_total", "Balance sheet total must be £0 or more"),
    ):
        if value < 0:
            raise ValidationFailed(message, field=field)

    band = _size_band(headcount)
    if headcount >= SME_STAFF_LIMIT:
        return SmeAssessment(False, band, f"Not an SME: {headcount} staff is not fewer than {SME_STAFF_LIMIT}")

    turnover_ok = turnover_pence <= SME_TURNOVER_LIMIT_PENCE
    balance_sheet_ok = balance_sheet_pence <= SME_BALANCE_SHEET_LIMIT_PENCE
    turnover_text = f"turnover {_pounds(turnover_pence)} is {'at most' if turnover_ok else 'over'} £44m"
    balance_sheet_text = (
        f"balance sheet total {_pounds(balance_sheet_pence)} is {'at most' if balance_sheet_ok else 'over'} £38m"
    )
    staff_text = f"{headcount} staff is fewer than {SME_STAFF_LIMIT}"
    if turnover_ok or balance_sheet_ok:
        return SmeAssessment(True, band, f"An SME: {staff_text}, {turnover_text} and {balance_sheet_text}")
    return SmeAssessment(False, band, f"Not an SME: {staff_text}, but {turnover_text} and {balance_sheet_text}")
