"""Money: integer pence everywhere; pounds only where a person types or reads an amount. Pure.

One set of rules for every amount typed into a form: "£1,234.56", "1234", "1,234.5" and " £ 12 " are read; more than
two decimal places, misplaced commas, exponents, words, digits other than 0-9 and negative amounts are refused with a
message that names the question. Amounts are capped so that no sum of them can overflow a 64-bit pence column.
"""

from __future__ import annotations

import re

from dps.errors import ValidationFailed
from dps.forms import label_in_sentence

MAX_POUNDS = 10_000_000_000  # £10 billion: far above any amount on the DPS, and sums of millions stay inside 64 bits
MAX_PENCE = MAX_POUNDS * 100

# Whole pounds, either plain (1250000) or with a comma between every group of three digits (1,250,000), then
# optionally a point and one or two digits of pence. re.ASCII: only the digits 0-9.
_POUNDS = re.compile(r"(?P<pounds>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.(?P<pence>[0-9]{1,2}))?", re.ASCII)
_NEGATIVE_STARTS = ("-", "(", "\N{MINUS SIGN}", "£-", "£(", "£\N{MINUS SIGN}")
_EXAMPLE = "like 1,250,000 or 1250000.50"


def parse_pounds(raw: str, *, field: str, label: str, allow_zero: bool = True) -> int:
    """An amount typed in pounds, as integer pence: "1,250,000" -> 125000000, "£1250000.5" -> 125000050.

    `label` is the question as the page shows it ("Annual turnover"); `field` is the form field the error belongs to.
    """
    text = raw.strip().replace(" ", "")
    if not text:
        raise ValidationFailed(f"Enter the {label_in_sentence(label)} in pounds", field=field)
    if text.startswith(_NEGATIVE_STARTS):
        raise ValidationFailed(f"{label} must be £0 or more", field=field)
    match = _POUNDS.fullmatch(text.removeprefix("£"))
    if match is None:
        raise ValidationFailed(f"Enter the {label_in_sentence(label)} as an amount in pounds, {_EXAMPLE}",
                               field=field)
    whole = match.group("pounds").replace(",", "").lstrip("0") or "0"
    if len(whole) > len(str(MAX_POUNDS)):  # refused before int(), so a thousand typed digits cost nothing
        raise ValidationFailed(f"{label} must be £{MAX_POUNDS:,} or less", field=field)
    pence = int(whole) * 100 + int((match.group("pence") or "0").ljust(2, "0"))
    if pence > MAX_PENCE:
        raise ValidationFailed(f"{label} must be £{MAX_POUNDS:,} or less", field=field)
    if pence == 0 and not allow_zero:
        raise ValidationFailed(f"{label} must be more than £0", field=field)
    return pence


def parse_optional_pounds(raw: str, *, field: str, label: str, allow_zero: bool = True) -> int | None:
    """As parse_pounds, for a question that may be left empty (None)."""
    if not raw.strip():
        return None
    return parse_pounds(raw, field=field, label=label, allow_zero=allow_zero)


def format_pence(pence: int | None) -> str:
    """Integer pence shown as pounds (the `pounds` filter): 123456 -> "£1,234.56"; None -> ""."""
    if pence is None:
        return ""
    sign = "-" if pence < 0 else ""
    pounds, pennies = divmod(abs(pence), 100)
    return f"{sign}£{pounds:,}.{pennies:02d}"


def pounds_for_csv(pence: int) -> str:
    """Pence as a plain number of pounds with two decimals, which a spreadsheet reads as a number: -150 -> "-1.50"."""
    sign = "-" if pence < 0 else ""
    pounds, pennies = divmod(abs(pence), 100)
    return f"{sign}{pounds}.{pennies:02d}"


def pounds_for_form(pence: int | None) -> str:
    """Pence put back into a form field so that parse_pounds reads the same amount: 125000050 -> "1,250,000.50",
    125000000 -> "1,250,000"; None -> ""."""
    if pence is None:
        return ""
    sign = "-" if pence < 0 else ""
    pounds, pennies = divmod(abs(pence), 100)
    return f"{sign}{pounds:,}" if pennies == 0 else f"{sign}{pounds:,}.{pennies:02d}"
