"""Companies House numbers, ODS codes and the Procurement Act 2023 s.123 SME test (RULES.md 4, 5)."""

from __future__ import annotations

import dataclasses
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dps.errors import ValidationFailed
from dps.identity.rules import (
    COMPANIES_HOUSE_PREFIXES,
    SIZE_BANDS,
    BuyerType,
    SmeAssessment,
    assess_sme,
    normalise_companies_house_number,
    normalise_ods_code,
)

PROPERTY_SETTINGS = settings(max_examples=80, deadline=None)
FORMAT_ERROR = "Enter a Companies House number in the correct format, like 01234567 or SC123456"
COMPANIES_HOUSE_SHAPE = re.compile(r"[0-9]{8}|[A-Z]{2}[0-9]{6}|R[0-9]{7}")
POUND = 100  # pence
MILLION_POUNDS = 1_000_000 * POUND


def refused(call, *args) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as caught:
        call(*args)
    return caught.value


# --- Companies House numbers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("01234567", "01234567"),
        ("1234567", "01234567"),  # leading zero dropped
        ("3977902", "03977902"),
        ("1", "00000001"),
        ("12 34 56 78", "12345678"),
        ("  sc123456 ", "SC123456"),
        ("sc 123 456", "SC123456"),
        ("oc301234", "OC301234"),
        ("NI012345", "NI012345"),
        ("lp012345", "LP012345"),
        ("FC012345", "FC012345"),
        ("OE001234", "OE001234"),
        ("R0000123", "R0000123"),  # Northern Ireland, before partition
        ("\t00445790\n", "00445790"),
    ],
)
def test_valid_companies_house_numbers_are_normalised(raw: str, normalised: str) -> None:
    assert normalise_companies_house_number(raw) == normalised


@pytest.mark.parametrize(
    "raw",
    [
        "123456789",  # too long
        "SC12345",  # prefix with too few digits
        "SC1234567",  # prefix with too many digits
        "XX123456",  # not a Companies House prefix
        "QQ123456",
        "S1234567",  # a single letter other than R
        "R123456",  # R with too few digits
        "12345A78",
        "SC-123456",
        "١٢٣٤٥٦٧٨",  # Arabic-Indic digits: not issued by Companies House
        "１２３４５６７８",  # full-width digits
        "sc12345٦",
    ],
)
def test_malformed_companies_house_numbers_are_refused(raw: str) -> None:
    error = refused(normalise_companies_house_number, raw)
    assert str(error) == FORMAT_ERROR
    assert error.field == "companies_house_number"


@pytest.mark.parametrize("raw", ["", "   ", "\t\n"])
def test_empty_companies_house_number_asks_for_one(raw: str) -> None:
    error = refused(normalise_companies_house_number, raw)
    assert str(error) == "Enter a Companies House number"
    assert error.field == "companies_house_number"


@pytest.mark.parametrize("prefix", sorted(COMPANIES_HOUSE_PREFIXES))
def test_every_documented_prefix_is_accepted(prefix: str) -> None:
    assert normalise_companies_house_number(f"{prefix.lower()}000123") == f"{prefix}000123"


def test_the_prefix_list_holds_the_common_real_prefixes() -> None:
    assert {"SC", "NI", "OC", "SO", "NC", "LP", "SL", "NL", "FC", "SF", "NF", "CE", "CS", "IP", "RC"} <= set(
        COMPANIES_HOUSE_PREFIXES
    )
    assert all(re.fullmatch(r"[A-Z]{2}", prefix) for prefix in COMPANIES_HOUSE_PREFIXES)


@PROPERTY_SETTINGS
@given(st.text(alphabet="0123456789", min_size=8, max_size=8))
def test_every_eight_digit_string_is_accepted_unchanged(digits: str) -> None:
    assert normalise_companies_house_number(digits) == digits


@PROPERTY_SETTINGS
@given(st.text(alphabet="0123456789", min_size=1, max_size=7))
def test_short_numbers_are_left_padded_with_zeros(digits: str) -> None:
    assert normalise_companies_house_number(digits) == digits.rjust(8, "0")


valid_numbers = st.one_of(
    st.text(alphabet="0123456789", min_size=1, max_size=8),
    st.builds(
        lambda prefix, digits: prefix + digits,
        st.sampled_from(sorted(COMPANIES_HOUSE_PREFIXES)),
        st.text(alphabet="0123456789", min_size=6, max_size=6),
    ),
    st.text(alphabet="0123456789", min_size=7, max_size=7).map(lambda digits: "R" + digits),
)


