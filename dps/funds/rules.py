"""Pure rules for funds (RULES.md section 5): balance arithmetic, split validation, fund eligibility and lapse.

No I/O and no clock reads: every value, including today's date, is passed in. A refusal raises `Refused`, a
`ValidationFailed` that names the rule broken and, where there is one, the shortfall in pounds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date

from dps.calendar import financial_year_bounds
from dps.dates import format_london
from dps.errors import ValidationFailed
from dps.funds.models import LedgerKind
from dps.identity.rules import BuyerType
from dps.money import format_pence

BASIS_POINTS = 10_000

BUYER_TYPE_NAMES: dict[str, str] = {
    BuyerType.TRUST: "NHS trusts",
    BuyerType.ICB: "integrated care boards",
    BuyerType.NHSE_REGION: "NHS England regions",
}


class Refused(ValidationFailed):
    """A rule refused a change of money. `rule` names it; `shortfall_pence` is how far the request was off."""

    def __init__(self, message: str, *, rule: str, field: str | None = None, shortfall_pence: int | None = None):
        super().__init__(message, field)
        self.rule = rule
        self.shortfall_pence = shortfall_pence


# --- balances --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Balance:
    """One allocation's money. The invariant: allocated = committed + spent + remaining, each term >= 0."""

    allocated: int = 0
    committed: int = 0
    spent: int = 0

    @property
    def remaining(self) -> int:
        return self.allocated - self.committed - self.spent

    def holds(self) -> bool:
        return min(self.allocated, self.committed, self.spent, self.remaining) >= 0


# What each kind of ledger entry does to (allocated, committed, spent), per penny of its amount. Linear, so a
# balance is the sum of its entries' effects, whatever their order (see `rebuild`).
EFFECTS: dict[LedgerKind, tuple[int, int, int]] = {
    LedgerKind.ALLOCATE: (1, 0, 0),
    LedgerKind.ADJUST: (1, 0, 0),
    LedgerKind.COMMIT: (0, 1, 0),
    LedgerKind.PAY: (0, -1, 1),
    LedgerKind.REFUND: (0, 1, -1),
    LedgerKind.RELEASE: (0, -1, 0),
}


def effect(kind: LedgerKind | str, amount: int) -> Balance:
    da, dc, ds = EFFECTS[LedgerKind(kind)]
    return Balance(da * amount, dc * amount, ds * amount)


def rebuild(entries: Iterable[tuple[LedgerKind | str, int]]) -> Balance:
    """The balance a sequence of ledger entries adds up to (no checks: compare the result with `holds`)."""
    allocated = committed = spent = 0
    for kind, amount in entries:
        change = effect(kind, amount)
        allocated += change.allocated
        committed += change.committed
        spent += change.spent
    return Balance(allocated, committed, spent)


def _require_positive(amount: int, what: str, field: str | None) -> None:
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise ValidationFailed(f"Enter {what} greater than £0.00", field=field)


def check_commit(balance: Balance, amount: int, label: str) -> Balance:
    """Remaining -> committed; refused if it would take remaining below zero."""
    _require_positive(amount, "an amount to commit", "lines")
    if amount > balance.remaining:
        short = amount - balance.remaining
        raise Refused(
            f"Not enough money left in {label}: {format_pence(balance.remaining)} remaining, this commitment needs "
            f"{format_pence(amount)} from it ({format_pence(short)} short)",
            rule="remaining", field="lines", shortfall_pence=short)
    return replace(balance, committed=balance.committed + amount)


def check_pay(balance: Balance, amount: int, label: str) -> Balance:
    """Committed -> spent."""
    _require_positive(amount, "a payment", "amount")
    if amount > balance.committed:
        raise Refused(f"Only {format_pence(balance.committed)} is committed on {label}: a payment of "
                      f"{format_pence(amount)} is {format_pence(amount - balance.committed)} too much",
                      rule="committed", field="amount", shortfall_pence=amount - balance.committed)
    return Balance(balance.allocated, balance.committed - amount, balance.spent + amount)


def check_refund(balance: Balance, amount: int, label: str) -> Balance:
    """Spent -> committed."""
    _require_positive(amount, "a refund", "amount")
    if amount > balance.spent:
        raise Refused(f"Only {format_pence(balance.spent)} has been spent on {label}: a refund of "
                      f"{format_pence(amount)} is {format_pence(amount - balance.spent)} too much",
                      rule="spent", field="amount", shortfall_pence=amount - balance.spent)
    return Balance(balance.allocated, balance.committed + amount, balance.spent - amount)


def check_release(balance: Balance, amount: int, label: str) -> Balance:
    """Committed -> remaining."""
    _require_positive(amount, "an amount to release", "amount")
    if amount > balance.committed:
        raise Refused(f"Only {format_pence(balance.committed)} is committed on {label}: releasing "
                      f"{format_pence(amount)} is {format_pence(amount - balance.committed)} too much",
                      rule="committed", field="amount", shortfall_pence=amount - balance.committed)
    return replace(balance, committed=balance.committed - amount)


