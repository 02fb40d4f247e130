"""RULES.md 5, pure rules: "A buyer commits only allocations of its own ICB (an ICB buyer: its own), or of a fund
marked national" (`allocation_open_to`, rule id `own_icb_or_national`), and "whether unspent money lapses at
31 March" applied to payments (`check_payment_not_lapsed`, rule id `lapse_at_year_end_payment`)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dps.funds.rules import (
    OWN_ICB_OR_NATIONAL,
    AllocationPlace,
    BuyerPlace,
    FundRules,
    Refused,
    allocation_open_to,
    check_allocation_open_to,
    check_payment_not_lapsed,
    lapse_date,
)
from dps.reference import INTEGRATED_CARE_BOARDS, TRUST_ICBS

ICB_CODES = [code for code, _name, _region in INTEGRATED_CARE_BOARDS]
LOCAL = FundRules("HTAF")
NATIONAL = FundRules("SBRI Healthcare", national=True)


def allocation(icb: str) -> AllocationPlace:
    return AllocationPlace(icb, f"NHS {icb} ICB", f"HTAF 2025/26, NHS {icb} ICB ({icb}), revenue")


GSTT = BuyerPlace("Guy's and St Thomas'", "trust", "RJ1", "QKK", "NHS South East London Integrated Care Board")
UNKNOWN_TRUST = BuyerPlace("Unrelated NHS Trust", "trust", "RZ9", None)
SEL_ICB = BuyerPlace("NHS South East London ICB", "icb", "QKK")
LONDON_REGION = BuyerPlace("NHS England London", "nhse_region", "Y56")


@pytest.mark.parametrize(("buyer", "icb", "fund", "is_open"), [
    # a trust: its own ICB's allocations, or a national fund's
    (GSTT, "QKK", LOCAL, True), (GSTT, "QMF", LOCAL, False), (GSTT, "QMF", NATIONAL, True),
    (GSTT, "QKK", NATIONAL, True),
    # an ICB: its own allocations, or a national fund's
    (SEL_ICB, "QKK", LOCAL, True), (SEL_ICB, "QMF", LOCAL, False), (SEL_ICB, "QMF", NATIONAL, True),
    # a trust whose ICB is not known: national funds only
    (UNKNOWN_TRUST, "QKK", LOCAL, False), (UNKNOWN_TRUST, "QMF", NATIONAL, True),
    # an NHS England region sits in no ICB: national funds only, even for an ICB of its region
    (LONDON_REGION, "QKK", LOCAL, False), (LONDON_REGION, "QKK", NATIONAL, True),
    # only the ICB a trust belongs to counts, never its own ODS code; a buyer of no known type draws on nothing local
    (BuyerPlace("Odd", "trust", "QKK", None), "QKK", LOCAL, False),
    (BuyerPlace("No type", None, "QKK", "QKK"), "QKK", LOCAL, False),
])
def test_money_stays_in_its_icb_every_kind_of_buyer(buyer, icb, fund, is_open):
    assert allocation_open_to(buyer, allocation(icb), fund) is is_open


def test_a_foreign_icbs_allocation_is_refused_with_what_the_buyer_may_draw_on_instead():
    with pytest.raises(Refused) as trust:
        check_allocation_open_to(GSTT, allocation("QMF"), LOCAL)
    assert trust.value.rule == OWN_ICB_OR_NATIONAL and trust.value.field == "lines"
    assert str(trust.value) == (
        "Fund rule: money stays in its ICB. Guy's and St Thomas' cannot draw on HTAF 2025/26, NHS QMF ICB (QMF), "
        "revenue: it belongs to NHS South East London Integrated Care Board (QKK) and can draw only on that ICB's "
        "allocations or on national funds. Choose from the list of allocations open to Guy's and St Thomas'")
    with pytest.raises(Refused, match="an integrated care board can draw only on its own allocations"):
        check_allocation_open_to(SEL_ICB, allocation("QMF"), LOCAL)
    with pytest.raises(Refused, match="not yet in the reference data of trusts and their ICBs, so it can draw only "
                                      "on national funds"):
        check_allocation_open_to(UNKNOWN_TRUST, allocation("QKK"), LOCAL)
    with pytest.raises(Refused, match="not an integrated care board or one of its trusts") as region:
        check_allocation_open_to(LONDON_REGION, allocation("QKK"), LOCAL, field="fund-2-allocation")
    assert region.value.field == "fund-2-allocation"
    check_allocation_open_to(GSTT, allocation("QKK"), LOCAL)
    check_allocation_open_to(UNKNOWN_TRUST, allocation("QMF"), NATIONAL)


buyers = st.one_of(
    st.builds(lambda code, icb: BuyerPlace(f"Trust {code}", "trust", code, icb),
              st.sampled_from(sorted(TRUST_ICBS) + ["RZ9"]), st.one_of(st.none(), st.sampled_from(ICB_CODES))),
    st.builds(lambda icb: BuyerPlace(f"ICB {icb}", "icb", icb), st.sampled_from(ICB_CODES)),
    st.builds(lambda code: BuyerPlace(f"Region {code}", "nhse_region", code), st.sampled_from(["Y56", "Y60"])),
)


@given(buyer=buyers, icb=st.sampled_from(ICB_CODES))
def test_a_national_funds_allocations_are_open_to_every_buyer(buyer, icb):
    assert allocation_open_to(buyer, allocation(icb), NATIONAL)


@given(buyer=buyers)
def test_outside_national_funds_a_buyer_draws_on_one_icb_at_most_its_own(buyer):
    open_icbs = {icb for icb in ICB_CODES if allocation_open_to(buyer, allocation(icb), LOCAL)}
    assert open_icbs == ({buyer.home_icb} if buyer.home_icb else set())
    if buyer.buyer_type == "icb":
        assert open_icbs == {buyer.ods_code}
    if buyer.buyer_type == "trust":
        assert open_icbs <= {buyer.parent_icb_ods_code}


@given(buyer=buyers, icb=st.sampled_from(ICB_CODES), national=st.booleans())
def test_the_check_refuses_exactly_what_the_rule_does_not_open(buyer, icb, national):
    fund = NATIONAL if national else LOCAL
    try:
        check_allocation_open_to(buyer, allocation(icb), fund)
        refused = None
    except Refused as error:
        refused = error
    assert (refused is None) is allocation_open_to(buyer, allocation(icb), fund)
    if refused is not None:
        assert refused.rule == OWN_ICB_OR_NATIONAL
        assert f"Choose from the list of allocations open to {buyer.name}" in str(refused)


def test_every_trust_in_the_reference_data_belongs_to_one_of_the_42_icbs():
    assert set(TRUST_ICBS.values()) <= set(ICB_CODES)
    assert all(code.startswith("R") and len(code) == 3 for code in TRUST_ICBS)
    assert TRUST_ICBS["RJ1"] == "QKK"  # Guy's and St Thomas': South East London
    assert "RZ9" not in TRUST_ICBS


# --- lapse at 31 March, for payments ------------------------------------------------------------------------


def test_a_payment_against_a_lapsed_allocation_is_refused_unless_the_fund_carries_money_over():
    label = "HTAF 2025/26, NHS QMF ICB (QMF), revenue"
    check_payment_not_lapsed(FundRules("HTAF"), "2025/26", date(2026, 3, 31), label)
    with pytest.raises(Refused) as refused:
        check_payment_not_lapsed(FundRules("HTAF"), "2025/26", date(2026, 4, 1), label)
    assert refused.value.rule == "lapse_at_year_end_payment"
    assert str(refused.value) == ("Fund rule: unspent money in HTAF lapses at 31 March, so HTAF 2025/26, NHS QMF ICB "
                                  "(QMF), revenue closed on 31 March 2026: a payment on 1 April 2026 cannot be made "
                                  "from it")
    check_payment_not_lapsed(FundRules("SBRI", lapses_at_year_end=False), "2025/26", date(2030, 4, 1), label)


@given(start=st.integers(2015, 2040), on=st.dates(date(2015, 1, 1), date(2045, 12, 31)), lapses=st.booleans())
def test_a_payment_is_refused_exactly_when_the_day_is_after_the_31_march_that_closes_a_lapsing_year(start, on,
                                                                                                   lapses):
    year = f"{start}/{(start + 1) % 100:02d}"
    closes = lapse_date(year)
    assert closes == date(start + 1, 3, 31)
    try:
        check_payment_not_lapsed(FundRules("Fund", lapses_at_year_end=lapses), year, on, "the allocation")
        refused = False
    except Refused:
        refused = True
    assert refused is (lapses and on > closes)
    if lapses:
        with pytest.raises(Refused):
            check_payment_not_lapsed(FundRules("Fund"), year, closes + timedelta(days=1), "the allocation")