@PROPERTY_SETTINGS
@given(valid_numbers, st.booleans())
def test_normalising_is_idempotent(number: str, lower: bool) -> None:
    once = normalise_companies_house_number(number.lower() if lower else number)
    assert normalise_companies_house_number(once) == once
    assert COMPANIES_HOUSE_SHAPE.fullmatch(once)


@PROPERTY_SETTINGS
@given(st.text(max_size=12))
def test_any_text_is_either_a_well_formed_number_or_a_validation_error(raw: str) -> None:
    try:
        number = normalise_companies_house_number(raw)
    except ValidationFailed as error:
        assert error.field == "companies_house_number"
    else:
        assert COMPANIES_HOUSE_SHAPE.fullmatch(number)


# --- ODS codes -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "buyer_type", "normalised"),
    [
        ("qe1", BuyerType.ICB, "QE1"),
        (" QOP ", BuyerType.ICB, "QOP"),
        ("rj1", BuyerType.TRUST, "RJ1"),
        ("RRK", BuyerType.TRUST, "RRK"),
        ("y56", BuyerType.NHSE_REGION, "Y56"),
        ("Y63", "nhse_region", "Y63"),  # the plain string a form or database row holds
    ],
)
def test_valid_ods_codes_are_normalised(raw: str, buyer_type: BuyerType, normalised: str) -> None:
    assert normalise_ods_code(raw, buyer_type) == normalised


@pytest.mark.parametrize(
    ("raw", "buyer_type", "message"),
    [
        ("RJ1", BuyerType.ICB, "An integrated care board's ODS code is 3 characters starting with Q, like QE1"),
        ("QE12", BuyerType.ICB, "An integrated care board's ODS code is 3 characters starting with Q, like QE1"),
        ("Q-1", BuyerType.ICB, "An integrated care board's ODS code is 3 characters starting with Q, like QE1"),
        ("QE1", BuyerType.TRUST, "An NHS trust's ODS code is 3 characters starting with R, like RJ1"),
        ("RJ", BuyerType.TRUST, "An NHS trust's ODS code is 3 characters starting with R, like RJ1"),
        ("RJ1AA", BuyerType.TRUST, "An NHS trust's ODS code is 3 characters starting with R, like RJ1"),
        ("Y5A", BuyerType.NHSE_REGION, "An NHS England region's ODS code is Y followed by 2 digits, like Y56"),
        ("Y560", BuyerType.NHSE_REGION, "An NHS England region's ODS code is Y followed by 2 digits, like Y56"),
        ("QE1", BuyerType.NHSE_REGION, "An NHS England region's ODS code is Y followed by 2 digits, like Y56"),
        ("", BuyerType.ICB, "Enter an ODS code"),
        ("  ", BuyerType.TRUST, "Enter an ODS code"),
    ],
)
def test_ods_codes_of_the_wrong_shape_are_refused(raw: str, buyer_type: BuyerType, message: str) -> None:
    error = refused(normalise_ods_code, raw, buyer_type)
    assert str(error) == message
    assert error.field == "ods_code"


def test_unknown_buyer_type_is_refused() -> None:
    error = refused(normalise_ods_code, "QE1", "gp_practice")
    assert error.field == "buyer_type"


def test_buyer_type_values() -> None:
    assert {t.value for t in BuyerType} == {"trust", "icb", "nhse_region"}


# --- SME test (Procurement Act 2023 s.123) ---------------------------------------------------------

TURNOVER_LIMIT = 44 * MILLION_POUNDS
BALANCE_SHEET_LIMIT = 38 * MILLION_POUNDS


def test_money_limits_are_in_pence() -> None:
    assert TURNOVER_LIMIT == 4_400_000_000
    assert BALANCE_SHEET_LIMIT == 3_800_000_000


