"""Pure fund rules: balances, splits, eligibility, caps, match funding, lapse, and the invariant under any
sequence of commit / pay / refund / release / adjust (hypothesis)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from dps.errors import ValidationFailed
from dps.funds.models import LedgerKind
from dps.funds.rules import (
    Balance,
    FundRules,
    LineBalance,
    Refused,
    apply,
    check_adjust,
    check_commit,
    check_fund_rules,
    check_line_pay,
    check_line_refund,
    check_not_lapsed,
    check_pay,
    check_refund,
    check_release,
    check_split,
    is_lapsed,
    max_fund_share,
    month_ends,
    parse_percent_bps,
    positions_by_month,
    rebuild,
)


def test_commit_is_refused_with_the_shortfall_in_pounds():
    with pytest.raises(Refused) as refused:
        check_commit(Balance(100_000, 30_000, 20_000), 60_000, "HTAF 2025/26, QMF, revenue")
    assert refused.value.rule == "remaining"
    assert refused.value.shortfall_pence == 10_000
    assert str(refused.value) == ("Not enough money left in HTAF 2025/26, QMF, revenue: £500.00 remaining, this "
                                  "commitment needs £600.00 from it (£100.00 short)")
    assert check_commit(Balance(100_000, 30_000, 20_000), 50_000, "x") == Balance(100_000, 80_000, 20_000)


def test_adjust_never_goes_below_committed_plus_spent():
    balance = Balance(100_000, 30_000, 20_000)
    assert check_adjust(balance, -50_000, "x").remaining == 0
    with pytest.raises(Refused) as refused:
        check_adjust(balance, -50_001, "The allocation")
    assert refused.value.rule == "allocated_at_least_committed_plus_spent"
    assert "cannot go below what is committed and spent (£500.00)" in str(refused.value)
    assert "(£0.01 short)" in str(refused.value)
    assert check_adjust(balance, 1, "x").allocated == 100_001
    with pytest.raises(ValidationFailed):
        check_adjust(balance, 0, "x")


def test_payments_refunds_and_releases_move_money_between_the_right_columns():
    balance = Balance(100_000, 60_000, 0)
    paid = check_pay(balance, 25_000, "x")
    assert paid == Balance(100_000, 35_000, 25_000)
    assert check_refund(paid, 5_000, "x") == Balance(100_000, 40_000, 20_000)
    assert check_release(paid, 35_000, "x") == Balance(100_000, 0, 25_000)
    for check, amount in ((check_pay, 35_001), (check_refund, 25_001), (check_release, 35_001)):
        with pytest.raises(Refused):
            check(paid, amount, "x")
    with pytest.raises(ValidationFailed):
        check_pay(paid, 0, "x")
    with pytest.raises(ValidationFailed):
        check_pay(paid, -5, "x")


def test_a_line_cannot_be_paid_beyond_what_it_still_owes_nor_refunded_beyond_what_was_paid():
    line = LineBalance(amount=10_000, spent=4_000, released=0)
    assert check_line_pay(line, 6_000, "x").outstanding == 0
    with pytest.raises(Refused, match="£60.00 .* still to be paid: a payment of £60.01 is £0.01 too much"):
        check_line_pay(line, 6_001, "x")
    with pytest.raises(Refused, match="a refund of £40.01 is £0.01 too much"):
        check_line_refund(line, 4_001, "x")


def test_a_split_must_add_up_to_the_award_exactly_and_says_by_how_much_it_is_off():
    check_split([(1, 60_000), (2, 40_000)], 100_000)
    with pytest.raises(Refused) as short:
        check_split([(1, 60_000), (2, 39_000)], 100_000)
    assert short.value.rule == "split_sums_to_award"
    assert "adds up to £990.00, £10.00 short of £1,000.00" in str(short.value)
    with pytest.raises(Refused, match="£5.00 more than £1,000.00"):
        check_split([(1, 60_000), (2, 40_500)], 100_000)
    with pytest.raises(Refused, match="only once"):
        check_split([(1, 50_000), (1, 50_000)], 100_000)
    with pytest.raises(Refused, match="at least one allocation"):
        check_split([], 100_000)
    with pytest.raises(ValidationFailed):
        check_split([(1, 100_000), (2, 0)], 100_000)


def _check(rules, **overrides):
    arguments = {"category_id": 3, "category_name": "AI diagnostics", "buyer_type": "trust", "buyer_name": "RJ1",
                 "drawn_pence": 100_000, "total_pence": 100_000}
    check_fund_rules(rules, **{**arguments, **overrides})


def test_fund_rules_name_the_rule_that_refuses():
    _check(FundRules("Open"))
    with pytest.raises(Refused) as buyer:
        _check(FundRules("AIDF", eligible_buyer_types=frozenset({"trust"})), buyer_type="icb", buyer_name="NHS QMF")
    assert buyer.value.rule == "eligible_buyer_types"
    assert str(buyer.value) == "Fund rule: AIDF is open to NHS trusts only, and NHS QMF is not one"
    with pytest.raises(Refused) as category:
        _check(FundRules("MedTech", eligible_category_ids=frozenset({1, 2})))
    assert category.value.rule == "eligible_categories"
    with pytest.raises(Refused) as capped:
        _check(FundRules("SBRI", per_award_cap_pence=80_000))
    assert capped.value.rule == "per_award_cap"
    assert capped.value.shortfall_pence == 20_000
    assert "caps one award at £800.00: this split draws £1,000.00 from it, £200.00 over the cap" in str(capped.value)


def test_match_funding_requires_the_share_from_other_allocations():
    rules = FundRules("Matched", match_funding_bps=2500)
    assert max_fund_share(100_000, 2500) == 75_000
    _check(rules, drawn_pence=75_000)
    with pytest.raises(Refused) as refused:
        _check(rules, drawn_pence=80_000)
    assert refused.value.rule == "match_funding"
    assert "requires 25% match funding" in str(refused.value)
    assert "£50.00 more must come from other allocations" in str(refused.value)


def test_money_lapses_after_31_march_only_when_the_fund_says_so():
    assert not is_lapsed("2025/26", True, date(2026, 3, 31))
    assert is_lapsed("2025/26", True, date(2026, 4, 1))
    assert not is_lapsed("2025/26", False, date(2027, 4, 1))
    with pytest.raises(Refused, match="closed on 31 March 2026"):
        check_not_lapsed(FundRules("HTAF"), "2025/26", date(2026, 4, 1))


def test_form_percentages_parse_to_basis_points_or_say_what_is_wrong():
    assert parse_percent_bps("12.5%", field="m") == 1250
    assert parse_percent_bps("", field="m") == 0
    with pytest.raises(ValidationFailed):
        parse_percent_bps("100", field="m")


def test_month_end_positions_cover_april_to_march_with_the_opening_balance():
    assert month_ends("2025/26")[0] == date(2025, 4, 30)
    assert month_ends("2025/26")[10] == date(2026, 2, 28)
    assert month_ends("2023/24")[10] == date(2024, 2, 29)
    entries = [(date(2025, 3, 1), "allocate", 1000), (date(2025, 5, 2), "commit", 400),
               (date(2025, 7, 31), "pay", 100), (date(2026, 4, 1), "pay", 300)]
    positions = positions_by_month(entries, "2025/26")
    assert positions[0] == (date(2025, 4, 30), Balance(1000, 0, 0))
    assert positions[1][1] == Balance(1000, 400, 0)
    assert positions[3][1] == Balance(1000, 300, 100)
    assert positions[-1][1] == Balance(1000, 300, 100)  # April's payment belongs to the next year


# --- the invariant, under any sequence ---------------------------------------------------------------------

amounts = st.integers(min_value=-500, max_value=200_000)
BUDGETS = ("capital", "revenue")


class AllocationModel(RuleBasedStateMachine):
    """Two allocations (capital and revenue) and the commitments drawn on them, moved only by the pure rules.
    A refused step must change nothing; after every step the books balance."""

    @initialize(capital=st.integers(0, 300_000), revenue=st.integers(0, 300_000))
    def start(self, capital: int, revenue: int) -> None:
        self.balances: dict[str, Balance] = {}
        self.ledger: dict[str, list[tuple[LedgerKind, int]]] = {b: [] for b in BUDGETS}
        for budget, pence in zip(BUDGETS, (capital, revenue), strict=True):
            self.balances[budget] = Balance()
            if pence:
                self._step(budget, LedgerKind.ALLOCATE, pence)
        self.lines: list[tuple[str, LineBalance]] = []

    def _step(self, budget: str, kind: LedgerKind, amount: int) -> bool:
        before = self.balances[budget]
        try:
            self.balances[budget] = apply(before, kind, amount)
        except ValidationFailed:
            assert self.balances[budget] == before
            return False
        self.ledger[budget].append((kind, amount))
        return True

    @rule(budget=st.sampled_from(BUDGETS), amount=amounts)
    def commit(self, budget: str, amount: int) -> None:
        fits = 0 < amount <= self.balances[budget].remaining
        assert self._step(budget, LedgerKind.COMMIT, amount) == fits
        if fits:
            self.lines.append((budget, LineBalance(amount)))

    @precondition(lambda self: self.lines)
    @rule(index=st.integers(0, 1000), amount=amounts)
    def pay(self, index: int, amount: int) -> None:
        budget, line = self.lines[index % len(self.lines)]
        try:
            paid = check_line_pay(line, amount, "line")
        except ValidationFailed:
            return
        assert self._step(budget, LedgerKind.PAY, amount), "a payable line is always covered by its allocation"
        self.lines[index % len(self.lines)] = (budget, paid)

    @precondition(lambda self: self.lines)
    @rule(index=st.integers(0, 1000), amount=amounts)
    def refund(self, index: int, amount: int) -> None:
        budget, line = self.lines[index % len(self.lines)]
        try:
            refunded = check_line_refund(line, amount, "line")
        except ValidationFailed:
            return
        assert self._step(budget, LedgerKind.REFUND, amount)
        self.lines[index % len(self.lines)] = (budget, refunded)

    @precondition(lambda self: self.lines)
    @rule(index=st.integers(0, 1000))
    def release(self, index: int) -> None:
        budget, line = self.lines[index % len(self.lines)]
        if line.outstanding:
            assert self._step(budget, LedgerKind.RELEASE, line.outstanding)
            self.lines[index % len(self.lines)] = (budget, LineBalance(line.amount, line.spent,
                                                                       line.released + line.outstanding))

    @rule(budget=st.sampled_from(BUDGETS), delta=st.integers(-300_000, 300_000))
    def adjust(self, budget: str, delta: int) -> None:
        balance = self.balances[budget]
        allowed = delta != 0 and balance.allocated + delta >= balance.committed + balance.spent
        assert self._step(budget, LedgerKind.ADJUST, delta) == allowed

    @invariant()
    def books_balance(self) -> None:
        for budget in BUDGETS:
            balance = self.balances[budget]
            assert balance.allocated == balance.committed + balance.spent + balance.remaining
            assert min(balance.allocated, balance.committed, balance.spent, balance.remaining) >= 0
            assert rebuild(self.ledger[budget]) == balance  # the ledger alone gives the same balance
            lines = [line for b, line in self.lines if b == budget]  # capital and revenue never mix
            assert sum(line.outstanding for line in lines) == balance.committed
            assert sum(line.spent for line in lines) == balance.spent
            assert all(line.outstanding >= 0 and line.spent >= 0 for line in lines)


AllocationModel.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestAllocationInvariant = AllocationModel.TestCase
