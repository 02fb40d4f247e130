"""Money typed by people: one set of rules for every amount on every form, and pence shown back as pounds."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dps.errors import ValidationFailed
from dps.money import MAX_PENCE, format_pence, parse_optional_pounds, parse_pounds, pounds_for_csv, pounds_for_form


def pence(raw: str, **options: bool) -> int:
    return parse_pounds(raw, field="cover", label="Employer's liability cover", **options)


def refusal(raw: str, **options: bool) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as refused:
        pence(raw, **options)
    assert refused.value.field == "cover"
    return refused.value


@pytest.mark.parametrize(("raw", "expected"), [
    ("£1,234.56", 123_456), ("1234", 123_400), ("1,234.5", 123_450), (" £ 12 ", 1_200), ("1 250 000", 125_000_000),
    ("0", 0), ("0.01", 1), ("007", 700), ("£10,000,000,000", MAX_PENCE), ("10000000000.00", MAX_PENCE),
])
def test_amounts_people_type_become_exact_pence(raw, expected):
    assert pence(raw) == expected


@pytest.mark.parametrize("raw", ["12.345", "1.", ".5", "1,00", "1,2500", ",100", "1.250.000", "1e6", "nan", "inf",
                                 "1_000", "0x10", "ten", "£", "££5", "5£", "1,234.5.6"])
def test_anything_but_an_amount_in_pounds_is_refused_naming_the_question(raw):
    assert str(refusal(raw)) == ("Enter the employer's liability cover as an amount in pounds, "
                                 "like 1,250,000 or 1250000.50")


@pytest.mark.parametrize("raw", ["١٢٣", "１２３", "12\u0663", "৫"])
def test_digits_other_than_0_to_9_are_refused(raw):
    assert "as an amount in pounds" in str(refusal(raw))


@pytest.mark.parametrize("raw", ["-5", "-£5", "£-5", "(5)", "\N{MINUS SIGN}5", "£ -0.01"])
def test_negative_amounts_are_refused(raw):
    assert str(refusal(raw)) == "Employer's liability cover must be £0 or more"


@pytest.mark.parametrize("raw", ["", "   "])
def test_an_empty_answer_asks_for_the_amount(raw):
    assert str(refusal(raw)) == "Enter the employer's liability cover in pounds"


@pytest.mark.parametrize("raw", ["10,000,000,000.01", "10000000001", "9" * 1000])
def test_money_has_an_upper_bound_far_inside_64_bits(raw):
    assert str(refusal(raw)) == "Employer's liability cover must be £10,000,000,000 or less"
    assert MAX_PENCE * 1_000_000 < 2**63  # a million amounts at the bound still add up inside a BigInteger


def test_a_question_that_needs_money_refuses_zero():
    assert str(refusal("0.00", allow_zero=False)) == "Employer's liability cover must be more than £0"
    assert pence("0.01", allow_zero=False) == 1


def test_an_acronym_keeps_its_capitals_inside_the_message():
    with pytest.raises(ValidationFailed, match="^Enter the VAT in pounds$"):
        parse_pounds("", field="vat", label="VAT")


def test_an_optional_amount_may_be_left_empty():
    assert parse_optional_pounds(" ", field="cap", label="Per-award cap") is None
    assert parse_optional_pounds("£5", field="cap", label="Per-award cap") == 500
    with pytest.raises(ValidationFailed, match="Per-award cap must be more than £0"):
        parse_optional_pounds("0", field="cap", label="Per-award cap", allow_zero=False)


@given(st.integers(min_value=0, max_value=MAX_PENCE))
def test_what_the_pages_show_and_put_in_form_fields_reads_back_as_the_same_amount(amount):
    assert pence(format_pence(amount)) == amount
    assert pence(pounds_for_form(amount)) == amount


@given(st.text(max_size=40))
def test_any_text_is_either_refused_or_an_amount_within_the_bounds(raw):
    try:
        amount = pence(raw)
    except ValidationFailed:
        return
    assert 0 <= amount <= MAX_PENCE


@given(st.integers(min_value=MAX_PENCE + 1, max_value=10**20))
def test_every_amount_over_the_bound_is_refused(amount):
    with pytest.raises(ValidationFailed, match="or less"):
        pence(pounds_for_form(amount))


def test_pence_shown_as_pounds():
    assert format_pence(123_456) == "£1,234.56"
    assert format_pence(5) == "£0.05"
    assert format_pence(-150) == "-£1.50"
    assert format_pence(None) == ""
    assert pounds_for_form(125_000_000) == "1,250,000"
    assert pounds_for_form(125_000_050) == "1,250,000.50"
    assert pounds_for_form(-150) == "-1.50"
    assert pounds_for_form(None) == ""
    assert pounds_for_csv(123_456_789) == "1234567.89"  # a spreadsheet reads it as a number
    assert pounds_for_csv(-5) == "-0.05"