@pytest.mark.parametrize(
    ("headcount", "turnover", "balance_sheet", "is_sme", "why"),
    [
        (249, TURNOVER_LIMIT, BALANCE_SHEET_LIMIT, True, "249 staff and both money limits met exactly"),
        (250, 0, 0, False, "250 staff is not fewer than 250"),
        (250, TURNOVER_LIMIT, BALANCE_SHEET_LIMIT, False, "250 staff"),
        (249, TURNOVER_LIMIT + 1, BALANCE_SHEET_LIMIT, True, "turnover 1p over, balance sheet exactly at the limit"),
        (249, TURNOVER_LIMIT, BALANCE_SHEET_LIMIT + 1, True, "turnover exactly at the limit"),
        (249, TURNOVER_LIMIT + 1, BALANCE_SHEET_LIMIT + 1, False, "both money limits exceeded by 1p"),
        (5, 0, 500 * MILLION_POUNDS, True, "tiny turnover, huge balance sheet"),
        (5, 500 * MILLION_POUNDS, 0, True, "huge turnover, tiny balance sheet"),
        (5, 45 * MILLION_POUNDS, 39 * MILLION_POUNDS, False, "few staff but both money limits exceeded"),
        (0, 0, 0, True, "a company with no employees"),
        (10_000, 0, 0, False, "many staff"),
    ],
)
def test_sme_boundaries(headcount: int, turnover: int, balance_sheet: int, is_sme: bool, why: str) -> None:
    assert assess_sme(headcount, turnover, balance_sheet).is_sme is is_sme, why


@pytest.mark.parametrize(
    ("headcount", "band"),
    [(0, "micro"), (9, "micro"), (10, "small"), (49, "small"), (50, "medium"), (249, "medium"), (250, "large")],
)
def test_size_band_describes_headcount(headcount: int, band: str) -> None:
    assert assess_sme(headcount, 0, 0).size_band == band


def test_size_band_stays_by_headcount_when_the_money_tests_fail() -> None:
    assessment = assess_sme(20, 45 * MILLION_POUNDS, 39 * MILLION_POUNDS)
    assert assessment == SmeAssessment(
        is_sme=False,
        size_band="small",
        reason=(
            "Not an SME: 20 staff is fewer than 250, but turnover £45,000,000.00 is over £44m "
            "and balance sheet total £39,000,000.00 is over £38m"
        ),
    )


def test_reason_names_the_thresholds() -> None:
    assert assess_sme(250, 0, 0).reason == "Not an SME: 250 staff is not fewer than 250"
    assert assess_sme(42, 1_234_567_89, 45 * MILLION_POUNDS).reason == (
        "An SME: 42 staff is fewer than 250, turnover £1,234,567.89 is at most £44m "
        "and balance sheet total £45,000,000.00 is over £38m"
    )


def test_assessment_is_immutable() -> None:
    assessment = assess_sme(3, 0, 0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        assessment.is_sme = False  # type: ignore[misc]


@pytest.mark.parametrize(
    ("args", "field"),
    [((-1, 0, 0), "headcount"), ((1, -1, 0), "turnover"), ((1, 0, -1), "balance_sheet_total")],
)
def test_negative_inputs_are_refused(args: tuple[int, int, int], field: str) -> None:
    assert refused(assess_sme, *args).field == field


staff = st.integers(min_value=0, max_value=1_000)
money = st.one_of(
    st.integers(min_value=0, max_value=200 * MILLION_POUNDS),
    st.sampled_from([TURNOVER_LIMIT - 1, TURNOVER_LIMIT, TURNOVER_LIMIT + 1, BALANCE_SHEET_LIMIT - 1,
                     BALANCE_SHEET_LIMIT, BALANCE_SHEET_LIMIT + 1]),
)


@PROPERTY_SETTINGS
@given(staff, money, money, st.integers(min_value=0, max_value=100), money, money)
def test_growing_never_turns_a_business_into_an_sme(
    headcount: int, turnover: int, balance_sheet: int, more_staff: int, more_turnover: int, more_balance: int
) -> None:
    smaller = assess_sme(headcount, turnover, balance_sheet)
    bigger = assess_sme(headcount + more_staff, turnover + more_turnover, balance_sheet + more_balance)
    assert not (bigger.is_sme and not smaller.is_sme)
    assert SIZE_BANDS.index(bigger.size_band) >= SIZE_BANDS.index(smaller.size_band)


@PROPERTY_SETTINGS
@given(staff, money, money)
def test_sme_test_matches_section_123(headcount: int, turnover: int, balance_sheet: int) -> None:
    assessment = assess_sme(headcount, turnover, balance_sheet)
    fewer_than_250_staff = headcount < 250
    within_a_money_limit = turnover <= TURNOVER_LIMIT or balance_sheet <= BALANCE_SHEET_LIMIT
    assert assessment.is_sme is (fewer_than_250_staff and within_a_money_limit)
    assert assessment.size_band in SIZE_BANDS
    assert assessment.reason.startswith("An SME" if assessment.is_sme else "Not an SME")