def check_adjust(balance: Balance, delta: int, label: str) -> Balance:
    """Allocated up or down; never below what is committed and spent."""
    if not isinstance(delta, int) or isinstance(delta, bool) or delta == 0:
        raise ValidationFailed("Enter the amount to adjust the allocation by, greater than £0.00", field="amount")
    floor = balance.committed + balance.spent
    if balance.allocated + delta < floor:
        short = floor - (balance.allocated + delta)
        raise Refused(
            f"{label} cannot go below what is committed and spent ({format_pence(floor)}): reducing it by "
            f"{format_pence(-delta)} would leave {format_pence(balance.allocated + delta)} "
            f"({format_pence(short)} short)",
            rule="allocated_at_least_committed_plus_spent", field="amount", shortfall_pence=short)
    return replace(balance, allocated=balance.allocated + delta)


CHECKS = {
    LedgerKind.COMMIT: check_commit,
    LedgerKind.PAY: check_pay,
    LedgerKind.REFUND: check_refund,
    LedgerKind.RELEASE: check_release,
    LedgerKind.ADJUST: check_adjust,
}


def apply(balance: Balance, kind: LedgerKind | str, amount: int, label: str = "this allocation") -> Balance:
    """The balance after one movement of money, or `Refused`. Allocate is an adjustment up from nothing."""
    kind = LedgerKind(kind)
    if kind is LedgerKind.ALLOCATE:
        _require_positive(amount, "the amount allocated", "amount")
        return replace(balance, allocated=balance.allocated + amount)
    return CHECKS[kind](balance, amount, label)


@dataclass(frozen=True)
class LineBalance:
    """One commitment line: what was committed on one allocation, how much is paid (net) and released."""

    amount: int
    spent: int = 0
    released: int = 0

    @property
    def outstanding(self) -> int:
        return self.amount - self.spent - self.released


def check_line_pay(line: LineBalance, amount: int, label: str) -> LineBalance:
    _require_positive(amount, "a payment", "amount")
    if amount > line.outstanding:
        raise Refused(f"Only {format_pence(line.outstanding)} of this commitment on {label} is still to be paid: "
                      f"a payment of {format_pence(amount)} is {format_pence(amount - line.outstanding)} too much",
                      rule="line_outstanding", field="amount", shortfall_pence=amount - line.outstanding)
    return replace(line, spent=line.spent + amount)


def check_line_refund(line: LineBalance, amount: int, label: str) -> LineBalance:
    _require_positive(amount, "a refund", "amount")
    if amount > line.spent:
        raise Refused(f"Only {format_pence(line.spent)} of this commitment on {label} has been paid: a refund of "
                      f"{format_pence(amount)} is {format_pence(amount - line.spent)} too much",
                      rule="line_spent", field="amount", shortfall_pence=amount - line.spent)
    return replace(line, spent=line.spent - amount)


# --- splits and fund rules ---------------------------------------------------------------------------------


def check_split(lines: Sequence[tuple[int, int]], total_pence: int) -> None:
    """An award split over allocations: at least one line, each allocation once, each amount positive, and the
    lines add up to the award value exactly."""
    _require_positive(total_pence, "the award value", "total")
    if not lines:
        raise Refused("Split the award over at least one allocation", rule="split", field="lines")
    seen: set[int] = set()
    for allocation_id, pence in lines:
        if allocation_id in seen:
            raise Refused("Each allocation can appear only once in a split", rule="split", field="lines")
        seen.add(allocation_id)
        _require_positive(pence, "an amount for each allocation in the split", "lines")
    split = sum(pence for _, pence in lines)
    if split != total_pence:
        difference = total_pence - split
        if difference > 0:
            message = (f"The split must add up to the award value exactly: it adds up to {format_pence(split)}, "
                       f"{format_pence(difference)} short of {format_pence(total_pence)}")
        else:
            message = (f"The split must add up to the award value exactly: it adds up to {format_pence(split)}, "
                       f"{format_pence(-difference)} more than {format_pence(total_pence)}")
        raise Refused(message, rule="split_sums_to_award", field="lines", shortfall_pence=difference)


@dataclass(frozen=True)
class FundRules:
    """A fund's settings (RULES.md 5). Empty eligibility sets mean everything is eligible."""

    name: str
    eligible_category_ids: frozenset[int] = frozenset()
    eligible_buyer_types: frozenset[str] = frozenset()
    match_funding_bps: int = 0
    per_award_cap_pence: int | None = None
    lapses_at_year_end: bool = True
    national: bool = False


