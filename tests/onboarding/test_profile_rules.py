"""Reading the organisation form: money typed in pounds becomes exact pence; nonsense is refused with a reason."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dps.errors import ValidationFailed
from dps.forms import InputInvalid
from dps.identity.profile import parse_headcount, parse_supplier_profile
from dps.money import MAX_PENCE, format_pence, parse_pounds, pounds_for_form


def pounds(raw: str) -> int:
    return parse_pounds(raw, field="turnover", label="Annual turnover")


@pytest.mark.parametrize(("raw", "pence"), [
    ("1,250,000", 125_000_000),
    ("1250000", 125_000_000),
    ("1250000.50", 125_000_050),
    ("1250000.5", 125_000_050),
    ("£1,250,000.05", 125_000_005),
    (" £ 12 ", 1_200),
    ("0", 0),
    ("0.01", 1),
    ("999", 99_900),
    ("1,000", 100_000),
])
def test_amounts_in_pounds_become_exact_pence(raw, pence):
    assert pounds(raw) == pence


@pytest.mark.parametrize(("raw", "message"), [
    ("-5", "Annual turnover must be £0 or more"),
    ("-£5", "Annual turnover must be £0 or more"),
    ("£-5", "Annual turnover must be £0 or more"),
    ("(5)", "Annual turnover must be £0 or more"),
    ("", "Enter the annual turnover in pounds"),
    ("1,25,000", "like 1,250,000 or 1250000.50"),
    ("1,2500", "like 1,250,000 or 1250000.50"),
    (",100", "like 1,250,000 or 1250000.50"),
    ("1.234", "like 1,250,000 or 1250000.50"),
    ("1.", "like 1,250,000 or 1250000.50"),
    (".5", "like 1,250,000 or 1250000.50"),
    ("1e6", "like 1,250,000 or 1250000.50"),
    ("nan", "like 1,250,000 or 1250000.50"),
    ("one million", "like 1,250,000 or 1250000.50"),
    ("1.250.000", "like 1,250,000 or 1250000.50"),
    ("١٢٣", "like 1,250,000 or 1250000.50"),  # Arabic-Indic digits: not what a UK form means
    ("10000000001", "Annual turnover must be £10,000,000,000 or less"),
])
def test_nonsense_and_negative_amounts_are_refused_with_a_clear_message(raw, message):
    with pytest.raises(ValidationFailed) as problem:
        pounds(raw)
    assert message in str(problem.value)
    assert problem.value.field == "turnover"


@given(st.integers(min_value=0, max_value=MAX_PENCE))
def test_an_amount_shown_back_in_the_form_reads_as_the_same_amount(pence):
    assert pounds(pounds_for_form(pence)) == pence
    assert pounds(format_pence(pence)) == pence  # what the pages show can be typed back too


@pytest.mark.parametrize(("raw", "expected"), [("42", 42), ("1,200", 1200), (" 0 ", 0)])
def test_headcount(raw, expected):
    assert parse_headcount(raw) == expected


@pytest.mark.parametrize("raw", ["-1", "4.5", "forty", "", "1e3"])
def test_bad_headcounts_are_refused(raw):
    with pytest.raises(ValidationFailed) as problem:
        parse_headcount(raw)
    assert problem.value.field == "headcount"


def test_every_wrong_field_is_reported_at_once_in_form_order():
    with pytest.raises(InputInvalid) as problem:
        parse_supplier_profile({"legal_name": " ", "companies_house_number": "ZZ123456", "registered_address": "",
                                "headcount": "-3", "turnover": "lots", "balance_sheet_total": "-1"})
    assert list(problem.value.errors) == ["legal_name", "companies_house_number", "registered_address", "headcount",
                                          "turnover", "balance_sheet_total"]
    assert problem.value.errors.message("balance_sheet_total") == "Balance sheet total must be £0 or more"


def test_names_are_kept_on_one_line_and_the_address_keeps_its_lines():
    profile = parse_supplier_profile({
        "legal_name": "Acme\r\nHealth   Ltd", "trading_name": "", "companies_house_number": "1234567",
        "registered_address": " 1 High Street \r\n\r\n Leeds\x00 ", "headcount": "3", "turnover": "1",
        "balance_sheet_total": "1",
    })
    assert profile.legal_name == "Acme Health Ltd"
    assert profile.trading_name is None
    assert profile.companies_house_number == "01234567"
    assert profile.registered_address == "1 High Street\nLeeds"