def validate_rules(rules: FundRules) -> None:
    if not rules.name.strip():
        raise ValidationFailed("Enter the fund's name", field="name")
    if not 0 <= rules.match_funding_bps < BASIS_POINTS:
        raise ValidationFailed("Enter a match-funding share from 0% to 99.99%", field="match_funding")
    if rules.per_award_cap_pence is not None and rules.per_award_cap_pence <= 0:
        raise ValidationFailed("Enter a per-award cap greater than £0.00, or leave it empty", field="per_award_cap")
    unknown = set(rules.eligible_buyer_types) - set(BUYER_TYPE_NAMES)
    if unknown:
        raise ValidationFailed("Choose eligible buyer types from the list", field="eligible_buyer_types")


def max_fund_share(total_pence: int, match_funding_bps: int) -> int:
    """The most one award may draw from a fund that requires `match_funding_bps` from other sources."""
    return total_pence * (BASIS_POINTS - match_funding_bps) // BASIS_POINTS


def percent(bps: int) -> str:
    whole, fraction = divmod(bps, 100)
    return f"{whole}%" if not fraction else f"{whole}.{fraction:02d}".rstrip("0") + "%"


def check_fund_rules(rules: FundRules, *, category_id: int | None, category_name: str | None,
                     buyer_type: str | None, buyer_name: str, drawn_pence: int, total_pence: int) -> None:
    """May this award draw `drawn_pence` (of `total_pence`) from this fund? Refused with the rule's name."""
    if rules.eligible_buyer_types and buyer_type not in rules.eligible_buyer_types:
        eligible = " and ".join(sorted(BUYER_TYPE_NAMES.get(t, t) for t in rules.eligible_buyer_types))
        raise Refused(f"Fund rule: {rules.name} is open to {eligible} only, and {buyer_name} is not one",
                      rule="eligible_buyer_types", field="buyer_organisation_id")
    if rules.eligible_category_ids and category_id not in rules.eligible_category_ids:
        what = f"{category_name} is not one of them" if category_name else "choose an eligible category"
        raise Refused(f"Fund rule: {rules.name} pays for awards in its eligible categories only: {what}",
                      rule="eligible_categories", field="category_id")
    cap = rules.per_award_cap_pence
    if cap is not None and drawn_pence > cap:
        raise Refused(f"Fund rule: {rules.name} caps one award at {format_pence(cap)}: this split draws "
                      f"{format_pence(drawn_pence)} from it, {format_pence(drawn_pence - cap)} over the cap",
                      rule="per_award_cap", field="lines", shortfall_pence=drawn_pence - cap)
    if rules.match_funding_bps:
        most = max_fund_share(total_pence, rules.match_funding_bps)
        if drawn_pence > most:
            raise Refused(
                f"Fund rule: {rules.name} requires {percent(rules.match_funding_bps)} match funding from other "
                f"sources: at most {format_pence(most)} of this {format_pence(total_pence)} award may come from it; "
                f"the split draws {format_pence(drawn_pence)}, so {format_pence(drawn_pence - most)} more must come "
                "from other allocations", rule="match_funding", field="lines", shortfall_pence=drawn_pence - most)


# --- money stays in its ICB (RULES.md 5) --------------------------------------------------------------------

OWN_ICB_OR_NATIONAL = "own_icb_or_national"


@dataclass(frozen=True)
class BuyerPlace:
    """A buyer as the ICB rule sees it: its type, ODS code and, for a trust, the ICB it belongs to (with that ICB's
    name, for messages)."""

    name: str
    buyer_type: str | None
    ods_code: str | None
    parent_icb_ods_code: str | None = None
    icb_name: str | None = None

    @property
    def home_icb(self) -> str | None:
        """The ICB whose allocations this buyer may draw on: an ICB its own, a trust its parent ICB. None for any
        other buyer (an NHS England region) and for a trust whose ICB is not known: they draw on national funds
        only."""
        if self.buyer_type == BuyerType.ICB:
            return self.ods_code or None
        if self.buyer_type == BuyerType.TRUST:
            return self.parent_icb_ods_code or None
        return None


@dataclass(frozen=True)
class AllocationPlace:
    """Whose money an allocation is: its ICB's ODS code and name, and the label people know it by."""

    icb_ods_code: str
    icb_name: str
    label: str


def allocation_open_to(buyer: BuyerPlace, allocation: AllocationPlace, fund: FundRules) -> bool:
    """RULES.md 5, money stays in its ICB: a buyer commits only allocations of its own ICB (an ICB buyer: its own;
    a trust: the ICB it belongs to), or of a fund marked national."""
    return fund.national or (buyer.home_icb is not None and buyer.home_icb == allocation.icb_ods_code)


def check_allocation_open_to(buyer: BuyerPlace, allocation: AllocationPlace, fund: FundRules,
                             field: str | None = "lines") -> None:
    """`allocation_open_to`, or `Refused` saying what the buyer may draw on instead and pointing at the list of the
    allocations open to it."""
    if allocation_open_to(buyer, allocation, fund):
        return
    home = buyer.home_icb
    if home is not None and buyer.buyer_type == BuyerType.ICB:
        why = "an integrated care board can draw only on its own allocations or on national funds"
    elif home is not None:
        icb = f"{buyer.icb_name} ({home})" if buyer.icb_name else home
        why = f"it belongs to {icb} and can draw only on that ICB's allocations or on national funds"
    elif buyer.buyer_type == BuyerType.TRUST:
        why = ("it is not yet in the reference data of trusts and their ICBs, so it can draw only on national "
               "funds")
    else:
        why = "it is not an integrated care board or one of its trusts, so it can draw only on national funds"
    raise Refused(f"Fund rule: money stays in its ICB. {buyer.name} cannot draw on {allocation.label}: {why}. "
                  f"Choose from the list of allocations open to {buyer.name}", rule=OWN_ICB_OR_NATIONAL, field=field)


# --- lapse at 31 March -------------------------------------------------------------------------------------


def lapse_date(financial_year: str) -> date:
    """31 March at the end of the financial year."""
    return financial_year_bounds(financial_year)[1]


def is_lapsed(financial_year: str, lapses_at_year_end: bool, today: date) -> bool:
    """Unspent money of a lapsing fund is gone after 31 March: nothing new can be committed from it."""
    return lapses_at_year_end and today > lapse_date(financial_year)


def check_not_lapsed(rules: FundRules, financial_year: str, today: date) -> None:
    if is_lapsed(financial_year, rules.lapses_at_year_end, today):
        raise Refused(f"Fund rule: unspent money in {rules.name} lapses at 31 March: its {financial_year} "
                      f"allocations closed on {format_london(lapse_date(financial_year))}",
                      rule="lapse_at_year_end", field="lines")


def check_payment_not_lapsed(rules: FundRules, financial_year: str, on: date, label: str) -> None:
    """RULES.md 5, lapse at 31 March: a payment asked for after 31 March of the allocation's financial year is
    refused when the fund's money lapses; a fund whose rules carry money over pays on."""
    if is_lapsed(financial_year, rules.lapses_at_year_end, on):
        raise Refused(f"Fund rule: unspent money in {rules.name} lapses at 31 March, so {label} closed on "
                      f"{format_london(lapse_date(financial_year))}: a payment on {format_london(on)} "
                      "cannot be made from it", rule="lapse_at_year_end_payment", field="amount")


# --- form input --------------------------------------------------------------------------------------------

_PERCENT = re.compile(r"(\d{1,2}|100)(\.\d{1,2})?\s*%?", re.ASCII)


def parse_percent_bps(raw: str, *, field: str) -> int:
    """'12.5' or '12.5%' -> 1250 basis points; empty -> 0."""
    text = (raw or "").strip()
    if not text:
        return 0
    match = _PERCENT.fullmatch(text)
    if not match:
        raise ValidationFailed("Enter the match-funding share as a percentage, like 25 or 12.5", field=field)
    whole, _, fraction = text.rstrip("%").strip().partition(".")
    bps = int(whole) * 100 + int((fraction + "00")[:2])
    if bps >= BASIS_POINTS:
        raise ValidationFailed("Enter a match-funding share below 100%", field=field)
    return bps


# --- the financial year, month by month ---------------------------------------------------------------------


def month_ends(financial_year: str) -> list[date]:
    """The last day of each month of the financial year, April to March."""
    start, _end = financial_year_bounds(financial_year)
    ends = []
    for offset in range(12):
        year, month = start.year + (start.month - 1 + offset) // 12, (start.month - 1 + offset) % 12 + 1
        following = date(year + (month == 12), month % 12 + 1, 1)
        ends.append(date.fromordinal(following.toordinal() - 1))
    return ends


def positions_by_month(entries: Iterable[tuple[date, LedgerKind | str, int]],
                       financial_year: str) -> list[tuple[date, Balance]]:
    """The balance at the end of each month of the financial year, from ledger entries (London date, kind,
    amount). Entries before the year count towards its opening balance; entries after it are left out."""
    ends = month_ends(financial_year)
    ordered = sorted(entries, key=lambda entry: entry[0])
    positions = []
    index, running = 0, Balance()
    for end in ends:
        month: list[tuple[LedgerKind | str, int]] = []
        while index < len(ordered) and ordered[index][0] <= end:
            month.append((ordered[index][1], ordered[index][2]))
            index += 1
        change = rebuild(month)
        running = Balance(running.allocated + change.allocated, running.committed + change.committed,
                          running.spent + change.spent)
        positions.append((end, running))
    return positions
